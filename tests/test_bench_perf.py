"""The performance and load benches' own logic: what they measure must be what they claim.

Timings are not asserted here (speed belongs in bench/); these tests pin the parts whose
mistakes would make a benchmark lie: briefings that are not multi-clause, synthetic
knowledge bases of the wrong shape, an approximate index judged against itself, an RSS
check that cannot fail.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from tongdian.core.reading.segment import split_segments
from tongdian.index.dense import Dense

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

perf = importlib.import_module("bench.perf")
load = importlib.import_module("bench.load")


def test_query_pool_singles_are_one_clause_and_briefings_several(small_engine) -> None:  # type: ignore[no-untyped-def]
    singles, briefs = perf.query_pool(small_engine.corpus, 50, 20)
    assert len(singles) == 50 and len(set(singles)) == 50
    assert all(len(split_segments(s)) == 1 for s in singles)
    assert len(briefs) >= 15
    assert all(len(split_segments(b)) >= 2 for b in briefs)


def test_synthetic_kb_has_the_promised_shape(small_engine) -> None:  # type: ignore[no-untyped-def]
    frags = perf.fragments(small_engine.corpus, 300, seed=1)
    assert all(len(f) >= 6 for _, f in frags)
    vecs = np.random.default_rng(0).normal(size=(len(frags), small_engine.embedder.dim)).astype(np.float32)
    toks = [small_engine.evidence.tokenizer.tokens(f) for _, f in frags]
    kb = perf.synth_kb(250, small_engine, frags, vecs, toks, passages_per_s=100.0, seed=2)
    ev = kb.evidence
    assert ev.n_entries == 250 and ev.dense.n == 4 * 250
    assert np.allclose(np.linalg.norm(ev.dense.vectors(), axis=1), 1.0, atol=1e-4)
    assert kb.embed_equiv_s == pytest.approx(1000 / 100.0)
    # the real ranker scores the synthetic entries through the engine's own path
    q = ev.prepare("网点太多，运营成本高", small_engine.embedder.embed_queries(["网点太多，运营成本高"])[0])
    c = ev.candidates(q)
    assert 0 < len(c.entries) <= ev.max_candidates + ev.max_candidates // 2
    assert np.isfinite(small_engine.ranker.scores(c)).all()


def _kb(dense: Dense):  # type: ignore[no-untyped-def]
    return perf.SynthKB(dense.n, type("Ev", (), {"dense": dense})(), 0.0, 0.0, 0.0, 0.0)  # type: ignore[arg-type]


def test_hnsw_recall_is_measured_against_exact_search() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(3000, 32)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = v[:60] + rng.normal(scale=0.05, size=(60, 32)).astype(np.float32)
    assert perf.hnsw_recall(_kb(Dense.build(v)), q) == 1.0  # exact against exact
    approx = Dense.build(v, exact_limit=100)  # above the limit: HNSW
    assert not approx.exact
    good = perf.hnsw_recall(_kb(approx), q)
    assert 0.95 <= good <= 1.0
    approx._index.hnsw.efSearch = 10  # a starved search must show up as lost recall
    assert perf.hnsw_recall(_kb(approx), q) < good


def _stats(rss: list[tuple[float, float]], errors: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
    st = load.Stats(latencies_ms=[10.0, 20.0, 30.0, 400.0], long_ms=[400.0], rss=rss, sent=4)
    st.errors = errors or {}
    return st


def test_load_summary_passes_only_without_errors_and_with_flat_rss() -> None:
    flat = [(0.0, 300.0), (5.0, 390.0), (10.2, 400.0), (30.0, 405.0), (60.0, 410.0)]
    s = load.summarise(_stats(flat), 60.0, 32)
    assert s["rss_at_10s_mib"] == 400.0 and s["rss_growth_pct"] == pytest.approx(2.5)
    assert s["passed"] and s["errors"] == 0 and s["max_ms"] == 400.0
    growing = [(0.0, 300.0), (10.0, 400.0), (60.0, 430.0)]
    assert not load.summarise(_stats(growing), 60.0, 32)["passed"]  # +7.5 %
    assert not load.summarise(_stats(flat, {"HTTP 500": 1}), 60.0, 32)["passed"]
    md = load.markdown(s, {"date": "d", "commit": "c", "machine": {"cpu": "x", "nproc": 2}})
    assert "| requests answered / errors | 4 / 0 |" in md and "pass" in md


def test_load_traffic_mixes_short_gets_and_distinct_briefings() -> None:
    t = load.Traffic(PROJECT_ROOT / "corpus", seed=1)
    reqs = [t.next() for _ in range(400)]
    posts = [kw["json"]["q"] for m, kw in reqs if m == "POST"]
    gets = [kw["params"]["q"] for m, kw in reqs if m == "GET"]
    assert 0.2 < len(posts) / len(reqs) < 0.4
    assert len(set(posts)) == len(posts)  # briefings never repeat: never served from a cache
    assert all(len(split_segments(p)) >= 2 for p in posts)
    assert all(g in t.examples for g in gets)


def test_load_with_briefs_passes_only_within_the_targets() -> None:
    """Searches beside briefs: p99 within 2x of search-only, memory under the ceiling, no
    error (a 503 "busy" is one) — each alone fails the run."""
    flat = [(0.0, 600.0), (10.0, 700.0), (60.0, 720.0)]
    alone = load.summarise(_stats(flat), 60.0, 12)
    mixed = load.summarise(_stats(flat), 60.0, 16)
    assert load.compare(alone, mixed, 1024)["passed"]
    slow = {**mixed, "p99_ms": alone["p99_ms"] * 2.5}
    assert not load.compare(alone, slow, 1024)["passed"]
    assert not load.compare(alone, mixed, 700)["passed"]  # 720 MiB over a 700 MiB ceiling
    busy = load.summarise(_stats(flat, {"brief HTTP 503": 2}), 60.0, 16)
    c = load.compare(alone, busy, 1024)
    assert not c["passed"] and c["status_5xx"] == 2
