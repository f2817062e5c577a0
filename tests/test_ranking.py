"""Feature extraction: the fast paths must compute exactly what the plain ones do."""

from __future__ import annotations

import numpy as np

from tongdian.core.ranking.features import _top


def test_top_returns_the_n_largest_in_any_order() -> None:
    v = np.array([0.1, 5.0, -1.0, 3.0, 3.5, 0.0], dtype=np.float32)
    assert set(_top(v, 3).tolist()) == {1, 3, 4}
    assert sorted(_top(v, 10).tolist()) == list(range(6))  # fewer values than asked


def test_contiguous_views_take_the_reduceat_path_with_identical_features(small_engine) -> None:  # type: ignore[no-untyped-def]
    ev = small_engine.evidence
    assert ev._entry_starts is not None, "the index writes views entry by entry"
    queries = ["网点太多，租金人工压得喘不过气", "羊毛党 薅 新客立减", "blockchain cross-border payments"]
    vecs = small_engine.embedder.embed_queries(queries)
    fast = [ev.candidates(ev.prepare(q, v)) for q, v in zip(queries, vecs, strict=True)]
    starts, ev._entry_starts = ev._entry_starts, None
    try:
        plain = [ev.candidates(ev.prepare(q, v)) for q, v in zip(queries, vecs, strict=True)]
    finally:
        ev._entry_starts = starts
    for a, b in zip(fast, plain, strict=True):
        assert np.array_equal(a.entries, b.entries)
        assert np.allclose(a.X, b.X)
    # the comparison means something only if view-level BM25 (feature 5) had evidence
    assert any(float(a.X[:, 5].max()) == 1.0 for a in fast)
