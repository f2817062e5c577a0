"""The shared LRU: bounded, least recently *used* goes first, safe under threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tongdian.index.lru import LRU


def test_evicts_least_recently_used() -> None:
    c: LRU[str, int] = LRU(2)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # "a" is now the most recent
    c.put("c", 3)
    assert c.get("b") is None and c.get("a") == 1 and c.get("c") == 3
    assert len(c) == 2
    c.clear()
    assert len(c) == 0 and c.get("a") is None


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one"):
        LRU(0)


def test_concurrent_writers_never_exceed_the_bound() -> None:
    c: LRU[int, int] = LRU(100)

    def work(base: int) -> None:
        for i in range(2000):
            c.put(base * 10_000 + i, i)
            c.get(base * 10_000 + i // 2)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert len(c) == 100
