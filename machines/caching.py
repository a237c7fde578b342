"""The 30-second cache of list responses, dropped by any write to the catalogue (its version token, in
pdm_site.versions, changes in every process at once)."""

import hashlib

from pdm_site import versions

LIST_CACHE_SECONDS = 30
CATALOGUE = "catalogue"


def list_cached(kind: str, url: str, compute):
    key = f"list:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"
    return versions.cached(CATALOGUE, key, compute, seconds=LIST_CACHE_SECONDS)


def list_cache_invalidate() -> None:
    versions.changed(CATALOGUE)
