"""One-character typos in domain words: "风空" → 风控, "供应连" → 供应链, "系统行风险" → 系统性风险.

Pinyin input methods make a typo that *sounds* right: the wrong character of the same
reading. So a correction is offered only when (1) the typed span is not a word jieba knows,
(2) exactly one domain word differs from it in one character, and (3) the two characters
share a toneless reading or sit in a small set of look-alikes. Anything ambiguous is left
as typed, and every correction is reported to the user ("按「风控」理解"), never silent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, pinyin

from tongdian.core.reading.text import Tokenizer, has_cjk, normalize

#: Characters that look alike and get swapped in hand-copied or OCR'd text (both ways).
LOOKALIKES = frozenset({frozenset(p) for p in (
    "贷货", "末未", "己已", "侯候", "拨拔", "账帐", "汇江", "融触", "券卷", "债责", "险脸",
)})
#: Shortest and longest domain word considered (two characters: 风控; seven: 法律合规风险…).
MIN_WORD, MAX_WORD = 2, 8


@lru_cache(maxsize=8192)
def reading(ch: str) -> str:
    """A character's usual toneless pinyin. Only the usual one: rare readings (抵 as zhi)
    would make 质押物 a typo of 抵押物."""
    got = pinyin(ch, style=Style.NORMAL, heteronym=False, errors="ignore")
    return got[0][0] if got and got[0] else ""


def confusable(a: str, b: str) -> bool:
    return a != b and ((reading(a) != "" and reading(a) == reading(b))
                       or frozenset((a, b)) in LOOKALIKES)


@dataclass(frozen=True)
class Fix:
    typed: str
    word: str
    start: int  # offset in the normalised text

    @property
    def message(self) -> str:
        return f"「{self.typed}」按「{self.word}」理解"


class Speller:
    """Corrects one-character typos against a fixed domain vocabulary."""

    def __init__(self, vocabulary: Iterable[str], tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.vocab = frozenset(
            w for w in (normalize(v) for v in vocabulary)
            if MIN_WORD <= len(w) <= MAX_WORD and has_cjk(w) and all(has_cjk(c) for c in w)
        )
        # (length, position, the word with that position blanked) → words
        self._holes: dict[tuple[int, int, str], list[str]] = defaultdict(list)
        for w in self.vocab:
            for i in range(len(w)):
                self._holes[(len(w), i, w[:i] + w[i + 1 :])].append(w)

    def candidates(self, span: str) -> set[str]:
        """Domain words one confusable character away from ``span``."""
        out = set()
        for i in range(len(span)):
            for w in self._holes.get((len(span), i, span[:i] + span[i + 1 :]), ()):
                if confusable(span[i], w[i]):
                    out.add(w)
        return out

    def fixes(self, norm: str) -> list[Fix]:
        """Corrections for normalised text, longest span first, never overlapping."""
        words = self.tokenizer.spans(norm)
        found: list[Fix] = []
        for a in range(len(words)):
            for b in range(a + 1, len(words)):  # two words or more: a known word is no typo
                start, end = words[a][1], words[b][2]
                if end - start > MAX_WORD:
                    break
                span = norm[start:end]
                if span in self.vocab or not all(has_cjk(c) for c in span):
                    continue
                cands = self.candidates(span)
                if len(cands) != 1:
                    continue
                found.append(Fix(span, next(iter(cands)), start))
        found.sort(key=lambda f: (-len(f.typed), f.start))
        taken: set[int] = set()
        out = []
        for f in found:
            cells = set(range(f.start, f.start + len(f.typed)))
            if not cells & taken:
                taken |= cells
                out.append(f)
        return sorted(out, key=lambda f: f.start)

    @staticmethod
    def apply(norm: str, fixes: list[Fix]) -> str:
        for f in sorted(fixes, key=lambda f: -f.start):
            norm = norm[: f.start] + f.word + norm[f.start + len(f.typed) :]
        return norm
