"""Briefings split at sentence ends and at clause joints; fragments are never left alone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tongdian.core.segment import split_segments


def test_two_concerns_joined_by_a_comma_and_also() -> None:
    assert split_segments("我们拉新一个客户要三百块，还老被羊毛党薅") == [
        "我们拉新一个客户要三百块",
        "还老被羊毛党薅",
    ]


def test_sentences_and_semicolons() -> None:
    segs = split_segments("网点租金一年比一年贵、客流却在减少；同时贷后检查的人手也不够。会议共七人。")
    assert segs[0] == "网点租金一年比一年贵、客流却在减少"
    assert segs[1].startswith("同时贷后检查的人手")


def test_short_fragment_is_glued_to_its_neighbour() -> None:
    segs = split_segments("网点太冷清。好难。客户都去手机上办业务了")
    assert all(len(s) >= 6 for s in segs)
    assert "好难" in "".join(segs)


def test_english_sentences() -> None:
    segs = split_segments("Our branches are empty. Also, fraudsters keep opening fake accounts with stolen IDs.")
    assert len(segs) == 2 and segs[1].startswith("Also")


def test_code_mixed_clauses_count_both_scripts() -> None:
    # "同时" + an English sentence is a whole clause, not a fragment to glue away
    segs = split_segments("客户身份识别全靠柜员手工；同时Our agent channels charge high commissions."
                          "；同时Retail deposits keep leaking to money-market funds.")  # fmt: skip
    assert len(segs) == 3
    assert segs[1].startswith("同时Our agent")
    assert split_segments("网点冷清；同时cost up") == ["网点冷清，同时cost up"]  # both halves too short


def test_single_clause_is_one_segment() -> None:
    assert split_segments("网点成本太高") == ["网点成本太高"]


@given(st.text(max_size=500))
def test_never_empty_and_bounded(s: str) -> None:
    segs = split_segments(s)
    assert 1 <= len(segs) <= 8
