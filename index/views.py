"""Turn corpus entries into the "views" that get indexed.

An entry is matched through many short texts rather than one long one: a banker's
sentence resembles one example statement or one approach line far more than it
resembles the whole entry, and per-view scores can then be aggregated per entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from tongdian.corpus import Corpus
from tongdian.schema import PainPoint


class ViewKind(IntEnum):
    EXAMPLE = 0
    TITLE = 1
    PAIN = 2
    APPROACH = 3
    SUMMARY_EN = 4
    KEYWORDS = 5


@dataclass(frozen=True)
class View:
    entry: int  # position of the pain point in Corpus.painpoints
    kind: ViewKind
    text: str

    @property
    def is_query_like(self) -> bool:
        """Example statements are written like queries and embedded with the query prefix."""
        return self.kind is ViewKind.EXAMPLE


def entry_views(i: int, pp: PainPoint, with_examples: bool = True) -> list[View]:
    views = [
        View(i, ViewKind.TITLE, f"{pp.title}（{pp.title_en}）"),
        View(i, ViewKind.PAIN, pp.pain),
        View(i, ViewKind.SUMMARY_EN, pp.summary_en),
        View(i, ViewKind.KEYWORDS, "、".join([*pp.keywords, *pp.aliases])),
    ]
    for a in pp.approaches:
        views.append(View(i, ViewKind.APPROACH, a.text))
        views.append(View(i, ViewKind.APPROACH, a.note_en))
    if with_examples:
        views.extend(View(i, ViewKind.EXAMPLE, ex) for ex in pp.examples)
    return views


def corpus_views(corpus: Corpus, with_examples: bool = True) -> list[View]:
    return [v for i, pp in enumerate(corpus.painpoints) for v in entry_views(i, pp, with_examples)]


def entry_document(pp: PainPoint, with_examples: bool = True) -> str:
    """All of an entry's text as one lexical document (for entry-level BM25)."""
    parts = [pp.title, pp.title_en, pp.summary_en, pp.pain, *pp.keywords, *pp.aliases]
    for a in pp.approaches:
        parts += [a.text, a.note_en]
    if with_examples:
        parts += pp.examples
    return "\n".join(parts)
