"""Retrieval metrics over a JSONL query set (the format of ``shared/eval/dev_queries.jsonl``).

Each line: ``{"id", "query", "primary": [...], "secondary": [...], "style", "lang"}``;
an empty ``primary`` marks an out-of-scope query that should get "no good match".
Kept independent of the engine so the quality bench can score peer systems the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field


class EvalQuery(BaseModel):
    id: str
    query: str
    primary: list[str] = Field(default_factory=list)
    secondary: list[str] = Field(default_factory=list)
    style: str = "unknown"
    lang: str = "zh"

    @property
    def in_scope(self) -> bool:
        return bool(self.primary)


def load_queries(path: Path) -> list[EvalQuery]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(EvalQuery.model_validate_json(line))
            except ValueError as e:
                raise ValueError(f"{path}:{n}: not a valid query line: {e}") from None
    return out


#: A format: the halves of a set, by the parity of the number in its ids (tune on the odd).
HALVES = ("all", "tune", "held-out")


def split_half(queries: list[EvalQuery], half: str) -> list[EvalQuery]:
    """One half of a set, chosen by the parity of the number in each id (RD001 → tune).

    Deterministic and independent of the file's order, so "the held-out half" means the same
    queries in every run, every bench and every report.
    """
    if half not in HALVES:
        raise ValueError(f"half must be one of {', '.join(HALVES)}, not {half!r}")
    if half == "all":
        return list(queries)
    want = 1 if half == "tune" else 0
    out = []
    for q in queries:
        digits = "".join(ch for ch in q.id if ch.isdigit())
        if not digits:
            raise ValueError(f"query id {q.id!r} has no number to split by")
        if int(digits) % 2 == want:
            out.append(q)
    return out


@dataclass(frozen=True)
class Prediction:
    ranked: list[str]  # pain-point ids, best first
    matched: bool = True  # False: the system said "no good match"


@dataclass
class Report:
    n: int
    metrics: dict[str, float]
    per_style: dict[str, dict[str, float]]
    latency_ms: dict[str, float] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    #: bootstrap 95% interval of each metric: sets of 40–150 texts move by ±0.07–0.15
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: (wanted, got) → count over in-scope misses: which neighbours the model confuses
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "metrics": self.metrics,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "per_style": self.per_style,
            "latency_ms": self.latency_ms,
            "failures": self.failures,
            "confusion": [{"want": w, "got": g, "n": n}
                          for (w, g), n in sorted(self.confusion.items(), key=lambda x: -x[1])],
        }


#: Not a ranking knob: bootstrap resamples per interval, enough for stable 2.5/97.5 percentiles.
BOOTSTRAP = 2000


def bootstrap_interval(values: list[float], seed: int = 0) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval of a mean (seeded: a report is reproducible)."""
    if not values:
        return (float("nan"), float("nan"))
    v = np.asarray(values, dtype=np.float64)
    idx = np.random.default_rng(seed).integers(0, len(v), size=(BOOTSTRAP, len(v)))
    means = v[idx].mean(axis=1)
    return (round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4))


def _score(q: EvalQuery, p: Prediction) -> dict[str, float]:
    primary, ok = set(q.primary), set(q.primary) | set(q.secondary)
    top = p.ranked[:1]
    rr = next((1.0 / (i + 1) for i, x in enumerate(p.ranked) if x in primary), 0.0)
    return {
        "p@1": float(bool(top) and top[0] in primary),
        "ok@1": float(bool(top) and top[0] in ok),
        "hit@3": float(bool(primary & set(p.ranked[:3]))),
        "mrr": rr,
        "recall@3": len(primary & set(p.ranked[:3])) / len(primary),
        "no_match": float(not p.matched),
    }


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return round(sum(xs) / len(xs), 4) if xs else float("nan")


def evaluate(
    queries: list[EvalQuery],
    predict: Callable[[str], Prediction],
    timer: Callable[[], float] | None = None,
) -> Report:
    """Score ``predict`` on ``queries``.

    In-scope metrics (P@1, ok@1, hit@3, MRR) count a "no good match" answer as a miss;
    ``recall@3`` is over multi-label queries (two or more primary ids).
    """
    import time

    clock = timer or time.perf_counter
    rows: list[tuple[EvalQuery, dict[str, float]]] = []
    lat: list[float] = []
    failures = []
    for q in queries:
        t0 = clock()
        p = predict(q.query)
        lat.append((clock() - t0) * 1000)
        if q.in_scope:
            s = _score(q, p if p.matched else Prediction([], False))
            s["no_match"] = float(not p.matched)
            if s["p@1"] < 1:
                failures.append({"id": q.id, "style": q.style, "query": q.query, "primary": q.primary,
                                 "got": p.ranked[:3], "matched": p.matched})
        else:
            s = {"no_match": float(not p.matched)}
            if p.matched:
                failures.append({"id": q.id, "style": q.style, "query": q.query, "primary": [],
                                 "got": p.ranked[:3], "matched": True})
        rows.append((q, s))
    ins = [s for q, s in rows if q.in_scope]
    oos = [s for q, s in rows if not q.in_scope]
    multi = [s for q, s in rows if len(q.primary) > 1]
    english = [s for q, s in rows if q.in_scope and q.lang == "en"]
    samples = {
        "p@1": [s["p@1"] for s in ins],
        "ok@1": [s["ok@1"] for s in ins],
        "hit@3": [s["hit@3"] for s in ins],
        "mrr": [s["mrr"] for s in ins],
        "multi_recall@3": [s["recall@3"] for s in multi],
        "english_p@1": [s["p@1"] for s in english],
        "oos_rejected": [s["no_match"] for s in oos],
        "in_scope_rejected": [s["no_match"] for s in ins],
    }
    metrics = {k: _mean(v) for k, v in samples.items()}
    intervals = {k: bootstrap_interval(v) for k, v in samples.items() if v}
    confusion: dict[tuple[str, str], int] = defaultdict(int)
    for f in failures:
        if f["primary"] and f["got"] and f["matched"]:
            confusion[(f["primary"][0], f["got"][0])] += 1
    by_style: dict[str, list[dict[str, float]]] = defaultdict(list)
    for q, s in rows:
        by_style[q.style].append(s)
    per_style = {}
    for style, ss in sorted(by_style.items()):
        if "p@1" in ss[0]:
            per_style[style] = {"n": len(ss), "p@1": _mean(s["p@1"] for s in ss),
                                "hit@3": _mean(s["hit@3"] for s in ss)}
        else:
            per_style[style] = {"n": len(ss), "rejected": _mean(s["no_match"] for s in ss)}
    lat_sorted = sorted(lat)
    latency = {
        "p50": round(lat_sorted[len(lat) // 2], 2) if lat else 0.0,
        "p99": round(lat_sorted[min(len(lat) - 1, int(len(lat) * 0.99))], 2) if lat else 0.0,
        "mean": _mean(lat),
    }
    return Report(len(queries), metrics, per_style, latency, failures, intervals, dict(confusion))
