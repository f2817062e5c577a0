"""What the ranking concludes about a text, as plain data: the answers stage reads it.

Built by ``decide.py``; nothing in it refers to the ranker's features or scores, so the
answers stage (and anyone else) can read a verdict without knowing how it was reached.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pick:
    """A pain point to answer, with the evidence that names it."""

    entry: int  # position in the corpus's pain points
    confidence: float  # P(this pain point) × P(in scope), or a passage's weighted share
    view: int  # the index view (passage of the knowledge) it matched best; -1: none
    source: str  # the text that evidences it, as shown: a passage's, or the whole text's
    from_passage: bool  # found through a passage rather than the whole text
    mapped: bool  # a passage maps to it confidently: answered however far down it ranks


@dataclass(frozen=True)
class Part:
    """A passage of a longer text and what it names, shown beside the answer."""

    text: str
    entry: int
    confidence: float
    problem: bool
    reason: str | None


@dataclass(frozen=True)
class Verdict:
    matched: bool  # in scope (or a keyword query that names a topic)
    keyword: bool  # answered as a keyword query
    p_in: float  # P(in scope): the whole text's, or its surest passage's
    threshold: float
    picks: list[Pick]  # best first: the first k, then every confidently mapped one
    parts: list[Part]  # the passages, in text order (empty for a one-clause text)
    whole_text: str  # the text ranked as a whole, as shown (a note's problem passages)
    techs: frozenset[str]  # technologies the whole text names
