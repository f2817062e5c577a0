"""Stored results behind permalinks: content-hash keys, atomic writes, retention."""

from __future__ import annotations

from pathlib import Path

import pytest

from tongdian.core.answers.models import SearchResponse
from tongdian.core.answers.permalinks import DAY, KEY_CHARS, PermalinkStore, result_key
from tongdian.core.errors import NotFound


def _answer(q: str) -> SearchResponse:
    return SearchResponse(query=q, matched=False, message="m", in_scope=0.1, threshold=0.3,
                          technologies=[], results=[], segments=[], took_ms=1.0)


def test_same_text_same_key_and_round_trip(tmp_path: Path) -> None:
    store = PermalinkStore(tmp_path / "results", retention_days=1)
    key = store.save("网点太多", 5, _answer("网点太多"))
    assert key == result_key("网点太多", 5) and len(key) == KEY_CHARS
    assert key != result_key("网点太多", 6) != result_key("网点太少", 5)
    item = store.load(key)
    assert item.q == "网点太多" and item.k == 5 and item.response.query == "网点太多"
    # no temporary file is left behind
    assert [p.name for p in (tmp_path / "results").iterdir()] == [f"{key}.json"]


def test_expired_and_unknown_keys_are_not_found(tmp_path: Path) -> None:
    store = PermalinkStore(tmp_path, retention_days=2)
    key = store.save("q", 5, _answer("q"), now=1000.0)
    assert store.load(key, now=1000.0 + DAY).q == "q"
    with pytest.raises(NotFound, match="过期"):
        store.load(key, now=1000.0 + 3 * DAY)
    assert not (tmp_path / f"{key}.json").exists()
    with pytest.raises(NotFound):
        store.load("0" * KEY_CHARS)
    with pytest.raises(NotFound):
        store.load("../../etc/passwd")


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = PermalinkStore(tmp_path, retention_days=1)
    key = store.save("q", 5, _answer("q"))
    before = (tmp_path / f"{key}.json").read_bytes()

    def boom(*a: object, **k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        store.save("q", 5, _answer("q"))
    assert (tmp_path / f"{key}.json").read_bytes() == before
    assert list(tmp_path.glob("*.tmp")) == []


def test_purge_removes_only_expired(tmp_path: Path) -> None:
    store = PermalinkStore(tmp_path, retention_days=1)
    old = store.save("old", 5, _answer("old"), now=0.0)
    new = store.save("new", 5, _answer("new"), now=10 * DAY)
    assert store.purge(now=10 * DAY + 1) == 1
    assert not (tmp_path / f"{old}.json").exists() and (tmp_path / f"{new}.json").exists()


def test_the_store_is_capped_by_count_oldest_first(tmp_path: Path) -> None:
    """Anyone can post a note, so stored results rotate instead of filling the disk."""
    import os

    store = PermalinkStore(tmp_path / "r", 30, max_items=20)
    keys = []
    for i in range(45):
        keys.append(store.save(f"第{i}条会议纪要", 5, _answer("q")))
        os.utime(tmp_path / "r" / f"{keys[-1]}.json", (1000 + i, 1000 + i))  # written in order
    assert len(list((tmp_path / "r").glob("*.json"))) <= 22  # trimmed as it goes
    store.trim()
    left = sorted(p.stem for p in (tmp_path / "r").glob("*.json"))
    assert left == sorted(keys[-20:])
