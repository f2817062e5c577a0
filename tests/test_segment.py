"""Briefings split at sentence ends and at clause joints; fragments are never left alone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tongdian.core.reading.segment import (
    MAX_SEGMENTS,
    clean,
    comma_pieces,
    split_segments,
    split_text,
)


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
    # both halves too short: glued back as the user wrote them, their own "；" between
    assert split_segments("网点冷清；同时cost up") == ["网点冷清；同时cost up"]


def test_single_clause_is_one_segment() -> None:
    assert split_segments("网点成本太高") == ["网点成本太高"]


@given(st.text(max_size=500))
def test_never_empty_and_bounded(s: str) -> None:
    segs = split_segments(s)
    assert 1 <= len(segs) <= MAX_SEGMENTS


@given(st.text(max_size=300))
def test_no_clause_starts_or_ends_with_a_separator(s: str) -> None:
    for seg in split_segments(s):
        if clean(seg):  # a text of punctuation alone comes back as it is (nothing to split)
            assert seg[0] not in "，,。；;、：:" and seg[-1] not in "，,。；;、：:", seg


def test_a_long_note_keeps_every_clause_in_order() -> None:
    # 300 sentences: the old cap (8 longest clauses) would have dropped most of them silently
    note = "".join(f"第{i}个问题是网点租金太贵了。" for i in range(300))
    split = split_text(note)
    assert len(split.segments) == 300 and not split.truncated
    assert split.segments[0].startswith("第0个") and split.segments[-1].startswith("第299个")
    assert split.analysed_chars == len(note)


def test_past_the_cap_the_cut_is_reported() -> None:
    note = "".join(f"第{i}个问题是网点租金太贵了。" for i in range(30))
    split = split_text(note, max_segments=10)
    assert split.truncated and len(split.segments) == 10
    assert 0 < split.analysed_chars < len(note)
    assert note[: split.analysed_chars].endswith("第9个问题是网点租金太贵了")


def test_comma_pieces_in_simplified_traditional_and_english() -> None:
    assert comma_pieces("我们的存款都流到余额宝了，跨境汇款到账要好几天，网点客流也越来越少") == [
        "我们的存款都流到余额宝了", "跨境汇款到账要好几天", "网点客流也越来越少"]
    assert comma_pieces("我們的存款都流到餘額寶了，跨境匯款到帳要好幾天，網點客流也越來越少") == [
        "我們的存款都流到餘額寶了", "跨境匯款到帳要好幾天", "網點客流也越來越少"]
    assert comma_pieces("Our deposits keep leaking to money market funds and cross-border "
                        "payments take days to arrive") == [
        "Our deposits keep leaking to money market funds",
        "cross-border payments take days to arrive"]
    # pieces too short to stand alone stay one clause
    assert comma_pieces("网点冷清，成本高，客户少") == ["网点冷清，成本高，客户少"]


def test_traditional_joints_split_like_simplified() -> None:
    assert split_segments("我們拉新一個客戶要三百塊，還老被羊毛黨薅") == [
        "我們拉新一個客戶要三百塊", "還老被羊毛黨薅"]


def test_english_also_inside_a_clause_is_not_a_joint() -> None:
    # "also" mid-clause belongs to its clause; the "and" between the two halves is where
    # comma_pieces may cut, and each piece reads as the user wrote it
    text = "Branch costs keep rising and loan approvals also take two weeks"
    assert split_segments(text) == [text]
    assert comma_pieces(text) == ["Branch costs keep rising", "loan approvals also take two weeks"]


def test_english_comma_and_keeps_both_halves_without_the_conjunction() -> None:
    text = ("Our deposits keep leaking to money market funds, and fraud on new-customer "
            "promotions is also a problem")
    assert comma_pieces(split_segments(text)[0]) == [
        "Our deposits keep leaking to money market funds",
        "fraud on new-customer promotions is also a problem"]


@given(st.text(alphabet="ab c,.;也还，。；\n", max_size=200))
def test_clauses_are_verbatim_stretches_of_the_text(s: str) -> None:
    # nothing is inserted: every clause (glued or not) is a substring of what was typed
    for seg in split_segments(s):
        assert seg in s or seg == s.strip()
    for piece in comma_pieces(s):
        assert piece in s


def test_glued_fragments_keep_the_users_punctuation() -> None:
    segs = split_segments("Fraud is up. Also bad. Branch costs keep rising every single year.")
    assert all("，" not in seg for seg in segs)
    assert "Fraud is up. Also bad" in segs[0]
