"""The quality bench's peers and table: real report, hand-written queries, honest shapes.

The peers are only worth comparing against if they work as advertised, so the test checks
the one thing a lexical peer must get right: a report line quoted verbatim finds its section.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from tongdian.core.evaluation.evaluate import EvalQuery
from tongdian.core.knowledge.report import load_sections

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

bq = importlib.import_module("bench.quality")
# the peers index the source report, which sits beside the checkout: without it every test
# here is skipped, and counted (a module-level skip would hide them from the summary)
pytestmark = [pytest.mark.shared,
              pytest.mark.skipif(not bq.SEED.exists(), reason=f"source report not found at {bq.SEED}")]
SECTIONS = load_sections(bq.SEED) if bq.SEED.exists() else []
IDS = {s.id for s in SECTIONS}
# Written for this test; none comes from the evaluation sets.
QUERIES = [
    EvalQuery(id="t1", query="网点越开越贵，客户都跑到手机上去了，还要不要继续铺网点？",
              primary=["P14"], style="colloquial"),
    EvalQuery(id="t2", query="How can a bank cut customer acquisition costs with social media?",
              primary=["P03"], style="english"),
    EvalQuery(id="t3", query="小微企业贷款审批太慢，风控数据不够", primary=["P05"],
              secondary=["P06"], style="paraphrase"),
    EvalQuery(id="t4", query="明天的天气预报说会下雨吗", style="out_of_scope"),
]  # fmt: skip
APPROACH_LINES = [(s.id, a) for s in SECTIONS for a in s.approaches]


@pytest.fixture(scope="module")
def fts5() -> Any:
    return bq.Fts5Trigram(SECTIONS)


@pytest.fixture(scope="module")
def bm25() -> Any:
    return bq.Bm25Jieba(SECTIONS)


def _well_formed(ranked: list[str], complete: bool) -> None:
    assert len(ranked) == len(set(ranked)), "an id ranked twice"
    assert set(ranked) <= IDS
    if complete:
        assert set(ranked) == IDS


@pytest.mark.parametrize(("pid", "line"), APPROACH_LINES,
                         ids=[f"{p}-{i}" for i, (p, _) in enumerate(APPROACH_LINES)])  # fmt: skip
def test_verbatim_report_line_finds_its_section(fts5: Any, bm25: Any, pid: str, line: str) -> None:
    assert fts5(line)[:1] == [pid]
    assert bm25(line)[:1] == [pid]


def test_lexical_peers_rank_only_hits(fts5: Any, bm25: Any) -> None:
    for q in QUERIES:
        _well_formed(fts5(q.query), complete=False)
        _well_formed(bm25(q.query), complete=False)
    assert fts5("网点") == []  # under three characters: no trigram to search
    assert bm25("zzzz qqqq") == []  # no term in the vocabulary: no guess
    assert fts5('AND OR NOT * "x" NEAR(') == []  # FTS5 syntax is quoted, never parsed


def test_trigram_match_quotes_every_trigram() -> None:
    assert bq.trigram_match("ab") == ""
    assert bq.trigram_match('a"bc') == '"a""b" OR """bc"'
    assert bq.trigram_match("ＡＢＣＡＢＣ") == '"ABC" OR "BCA" OR "CAB"'  # NFKC, deduplicated


def test_rrf_sums_reciprocal_ranks() -> None:
    assert bq.rrf([["a", "b"], ["b", "c"]], k=60) == ["b", "a", "c"]
    assert bq.rrf([[], ["x"]]) == ["x"]


@pytest.mark.slow
def test_every_system_scores_and_tabulates(engine) -> None:  # type: ignore[no-untyped-def]
    dense = bq.E5Dense(SECTIONS, engine.embedder)
    for q in QUERIES:
        _well_formed(dense(q.query), complete=True)
        _well_formed(bq.fused(bq.Bm25Jieba(SECTIONS), dense)(q.query), complete=True)
    reports = bq.run_all(engine, SECTIONS, QUERIES, repeat=2)
    assert len(reports) == 9
    for name, r in reports.items():
        assert r.n == len(QUERIES)
        assert 0.0 <= r.metrics["p@1"] <= 1.0
        assert set(r.per_style) == {q.style for q in QUERIES}
        assert r.latency_ms["p50"] > 0
        if name != "tongdian full":
            assert r.metrics["oos_rejected"] == 0.0  # peers always answer
    header, body = bq.rows(reports, bq.style_columns(QUERIES))
    assert header[-2:] == ["p50 ms", "p99 ms"]
    assert all(len(row) == len(header) for row in body)
    md = bq.markdown(header, body, {"date": "d", "queries": "q.jsonl", "n": 4,
                                    "machine": bq.machine()})  # fmt: skip
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len(table) == 2 + len(reports)
    assert md.splitlines()[0].startswith("Quality bench, d")
