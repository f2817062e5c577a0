"""Feedback on answers: stored with the query, the answer shown and the revision; reviewed
as corrections with counts; accepted ones become corpus statements in a new revision.

A correction is ``P07`` (the answer should have been this pain point) or ``none`` (the
text is not a bank pain point). Accepting one adds the query as an example statement of
that pain point, or as a bank-related out-of-scope statement — the same data the ranker and
the scope model are fitted on, so republishing is what makes the answer better.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tongdian.core.config import (
    FEEDBACK_PER_QUERY,
    FEEDBACK_SHOWN_MAX,
    MAX_OPEN_FEEDBACK,
    MAX_QUERY_CHARS,
)
from tongdian.core.stewardship.kb import KnowledgeBase
from tongdian.core.stewardship.kbedit import EditError, EntryMissing
from tongdian.index.revstore import FeedbackRow, RevisionStore

#: A format: the id a correction gives for "not a pain point".
NOT_A_PAINPOINT = "none"
#: A pain point typed in the correction box ("p5", "P05").
_PID = re.compile(r"^p(\d{1,3})$", re.IGNORECASE)
#: Phrases people type for "not a pain point" in the correction box.
_NONE_WORDS = {"none", "no", "not a pain point", "not", "无", "不是痛点", "不是", "无关"}
#: Where feedback came from (free text would let a client spoof the review page's columns).
Source = Literal["page", "api", "chat", "openai", "mcp", "dify", "cli"]


def normalise_correction(raw: str | None) -> str | None:
    """``"should be p7"`` → ``P07``; ``"not a pain point"`` → ``none``; blank → None."""
    if raw is None:
        return None
    text = raw.strip().lower().removeprefix("should be").strip()
    if not text:
        return None
    if text in _NONE_WORDS:
        return NOT_A_PAINPOINT
    m = _PID.match(text)
    if m and 1 <= int(m.group(1)) <= 999:
        return f"P{int(m.group(1)):02d}"
    raise ValueError("correction must be a pain-point id such as P07, or 'none' "
                     "(not a pain point)")


class FeedbackIn(BaseModel):
    """``POST /api/feedback``: any client (page, API, chat, MCP) rates an answer it showed.

    Anyone may send it, so every field is bounded and checked: unknown fields are refused
    (a misspelt field must not be dropped silently, and no field can smuggle in storage),
    ``shown`` holds pain-point ids only, and ``record`` checks them, the correction and the
    revision against the knowledge base before anything is stored.
    """

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    shown: list[Annotated[str, Field(pattern=r"^P\d{2,3}$")]] = Field(
        default_factory=list, max_length=FEEDBACK_SHOWN_MAX,
        description="ids of the answer shown, best first (P01…)")
    revision: int | None = Field(None, ge=1, le=2**62, description="the revision that answered "
                                 "(default: the one this server serves); must exist")
    useful: bool | None = Field(None, description="was the answer useful?")
    correction: str | None = Field(None, max_length=40,
                                   description="'P07' (should be this pain point) or 'none' "
                                   "(not a pain point)")
    source: Source = "api"

    @field_validator("correction", mode="before")
    @classmethod
    def _correction(cls, v: object) -> object:
        return normalise_correction(v) if isinstance(v, str) else v

    @field_validator("shown", mode="before")
    @classmethod
    def _shown(cls, v: object) -> object:
        if isinstance(v, str):  # a form sends "P14,P03"
            v = [x for x in v.split(",") if x.strip()]
        if isinstance(v, list):
            return [x.strip().upper() if isinstance(x, str) else x for x in v]
        return v

    @field_validator("useful", mode="before")
    @classmethod
    def _useful(cls, v: object) -> object:
        if v == "":
            return None
        return v


def record(store: RevisionStore, body: FeedbackIn, served: int | None, known: set[str]) -> int:
    """Store one feedback after checking it against what exists; its id.

    ``known``: the pain-point ids of the served corpus. Unknown ids, a correction naming no
    pain point, or a revision that was never made are a 422 (``EditError``); a query with
    ``FEEDBACK_PER_QUERY`` open feedback already, or a full review queue, is ``FeedbackFull``
    (a 429: nothing more is stored until someone reviews).
    """
    problems: list[tuple[str, str]] = []
    unknown = [x for x in body.shown if x not in known]
    if unknown:
        problems.append(("shown", f"not pain points of this knowledge base: "
                                  f"{', '.join(unknown[:5])}"))
    if len(set(body.shown)) != len(body.shown):
        problems.append(("shown", "an id is listed twice"))
    if body.correction not in (None, NOT_A_PAINPOINT) and body.correction not in known:
        problems.append(("correction", f"{body.correction} is no pain point of this knowledge "
                                       "base: send one of its ids, or 'none'"))
    revision = body.revision or served
    head = store.head()
    if body.revision is not None and (head is None or body.revision > head):
        problems.append(("revision", f"there is no revision {body.revision} "
                                     f"(the latest is {head})"))
    if problems:
        raise EditError(problems)
    return store.add_feedback(body.query.strip(), body.shown, revision, body.useful,
                              body.correction, body.source,
                              caps=(FEEDBACK_PER_QUERY, MAX_OPEN_FEEDBACK))



@dataclass
class Correction:
    """One (query, correction) pair on the review page, with how often it was sent."""

    query: str
    correction: str
    count: int
    ids: list[int]
    shown: list[str]
    last: str


def corrections(rows: list[FeedbackRow]) -> list[Correction]:
    groups: dict[tuple[str, str], list[FeedbackRow]] = defaultdict(list)
    for r in rows:
        if r.correction and r.status == "open":
            groups[(r.query.strip(), r.correction)].append(r)
    out = [Correction(q, c, len(rs), [r.id for r in rs], rs[0].shown,
                      max(r.created_at for r in rs)) for (q, c), rs in groups.items()]
    return sorted(out, key=lambda c: (-c.count, c.last), reverse=False)


def accept(kb: KnowledgeBase, fid: int, actor: str) -> tuple[int, list[int]]:
    """Add the feedback's query as a statement of its correction; a new revision.

    Every open feedback with the same query and correction is resolved with it.
    """
    item = kb.store.feedback_item(fid)
    if item is None:
        raise EntryMissing(f"no feedback {fid}")
    if not item.correction:
        raise EditError([("correction", "this feedback carries no correction to accept")], 409)
    if item.status != "open":
        raise EditError([("status", f"feedback {fid} is already {item.status}")], 409)
    same = [r.id for r in kb.store.feedback("open", limit=100_000)
            if r.query.strip() == item.query.strip() and r.correction == item.correction]
    target = item.correction
    what = "not a pain point" if target == NOT_A_PAINPOINT else f"an example of {target}"
    rid = kb.add_statement(target, item.query, actor,
                           f"feedback {fid}: add the query as {what}",
                           {"feedback": same, "entry": None if target == NOT_A_PAINPOINT
                            else f"painpoints/{target}"})
    kb.store.resolve_feedback(same, "accepted", rid, actor)
    return rid, same


def reject(kb: KnowledgeBase, fid: int, actor: str) -> list[int]:
    item = kb.store.feedback_item(fid)
    if item is None:
        raise EntryMissing(f"no feedback {fid}")
    same = [r.id for r in kb.store.feedback("open", limit=100_000)
            if r.query.strip() == item.query.strip() and r.correction == item.correction]
    kb.store.resolve_feedback(same or [fid], "rejected", None, actor)
    kb.store.audit(actor, "feedback-reject", f"feedback/{fid}", {"ids": same})
    return same


def export_eval(kb: KnowledgeBase, dst: Path, status: str | None = None) -> int:
    """Corrections as an eval file (the ``tongdian eval`` format): ``primary`` is the
    corrected id, empty for "not a pain point". One line per distinct (query, correction)."""
    seen: set[tuple[str, str]] = set()
    lines = []
    for r in reversed(kb.store.feedback(status, limit=1_000_000)):
        if not r.correction or r.status == "rejected":
            continue
        key = (r.query.strip(), r.correction)
        if key in seen:
            continue
        seen.add(key)
        primary = [] if r.correction == NOT_A_PAINPOINT else [r.correction]
        lines.append(json.dumps({"id": f"FB{r.id:05d}", "query": r.query.strip(),
                                 "primary": primary, "secondary": [], "style": "feedback",
                                 "lang": "zh"}, ensure_ascii=False))
    tmp = Path(dst).with_suffix(Path(dst).suffix + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tmp.replace(dst)
    return len(lines)
