"""Scoring the "ask" set: questions about the report, each with the typed item it wants.

A line is ``{"id", "q", "kind", "expected_id", "form", "lang"}``; ``expected_id`` is one id,
or a list when the question wants several items at once (a comparison of two pain points,
"all three cooperation modes"). A question is a hit at k when every expected item of that
kind is among the first k ``answers``. Problem-description sets (``query``/``primary``) are
scored by ``evaluate.py``; ``is_ask_set`` tells the two apart by their fields.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from tongdian.core.answers.models import TypedAnswer

#: A format: the kinds of typed item an ask line may expect.
KINDS = ("painpoint", "risk", "technology", "cooperation", "case")


class AskQuery(BaseModel):
    id: str
    q: str = Field(min_length=1)
    kind: str
    expected_id: str | list[str]
    form: str = "plain"
    lang: str = "zh"

    @property
    def expected(self) -> list[str]:
        return [self.expected_id] if isinstance(self.expected_id, str) else list(self.expected_id)


def is_ask_set(path: Path) -> bool:
    """True when the file's first record has the ask set's fields (``q``, ``expected_id``)."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rec = json.loads(line)
            except ValueError:
                return False
            return isinstance(rec, dict) and "q" in rec and "expected_id" in rec
    return False


def load_ask_set(path: Path) -> list[AskQuery]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                q = AskQuery.model_validate_json(line)
            except ValueError as e:
                raise ValueError(f"{path}:{n}: not a valid ask line: {e}") from None
            if q.kind not in KINDS:
                raise ValueError(f"{path}:{n}: kind must be one of {', '.join(KINDS)}")
            out.append(q)
    return out


def hit_at(q: AskQuery, answers: list[TypedAnswer], k: int) -> bool:
    got = {(a.kind, a.id) for a in answers[:k]}
    return all((q.kind, e) in got for e in q.expected)


def evaluate_ask(queries: list[AskQuery], predict: Callable[[str], list[TypedAnswer]]) -> dict:
    """hit@1 and hit@3 overall, per kind and per form; the misses with what came instead."""
    rows = []
    failures = []
    for q in queries:
        answers = predict(q.q)
        h1, h3 = hit_at(q, answers, 1), hit_at(q, answers, 3)
        rows.append((q, h1, h3))
        if not h3:
            failures.append({"id": q.id, "kind": q.kind, "form": q.form, "q": q.q,
                             "expected": q.expected,
                             "got": [f"{a.kind}:{a.id}" for a in answers[:3]]})

    def summary(sel: list[tuple[AskQuery, bool, bool]]) -> dict[str, float]:
        n = len(sel)
        return {"n": n, "hit@1": round(sum(h for _, h, _ in sel) / n, 4) if n else 0.0,
                "hit@3": round(sum(h for _, _, h in sel) / n, 4) if n else 0.0}

    by_kind: dict[str, list] = defaultdict(list)
    by_form: dict[str, list] = defaultdict(list)
    for row in rows:
        by_kind[row[0].kind].append(row)
        by_form[row[0].form].append(row)
    return {"n": len(rows), "metrics": summary(rows),
            "per_kind": {k: summary(v) for k, v in sorted(by_kind.items())},
            "per_form": {k: summary(v) for k, v in sorted(by_form.items())},
            "failures": failures}
