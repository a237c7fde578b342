"""Version tokens of shared data, kept in the shared cache.

A reader puts a topic's token into its cache keys, or compares it with the token of what it holds in memory;
a writer calls `changed(topic)`, which puts in a new token now (this transaction's later reads) and again
after commit (what another process cached between now and the commit still saw the old rows). Random tokens,
not counters: a token evicted from the cache cannot come back as an older one whose entries are still there.
Without a token (the cache is down) callers read fresh every time: slower, never stale.
"""

import uuid
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")

_KEY = "versions:{}"


def token(topic: str) -> str | None:
    key = _KEY.format(topic)
    current = cache.get(key)
    if current is None:
        cache.add(key, uuid.uuid4().hex, timeout=None)
        current = cache.get(key)
    return current


def changed(topic: str) -> None:
    _renew(topic)
    transaction.on_commit(lambda: _renew(topic))


def _renew(topic: str) -> None:
    cache.set(_KEY.format(topic), uuid.uuid4().hex, timeout=None)


def cached(topic: str, key: str, compute: Callable[[], T], *, seconds: int) -> T:
    """`compute()`'s value, kept in the cache until the topic changes (or for `seconds`)."""
    current = token(topic)
    if current is None:
        return compute()
    versioned = f"{topic}:{current}:{key}"
    value = cache.get(versioned)
    if value is None:
        value = compute()
        cache.set(versioned, value, seconds)
    return value
