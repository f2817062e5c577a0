"""The quality gate: a candidate revision must not answer the dev sets worse than the
revision being served.

Both engines answer every query of every configured set; the gate refuses when P@1 or
the rejection of out-of-scope queries ("no good match") drops by more than the margin,
and lists the queries the candidate broke (right before, wrong now). The sets are run,
never copied: nothing from them is stored in the corpus, only in the publish report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tongdian.core.evaluation.evaluate import (
    EvalQuery,
    Prediction,
    evaluate,
    load_queries,
    split_half,
)
from tongdian.core.search.engine import Engine

#: Not a knob: the metrics the gate guards (in-scope P@1, out-of-scope rejection).
GUARDED = ("p@1", "oos_rejected")
#: A limit: broken queries listed per set (the rest are counted).
MAX_LISTED = 50


@dataclass
class SetResult:
    name: str
    n: int
    before: dict[str, float]
    after: dict[str, float]
    broken: list[dict[str, Any]] = field(default_factory=list)
    fixed: int = 0


@dataclass
class GateReport:
    margin: float
    sets: list[SetResult]
    refused: bool
    reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load_set(spec: str) -> tuple[str, list[EvalQuery]]:
    """``file.jsonl`` or ``file.jsonl#tune`` / ``#held-out``: one half of a set."""
    path, _, half = spec.partition("#")
    qs = load_queries(Path(path))
    name = Path(path).name + (f"#{half}" if half else "")
    return name, split_half(qs, half) if half else qs


def _predict(engine: Engine):  # type: ignore[no-untyped-def]
    def run(q: str) -> Prediction:
        r = engine.search(q, k=5)
        return Prediction([x.id for x in r.results], r.matched)
    return run


def run_gate(baseline: Engine, candidate: Engine, specs: list[str], margin: float) -> GateReport:
    sets: list[SetResult] = []
    reasons: list[str] = []
    for spec in specs:
        name, queries = load_set(spec)
        if not queries:
            continue
        before = evaluate(queries, _predict(baseline))
        after = evaluate(queries, _predict(candidate))
        failed_before = {f["id"] for f in before.failures}
        failed_after = {f["id"]: f for f in after.failures}
        broken = [
            {"id": q.id, "query": q.query, "expected": q.primary or ["no good match"],
             "got": failed_after[q.id]["got"] if failed_after[q.id]["matched"] else ["no good match"]}
            for q in queries if q.id in failed_after and q.id not in failed_before
        ]
        res = SetResult(name, len(queries),
                        {k: before.metrics[k] for k in GUARDED},
                        {k: after.metrics[k] for k in GUARDED},
                        broken[:MAX_LISTED], len(failed_before - set(failed_after)))
        sets.append(res)
        for k in GUARDED:
            b, a = res.before[k], res.after[k]
            if b == b and a == a and b - a > margin + 1e-9:  # NaN-safe: a set without OOS
                reasons.append(f"{name}: {k} drops from {b:.3f} to {a:.3f} "
                               f"(more than the margin {margin:.3f}); {len(broken)} queries broke")
    return GateReport(margin, sets, bool(reasons), reasons)
