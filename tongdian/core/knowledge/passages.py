"""Turn corpus entries into the "views" that get indexed.

An entry is matched through many short texts rather than one long one: a banker's
sentence resembles one example statement or one approach line far more than it
resembles the whole entry, and per-view scores can then be aggregated per entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from tongdian.core.knowledge.corpus import Corpus
from tongdian.core.knowledge.schema import PainPoint


class PassageKind(IntEnum):
    EXAMPLE = 0
    TITLE = 1
    PAIN = 2
    APPROACH = 3
    SUMMARY_EN = 4
    KEYWORDS = 5
    WRITTEN = 6  # an example in a written register (news, report, paper, English press)


#: Not a knob: the passages that state a problem (embedded as queries; the ranker learns on them).
EXAMPLE_KINDS = frozenset({PassageKind.EXAMPLE, PassageKind.WRITTEN})


@dataclass(frozen=True)
class Passage:
    entry: int  # position of the pain point in Corpus.painpoints
    kind: PassageKind
    text: str

    @property
    def is_query_like(self) -> bool:
        """Example statements are written like queries and embedded with the query prefix."""
        return self.kind in EXAMPLE_KINDS


def entry_passages(i: int, pp: PainPoint, with_examples: bool = True) -> list[Passage]:
    views = [
        Passage(i, PassageKind.TITLE, f"{pp.title}（{pp.title_en}）"),
        Passage(i, PassageKind.PAIN, pp.pain),
        Passage(i, PassageKind.SUMMARY_EN, pp.summary_en),
        Passage(i, PassageKind.KEYWORDS, "、".join([*pp.keywords, *pp.aliases])),
    ]
    for a in pp.approaches:
        views.append(Passage(i, PassageKind.APPROACH, a.text))
        views.append(Passage(i, PassageKind.APPROACH, a.note_en))
    if with_examples:
        views.extend(Passage(i, PassageKind.EXAMPLE, ex) for ex in pp.examples)
        views.extend(Passage(i, PassageKind.WRITTEN, ex) for ex in pp.written_examples)
    return views


def corpus_passages(corpus: Corpus, with_examples: bool = True) -> list[Passage]:
    return [v for i, pp in enumerate(corpus.painpoints) for v in entry_passages(i, pp, with_examples)]


def entry_document(pp: PainPoint, with_examples: bool = True) -> str:
    """All of an entry's text as one lexical document (for entry-level BM25)."""
    parts = [pp.title, pp.title_en, pp.summary_en, pp.pain, *pp.keywords, *pp.aliases]
    for a in pp.approaches:
        parts += [a.text, a.note_en]
    if with_examples:
        parts += [*pp.examples, *pp.written_examples]
    return "\n".join(parts)
