"""A thread-safe LRU map, shared by the query-vector and the answer caches.

The eviction is ``cachetools.LRUCache``'s; this wrapper adds the lock that cachetools
leaves to its caller (the server's threads read and write these caches concurrently) and
keeps the small ``get``/``put``/``clear`` interface the engine and the embedders use.
``functools.lru_cache`` does not fit: these caches are filled by batch code paths, not by
calls of one function, and are sized per instance from settings.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` items; reading an item makes it the most recently used."""

    def __init__(self, size: int = 2048) -> None:
        if size < 1:
            raise ValueError("an LRU needs room for at least one item")
        self.size = size
        self._d: LRUCache[K, V] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._d.get(key)

    def put(self, key: K, v: V) -> None:
        with self._lock:
            self._d[key] = v

    def clear(self) -> None:
        with self._lock:
            self._d.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._d)
