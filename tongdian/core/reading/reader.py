"""Stage 1 of a search: read the text once, before anything ranks it.

Validates it, corrects one-character typos in domain words, spells out acronyms, splits it
into clauses and says whether it is a keyword query or a long note. Every later stage works
on the ``Reading`` this returns; nothing reads the text again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tongdian.core.config import MAX_K, MAX_QUERY_CHARS
from tongdian.core.errors import QueryError
from tongdian.core.reading.segment import Split, shadow, split_text
from tongdian.core.reading.spelling import Fix, Speller
from tongdian.core.reading.text import Tokenizer, normalize

#: Acronyms are spelled out (for the typed answers) only in a text this short: a question
#: leans on its one short form. Off: ask_dev hit@1 -0.012, ask_indep2 -0.013 (indep +0.014);
#: 20 and 80 change at most one text (``python -m bench.knobs --only ACRONYM_MAX_CHARS``).
ACRONYM_MAX_CHARS = 40
#: A text longer than this is a note, not a briefing: each problem passage in it speaks for
#: itself, whatever share of the text it is (a note of six problems has six "asides"). Off:
#: the two test notes map +5 and +10 pain points they never discuss; 300 and 600 change no
#: text (``python -m bench.knobs --only LONG_NOTE_CHARS``).
LONG_NOTE_CHARS = 400
#: A text this short (characters, spaces aside) or of at most ``KEYWORD_MAX_WORDS`` Latin
#: words, without sentence punctuation, is a keyword query ("风控", "小微贷款"): the scope
#: model, fitted on whole statements, turns such a text away, while a search box should lead
#: to the topic it names. 0, 6 and 12 change two texts of the sets and no metric; what backs
#: it is tests/test_short_queries.py, our own keyword queries (``bench.knobs --only KEYWORD_MAX_CHARS``).
KEYWORD_MAX_CHARS = 8
#: ...or this many Latin words ("AI", "supply chain finance"); 0 fails test_short_queries (AML).
KEYWORD_MAX_WORDS = 3
#: Punctuation that makes a text a sentence, not a keyword query.
_SENTENCE_MARKS = re.compile(r"[。！？!?；;，,：:\n]")
#: Lone surrogates: undecodable input, dropped before anything reads the text.
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Reading:
    """A text as read: what the user wrote, what is ranked, and its clauses."""

    text: str  # as the user wrote it (stripped, line ends unified): echoed back
    read: str  # ...with its typos corrected where they were written: what is shown and ranked
    expansion: str  # business acronyms spelled out ("（小微企业）"): ranked, never shown
    fixes: list[Fix]  # the typo corrections, said to the user
    split: Split  # the clauses of ``read``
    keyword: bool  # a short keyword query, shaped like a search-box entry

    @property
    def long_note(self) -> bool:
        """Longer than ``LONG_NOTE_CHARS``: a meeting note, not a briefing."""
        return len(self.read) > LONG_NOTE_CHARS


def validate_query(text: object, k: object = 5, max_chars: int = MAX_QUERY_CHARS) -> tuple[str, int]:
    """The query as searched: stripped, line ends unified (a form posts CRLF, JSON sends LF:
    the same text must score the same by every route), within ``max_chars``."""
    if not isinstance(text, str):
        raise QueryError("the query must be text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", " ")
    # lone surrogates (undecodable bytes from a shell, broken JSON escapes) cannot be encoded
    # for the embedder; they carry no meaning, so they go
    text = _SURROGATES.sub("", text)
    stripped = text.strip()
    if not stripped or not normalize(stripped):
        raise QueryError("the query is empty: describe the bank's problem in a sentence or two")
    if len(stripped) > max_chars:
        raise QueryError(
            f"the query is {len(stripped)} characters long; the maximum is {max_chars}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_K}")
    return stripped, k


class Reader:
    """Reads texts against the domain's vocabulary; built once per engine.

    ``vocabulary``: the words a typo is corrected to; ``topic_terms``: the words that make a
    short text a keyword query; ``acronyms``: short form → what it stands for, business terms
    only (MSE, KYC): a technology's short form (AI, NLP) is read as that technology already,
    and spelled out it pulled a problem toward technology ("ＡＩ網點太多" → P20, not P14).
    """

    def __init__(self, vocabulary: Iterable[str], topic_terms: Iterable[str],
                 acronyms: Mapping[str, str], tokenizer: Tokenizer) -> None:
        self.speller = Speller(vocabulary, tokenizer)
        self.topic_terms = frozenset(n for n in (normalize(w) for w in topic_terms) if len(n) >= 2)
        self.acronyms = {a.lower(): v for a, v in acronyms.items()}
        self._acronym_rx = re.compile(
            r"(?<![a-z0-9])(" + "|".join(sorted(map(re.escape, self.acronyms), key=len,
                                                reverse=True)) + r")(?![a-z0-9])"
        ) if self.acronyms else None

    def read(self, text: str) -> Reading:
        """``text`` (already validated) read once: corrected, split, its shape named."""
        norm = normalize(text)
        fixes = self.speller.fixes(norm)
        read = _corrected(text, norm, fixes) if fixes else text
        norm = normalize(read) if fixes else norm  # the text read, normalised once
        return Reading(text, read, self.expansion(norm), fixes, split_text(read),
                       self.is_keyword_query(read, norm))

    def expansion(self, norm: str) -> str:
        """The acronyms of a short normalised text spelled out, as a bracket to rank after it."""
        if self._acronym_rx is None or len(norm) > ACRONYM_MAX_CHARS:
            return ""
        seen = dict.fromkeys(m.group(1) for m in self._acronym_rx.finditer(norm))
        spelled = [self.acronyms[a] for a in seen if self.acronyms[a] not in norm]
        return f"（{'、'.join(spelled)}）" if spelled else ""

    def is_keyword_query(self, text: str, norm: str) -> bool:
        """A short text (``norm``: it normalised) without sentence punctuation that holds a
        term of the vocabulary."""
        if _SENTENCE_MARKS.search(text):
            return False
        latin = re.findall(r"[a-z]+", norm)
        if latin and len(latin) > KEYWORD_MAX_WORDS:
            return False
        if not latin and len(norm.replace(" ", "")) > KEYWORD_MAX_CHARS:
            return False
        padded = f" {norm} "
        return any((f" {t} " in padded) if t.isascii() else (t in norm) for t in self.topic_terms)


def _corrected(text: str, norm: str, fixes: list[Fix]) -> str:
    """``text`` with its typos replaced where the user wrote them, the rest verbatim (the
    clauses quoted back are the user's own words); the normalised text corrected when a typo
    cannot be found in a same-length Simplified copy of the text."""
    sh = shadow(text).lower()
    out = text
    for typed, word in dict.fromkeys((f.typed, f.word) for f in fixes):
        if typed not in sh:
            return Speller.apply(norm, fixes)
        for m in reversed(list(re.finditer(re.escape(typed), sh))):
            out = out[: m.start()] + word + out[m.end():]
    return out
