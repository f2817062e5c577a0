"""Split a briefing into the clauses that may each describe a different problem.

Consultants paste whole briefings and meeting notes: several problems plus context (where
the meeting is, who signs the budget, what happens next). Scoring each clause on its own
lets the answer say which part of the text evidences which pain point, and lets context
clauses fall out of the ranking.

Two levels: ``split_segments`` cuts at sentence ends and at clause joints (同时、而且、还…);
``comma_pieces`` cuts one such clause further at every comma, for sentences that list
several problems with no joint word ("存款流失，跨境汇款又慢，网点也冷清"). Whether the finer
cut is kept is the engine's decision (it keeps it only when the pieces map to different
pain points). Joints are found on a Simplified shadow of the text, so Traditional input
splits where Simplified does; the clauses returned are always the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc

#: Sentence ends: every clause boundary starts at one.
_SENTENCE = re.compile(r"(?<=[。！？!?；;\n])|(?<=\.)\s+")
#: Clause joints that usually start a new concern (同时、而且、还…; "also", ", and we").
_JOINT = re.compile(
    r"[，,、]\s*(?=(?:同时|而且|并且|另外|此外|还有|再加上|加上|再者|更糟的是|与此同时|其次|最后|还要|也要|一方面|另一方面|还|也|又|但|可是|可|却|不过|然而|偏偏)"
    r")|(?<=[，,])\s*(?=(?:also|additionally|moreover|meanwhile|on top of that)\b)"
    r"|[，,]\s*(?=and\s+(?:we|our|the)\b)",
    re.IGNORECASE,
)
# English adverbs ("also", "plus") start a new concern only after a comma or at a sentence
# start: mid-clause ("approvals also take two weeks") they belong to the clause they are in.
#: Finer cuts inside a clause: every comma or enumeration mark, and an English " and "/
#: ", while"/", but" between two clauses (each side is checked for substance afterwards).
_PIECE = re.compile(r"[，,、：:]\s*(?:(?:and|while|but|whereas)\s+(?=\w))?"
                    r"|\s+(?:and|while|but|whereas)\s+(?=\w)", re.IGNORECASE)
#: A clause with fewer Chinese characters than this is glued to its neighbour (8 costs
#: real tune P@1 -0.017; ``python -m bench.knobs --only MIN_CJK_CHARS``).
MIN_CJK_CHARS = 6
#: ...or fewer Latin words than this (an English clause needs a verb and its object).
MIN_LATIN_WORDS = 4
#: Clauses analysed at most. A 20,000-character note splits into ~700 clauses; past this
#: the rest is reported as not analysed (``truncated``) instead of being dropped silently.
MAX_SEGMENTS = 1200
#: Characters stripped from both ends of a clause: separators, never brackets or quotes.
_EDGE = " \t\r\n，,。；;、：:．.…—-–·!！?？"


def _substantial(s: str) -> bool:
    """Long enough to describe a problem; code-mixed clauses count both scripts."""
    cjk = len(re.findall(r"[\u3400-\u9fff]", s))
    latin = len(re.findall(r"[A-Za-z]+", s))
    return cjk / MIN_CJK_CHARS + latin / MIN_LATIN_WORDS >= 1


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def shadow(text: str) -> str:
    """A same-length, matching-friendly copy of ``text``: Simplified, half-width, lower case.

    Character *i* of the copy is character *i* of the text, so a match found on the copy
    cuts, corrects or highlights the original without altering anything else the user
    wrote (a phrase conversion that changes the length falls back to the text as written).
    """
    simp = _t2s().convert(text) if text else text
    if len(simp) != len(text):
        simp = text
    out = []
    for ch in simp:
        n = unicodedata.normalize("NFKC", ch).lower()
        out.append(n if len(n) == 1 else ch.lower() if len(ch.lower()) == 1 else ch)
    return "".join(out)


Span = tuple[int, int]


def _cut(text: str, pattern: re.Pattern[str], start: int = 0, end: int | None = None) -> list[Span]:
    """The stretches of ``text[start:end]`` between matches of ``pattern`` on its shadow,
    as (start, end) offsets into ``text``; separators are dropped."""
    end = len(text) if end is None else end
    copy = shadow(text[start:end])
    out, pos = [], start
    for m in pattern.finditer(copy):
        out.append((pos, start + m.start()))
        pos = start + m.end()
    out.append((pos, end))
    return out


def _trim(text: str, span: Span) -> Span:
    """``span`` without separators at its edges (empty spans collapse to start == end)."""
    a, b = span
    while a < b and text[a] in _EDGE:
        a += 1
    while b > a and text[b - 1] in _EDGE:
        b -= 1
    return a, b


def clean(clause: str) -> str:
    """A clause without separators at its edges (no passage starts with a stray "，")."""
    return clause.strip(_EDGE)


def _glue(text: str, spans: list[Span]) -> list[Span]:
    """Glue fragments too short to stand alone onto their neighbour.

    Glued clauses are the original text from the first fragment's start to the last one's
    end, so the user's own punctuation joins them: nothing is inserted that they did not type.
    """
    merged: list[Span] = []
    for sp in spans:
        if merged and not _substantial(text[merged[-1][0]:merged[-1][1]]):
            merged[-1] = (merged[-1][0], sp[1])
        else:
            merged.append(sp)
    if len(merged) > 1 and not _substantial(text[merged[-1][0]:merged[-1][1]]):
        last = merged.pop()
        merged[-1] = (merged[-1][0], last[1])
    return merged


@dataclass(frozen=True)
class Split:
    """The clauses of a text, and how much of it they cover."""

    segments: list[str]
    analysed_chars: int  # characters of the text up to the end of the last clause analysed
    truncated: bool  # True when clauses past ``MAX_SEGMENTS`` were left out


def split_text(text: str, max_segments: int = MAX_SEGMENTS) -> Split:
    """Clauses in order; past ``max_segments`` the rest is cut and the cut reported."""
    spans: list[Span] = []
    for sentence in _cut(text, _SENTENCE):
        for clause in _cut(text, _JOINT, *sentence):
            a, b = _trim(text, clause)
            if a < b:
                spans.append((a, b))
    merged = _glue(text, spans)
    truncated = len(merged) > max_segments
    if truncated:
        merged = merged[:max_segments]
    if not merged:
        stripped = text.strip()
        return Split([stripped], len(stripped), False)
    analysed = merged[-1][1] if truncated else len(text)
    return Split([text[a:b] for a, b in merged], analysed, truncated)


def split_segments(text: str, max_segments: int = MAX_SEGMENTS) -> list[str]:
    """Clauses worth scoring on their own; one element means "treat the text as one problem"."""
    return split_text(text, max_segments).segments


def comma_pieces(clause: str) -> list[str]:
    """``clause`` cut at every comma where each piece could describe a problem on its own.

    One element when no such cut exists. Pieces too short to stand alone are glued to
    their neighbour, so "网点冷清，成本高，客户少" stays whole.
    """
    pieces = [sp for sp in (_trim(clause, x) for x in _cut(clause, _PIECE)) if sp[0] < sp[1]]
    if len(pieces) < 2:
        return [clause]
    glued = _glue(clause, pieces)
    return [clause[a:b] for a, b in glued] if len(glued) > 1 else [clause]
