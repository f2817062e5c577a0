"""A consultant's shorthand: two to five words that name a topic of the report lead to it.

The scope model is fitted on whole statements and turns a bare keyword away; a search box
that answers "风控" with "no good match" while "风控难" finds P12 fails its user. A short
text answers when it holds a word of the report's vocabulary, and says that it was short;
a short text without one (or a sentence) is judged as before.
"""

from __future__ import annotations

import pytest

from tongdian.core.answers.respond import KEYWORD_MESSAGE


@pytest.mark.parametrize(("text", "want"), [
    ("风控", {"P12", "P11", "P06"}),
    ("小微贷款", {"P05", "P06", "P17"}),
    ("不良率上升", {"P10", "P12", "P06"}),
    ("反洗钱", {"P13"}),
    ("AML", {"P13"}),
    ("cross-border payments", {"P08"}),
])
def test_keyword_leads_to_its_topic(engine, text: str, want: set[str]) -> None:  # type: ignore[no-untyped-def]
    r = engine.search(text, 5)
    assert r.matched, r.message
    assert r.results[0].id in want, [x.id for x in r.results]
    # answered as a keyword, unless the scope model already reads it as a problem
    assert r.message.startswith(KEYWORD_MESSAGE) or r.in_scope >= r.threshold
    assert r.results[0].confidence > r.results[-1].confidence


@pytest.mark.parametrize("text", ["食堂", "足球比赛", "股价", "天气不好", "银行", "lunch menu"])
def test_short_text_off_the_vocabulary_is_still_turned_away(engine, text: str) -> None:  # type: ignore[no-untyped-def]
    assert not engine.search(text, 5).matched


def test_a_sentence_is_not_a_keyword_query(engine) -> None:  # type: ignore[no-untyped-def]
    # sentence punctuation: judged by the scope model as any statement is
    r = engine.search("今天食堂，反洗钱", 5)
    assert not r.message.startswith(KEYWORD_MESSAGE)
