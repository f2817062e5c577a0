"""Metrics follow the definitions in the README, including out-of-scope handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tongdian.core.evaluation.evaluate import EvalQuery, Prediction, evaluate, load_queries

Q = [
    EvalQuery(id="a", query="q1", primary=["P01"], secondary=["P02"], style="paraphrase"),
    EvalQuery(id="b", query="q2", primary=["P03", "P04"], style="multi"),
    EvalQuery(id="c", query="q3", primary=[], style="out_of_scope"),
    EvalQuery(id="d", query="q4", primary=["P05"], style="paraphrase"),
]
ANSWERS = {
    "q1": Prediction(["P02", "P01", "P09"]),  # secondary first: ok@1 but not p@1
    "q2": Prediction(["P04", "P07", "P03"]),  # both primaries in top 3
    "q3": Prediction(["P10"], matched=False),  # correctly refused
    "q4": Prediction(["P05"], matched=False),  # wrongly refused: counts as a miss
}


def test_metrics() -> None:
    r = evaluate(Q, lambda q: ANSWERS[q])
    m = r.metrics
    assert m["p@1"] == pytest.approx(1 / 3, abs=1e-3)
    assert m["ok@1"] == pytest.approx(2 / 3, abs=1e-3)
    assert m["hit@3"] == pytest.approx(2 / 3, abs=1e-3)
    assert m["mrr"] == pytest.approx((0.5 + 1.0 + 0.0) / 3, abs=1e-3)
    assert m["multi_recall@3"] == 1.0
    assert m["oos_rejected"] == 1.0
    assert m["in_scope_rejected"] == pytest.approx(1 / 3, abs=1e-3)
    assert r.per_style["paraphrase"]["p@1"] == 0.0
    assert {f["id"] for f in r.failures} == {"a", "d"}


def test_load_queries_reports_the_bad_line(tmp_path: Path) -> None:
    p = tmp_path / "q.jsonl"
    p.write_text(json.dumps({"id": "x", "query": "ok", "primary": ["P01"]}) + "\n{broken\n", "utf-8")
    with pytest.raises(ValueError, match=r"q\.jsonl:2"):
        load_queries(p)
