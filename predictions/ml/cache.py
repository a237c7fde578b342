"""A per-process, bounded LRU of loaded models, keyed by file path and modification time.

A retrained model written to the same path has a new mtime, so it is loaded afresh; the stale entry
ages out. Loading errors are not cached: a file fixed on disk loads on the next call.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from .errors import ModelLoadError
from .persistence import load_model


class ModelCache:
    def __init__(self, max_models: int = 128):
        if max_models < 1:
            raise ValueError("max_models must be >= 1")
        self.max_models = max_models
        self._entries: OrderedDict[tuple[str, int, int], object] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, path):
        """The model at `path`, loaded once per (path, mtime); raises ModelLoadError like load_model."""
        key = self._key(path)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
        model = load_model(path)
        with self._lock:
            self.misses += 1
            self._entries[key] = model
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_models:
                self._entries.popitem(last=False)
        return model

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def info(self) -> dict:
        with self._lock:
            return {
                "size": len(self._entries),
                "max_models": self.max_models,
                "hits": self.hits,
                "misses": self.misses,
            }

    @staticmethod
    def _key(path) -> tuple[str, int, int]:
        try:
            stat = os.stat(path)
        except OSError as error:
            raise ModelLoadError(path, "model file is missing") from error
        return os.fspath(path), stat.st_mtime_ns, stat.st_size


default_cache = ModelCache()


def load_cached(path):
    """The process-wide cache's model for `path`."""
    return default_cache.get(path)
