"""Normalisation is symmetric, total and idempotent; tokens canonicalise synonyms."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tongdian.core.reading.text import Tokenizer, normalize


def test_nfkc_width_case_and_space() -> None:
    assert normalize("ＡＢＣ　１２３\t\n Fintech") == "abc 123 fintech"


def test_traditional_to_simplified() -> None:
    assert normalize("客戶盡職審查與洗錢防制") == "客户尽职审查与洗钱防制"


def test_control_characters_and_bidi_are_dropped() -> None:
    assert normalize("反\x00洗\u202e钱\ufeff") == "反 洗 钱"


def test_tokens_canonicalise_synonyms_and_keep_dictionary_words() -> None:
    tok = Tokenizer(userdict=["羊毛党 3000 n"], synonyms=[["获客", "拉新", "引流"]])
    toks = tok.tokens("我们拉新成本太高，还被羊毛党盯上")
    assert "获客" in toks and "拉新" not in toks
    assert "羊毛党" in toks
    assert "我们" not in toks  # stop word


def test_english_tokens_are_stemmed() -> None:
    tok = Tokenizer()
    assert tok.tokens("Branches and PAYMENTS") == ["branch", "payment"]


def test_traditional_and_simplified_give_the_same_tokens() -> None:
    tok = Tokenizer()
    assert tok.tokens("實體分行的租金很高") == tok.tokens("实体分行的租金很高")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalize_is_total_and_idempotent(s: str) -> None:
    once = normalize(s)
    assert normalize(once) == once
    assert once == once.strip()


_TOK = Tokenizer()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_tokens_never_fail_and_are_clean(s: str) -> None:
    for t in _TOK.tokens(s):
        assert t and t == t.strip() and t not in _TOK.stopwords


def test_a_word_that_stems_to_a_stopword_is_dropped() -> None:
    """Hypothesis found it: "ITS" stems to "it", a stop-word, and reached the index."""
    assert "it" not in _TOK.tokens("ITS its branch")
