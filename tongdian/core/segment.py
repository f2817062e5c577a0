"""Split a briefing into the clauses that may each describe a different problem.

Consultants paste whole briefings: several problems plus context (where the meeting is,
who signs the budget). Scoring each clause on its own lets the answer say which part of
the text evidences which pain point, and lets context clauses fall below the threshold.
"""

from __future__ import annotations

import re

# Sentence ends, and clause joints that usually start a new concern.
_SENTENCE = re.compile(r"(?<=[。！？!?；;\n])|(?<=\.)\s+")
_JOINT = re.compile(
    r"[，,、]\s*(?=(?:同时|而且|并且|另外|此外|还有|再加上|加上|再者|更糟的是|与此同时|其次|最后|还要|也要|一方面|另一方面|还|也|又|但|可是|可|却|不过|然而|偏偏)"
    r")|(?<=[，,])\s*(?=(?:also|additionally|moreover|meanwhile|on top of that)\b)"
    r"|[，,]\s*(?=and\s+(?:we|our|the)\b)|\s+(?=(?:also|plus|additionally|meanwhile)\s)",
    re.IGNORECASE,
)
MIN_CJK_CHARS = 6
MIN_LATIN_WORDS = 4


def _substantial(s: str) -> bool:
    """Long enough to describe a problem; code-mixed clauses count both scripts."""
    cjk = len(re.findall(r"[\u3400-\u9fff]", s))
    latin = len(re.findall(r"[A-Za-z]+", s))
    return cjk / MIN_CJK_CHARS + latin / MIN_LATIN_WORDS >= 1


def split_segments(text: str, max_segments: int = 8) -> list[str]:
    """Clauses worth scoring on their own; one element means "treat the text as one problem"."""
    parts: list[str] = []
    for sentence in _SENTENCE.split(text):
        for clause in _JOINT.split(sentence):
            clause = clause.strip(" \t，,。；;")
            if clause:
                parts.append(clause)
    # glue fragments too short to stand alone onto their neighbour
    merged: list[str] = []
    for p in parts:
        if merged and not _substantial(merged[-1]):
            merged[-1] = f"{merged[-1]}，{p}"
        else:
            merged.append(p)
    if len(merged) > 1 and not _substantial(merged[-1]):
        last = merged.pop()
        merged[-1] = f"{merged[-1]}，{last}"
    if len(merged) > max_segments:
        # keep the longest clauses: briefings put the substance in the long ones
        keep = sorted(sorted(range(len(merged)), key=lambda i: -len(merged[i]))[:max_segments])
        merged = [merged[i] for i in keep]
    return merged or [text.strip()]
