"""The 30-second cache of list responses, dropped by any write to the catalogue.

The key carries a version token kept in the cache itself, so a write in any process (web, worker)
invalidates every cached list at once. A random token, not a counter: if the token is evicted, the next
one cannot collide with an older one whose entries are still cached.
"""

import hashlib
import uuid

from django.core.cache import cache

LIST_CACHE_SECONDS = 30
_VERSION_KEY = "machines:list-version"


def _version() -> str:
    token = cache.get(_VERSION_KEY)
    if token is None:
        cache.add(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        token = cache.get(_VERSION_KEY)
    return token


def list_cache_key(kind: str, url: str) -> str:
    return f"machines:list:{kind}:{_version()}:{hashlib.sha256(url.encode()).hexdigest()}"


def list_cache_invalidate() -> None:
    cache.set(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
