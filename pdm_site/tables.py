"""Small, hot, rarely changed tables (the active model versions, the alert rules) kept per process.

Every process reads the table once and keeps it until a writer calls `changed()`, which puts a new token in
the shared cache: readers pay one cache read instead of a query. Without a token (the cache is down) the
table is read every time: slower, never stale.
"""

import threading
import uuid
from collections.abc import Callable
from typing import Generic, TypeVar

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")


class ProcessTable(Generic[T]):
    def __init__(self, name: str, load: Callable[[], T]):
        self.key = f"tables:{name}:token"
        self.load = load
        self._token: str | None = None
        self._table: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        token = self._current_token()
        with self._lock:
            if token is None or self._token != token:
                self._table, self._token = self.load(), token
            return self._table

    def changed(self) -> None:
        """Now (this transaction's later reads) and again after commit (a table another process loaded
        between now and the commit still saw the old rows)."""
        cache.set(self.key, uuid.uuid4().hex, timeout=None)
        transaction.on_commit(lambda: cache.set(self.key, uuid.uuid4().hex, timeout=None))

    def _current_token(self) -> str | None:
        token = cache.get(self.key)
        if token is None:
            cache.add(self.key, uuid.uuid4().hex, timeout=None)
            token = cache.get(self.key)
        return token
