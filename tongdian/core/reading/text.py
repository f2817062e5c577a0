"""Text normalisation and tokenisation, applied identically to corpus and queries.

Any asymmetry between how the index and a query are normalised silently costs recall,
so everything that turns raw text into comparable text lives here and nowhere else.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

import jieba
import opencc
import Stemmer

jieba.setLogLevel(logging.WARNING)

#: Distinct texts whose tokens are memoised (a few KB each; the answer cache serves repeats).
TOKEN_CACHE_SIZE = 2048

#: Control, bidi and zero-width characters: removed before anything reads the text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u061c]")
#: Runs of white space, collapsed to one.
_SPACE = re.compile(r"\s+")
#: A Chinese character (CJK unified ideographs and extension A).
_CJK = re.compile(r"[\u3400-\u9fff]")
#: A Latin word, hyphens inside it kept ("e-commerce").
_LATIN_WORD = re.compile(r"[a-z][a-z0-9\-]*[a-z0-9]|[a-z]")
#: A token must hold one of these: punctuation alone is no token.
_TOKEN_OK = re.compile(r"[\u3400-\u9fffa-z0-9]")
#: Words that say nothing about which pain point a text names (particles, pronouns, hedges).
DEFAULT_STOPWORDS = frozenset(
    ["的", "了", "是", "在", "和", "与", "及", "或", "也", "都", "就", "还", "又", "而", "但", "却", "被", "把", "让", "给", "对", "向", "从", "为", "以", "于", "等", "这", "那", "这个", "那个", "这些", "那些", "我", "我们", "你", "你们", "他", "他们", "她", "它", "咱们", "自己", "大家", "一个", "一些", "一下", "什么", "怎么", "怎样", "如何", "哪些", "哪个", "能否", "能不能", "是否", "吗", "呢", "吧", "啊", "呀", "嘛", "很", "太", "更", "最", "非常", "特别", "比较", "越来越", "已经", "一直", "现在", "目前", "今年", "去年", "可以", "可能", "应该", "需要", "想", "要", "会", "能", "有", "没有", "没", "不", "个", "些", "种", "次", "上", "下", "中", "里", "后", "前", "其", "之", "所", "着", "过", "得", "地", "并", "且", "如果", "因为", "所以", "虽然", "但是", "而且", "然后", "同时", "另外", "此外", "还是", "以及", "the", "a", "an", "of", "to", "in", "on", "for", "and", "or", "is", "are", "was", "were", "be", "been", "it", "this", "that", "we", "our", "us", "you", "your", "they", "their", "i", "my", "me", "with", "at", "by", "from", "as", "how", "what", "which", "can", "could", "should", "would", "do", "does", "did", "not", "no", "so", "but", "if", "have", "has", "had", "will", "about", "into", "than", "then", "there", "here"]
)


@lru_cache(maxsize=4)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def normalize(text: str) -> str:
    """Canonical form for matching: NFKC (full→half width), Traditional→Simplified, lower case.

    Control characters, lone surrogates and bidi overrides are dropped because users paste
    them from chat tools and they must neither crash nor change a match.
    """
    text = _CONTROL.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    if _CJK.search(text):
        # A few OpenCC mappings chain (薴 → 苧 → 苎, 乾圖 → 乾图 → 干图): convert until
        # nothing changes, so normalising twice gives what normalising once gave.
        t2s = _converter("t2s")
        for _ in range(4):
            converted = t2s.convert(text)
            if converted == text:
                break
            text = converted
    return _SPACE.sub(" ", text).strip().lower()


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


class Tokenizer:
    """jieba with the finance user dictionary, plus synonym canonicalisation and English stems.

    A private ``jieba.Tokenizer`` keeps our dictionary out of the process-wide default one,
    so that two corpora (say in tests) never leak words into each other.
    """

    def __init__(
        self,
        userdict: Iterable[str] = (),
        synonyms: Iterable[Sequence[str]] = (),
        extra_words: Iterable[str] = (),
        stopwords: frozenset[str] = DEFAULT_STOPWORDS,
    ) -> None:
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        for line in userdict:
            parts = line.split()
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            self._jieba.add_word(normalize(parts[0]), freq=freq)
        self.canonical: dict[str, str] = {}
        for group in synonyms:
            head = normalize(group[0])
            for term in group:
                t = normalize(term)
                self.canonical[t] = head
                if has_cjk(t) and " " not in t:
                    self._jieba.add_word(t, freq=2000)
        for w in extra_words:
            w = normalize(w)
            if has_cjk(w) and " " not in w and 2 <= len(w) <= 12:
                self._jieba.add_word(w, freq=1500)
        self.stopwords = stopwords
        # Bounded LRU (thread-safe): chat tools repeat questions, but a server that sees
        # millions of distinct texts must not grow without limit.
        self._memo = lru_cache(maxsize=TOKEN_CACHE_SIZE)(self._tokens)

    def words(self, normalized: str) -> list[str]:
        """Raw jieba words of already-normalised text (search mode: long words also yield parts)."""
        return [w for w in self._jieba.cut_for_search(normalized) if w.strip()]

    def spans(self, normalized: str) -> list[tuple[str, int, int]]:
        """Dictionary words of already-normalised text with their offsets, without HMM guesses:
        an unknown pair of characters ("风空") stays two words, which is what tells the
        spelling check where a typo may sit."""
        return list(self._jieba.tokenize(normalized, HMM=False))

    def tokens(self, text: str) -> list[str]:
        """Index/query tokens: normalised, segmented, stop-words dropped, synonyms canonicalised.

        Memoised; callers must not mutate the returned list.
        """
        return self._memo(text)

    def clear_cache(self) -> None:
        """Forget memoised tokenisations (benchmarks time the cold path with it)."""
        self._memo.cache_clear()

    def _tokens(self, text: str) -> list[str]:
        norm = normalize(text)
        out: list[str] = []
        stem = _stemmer()
        for w in self.words(norm):
            if w in self.stopwords or not _TOKEN_OK.search(w):
                continue
            if not has_cjk(w):
                for lw in _LATIN_WORD.findall(w):
                    t = self.canonical.get(lw, stem.stemWord(lw))
                    # a word can stem to a stop-word ("its" -> "it"): drop both forms
                    if lw not in self.stopwords and t not in self.stopwords:
                        out.append(t)
                continue
            if len(w) == 1 and w not in self.canonical:
                continue
            out.append(self.canonical.get(w, w))
        return out
