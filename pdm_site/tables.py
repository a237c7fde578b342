"""Small, hot, rarely changed tables (the active model versions, the alert rules) kept per process.

Every process reads the table once and keeps it until a writer calls `changed()`, which changes the table's
version token (pdm_site.versions): readers pay one cache read instead of a query. Without a token (the cache
is down) the table is read every time: slower, never stale.
"""

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from pdm_site import versions

T = TypeVar("T")


class ProcessTable(Generic[T]):
    def __init__(self, name: str, load: Callable[[], T]):
        self.topic = f"table:{name}"
        self.load = load
        self._token: str | None = None
        self._table: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        token = versions.token(self.topic)
        with self._lock:
            if token is None or self._token != token:
                self._table, self._token = self.load(), token
            return self._table

    def changed(self) -> None:
        versions.changed(self.topic)
