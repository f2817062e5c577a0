"""A small thread-safe LRU map, shared by the query-vector and the answer caches.

``functools.lru_cache`` cannot be emptied per entry type or sized per instance from
settings, and the server's threads read and write these caches concurrently.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` items; reading an item makes it the most recently used."""

    def __init__(self, size: int = 2048) -> None:
        if size < 1:
            raise ValueError("an LRU needs room for at least one item")
        self.size = size
        self._d: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
            return v

    def put(self, key: K, v: V) -> None:
        with self._lock:
            self._d[key] = v
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()

    def __len__(self) -> int:
        return len(self._d)
