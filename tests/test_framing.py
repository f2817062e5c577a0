"""Framing cues: passages that open like background, agenda, next steps or greetings."""

from __future__ import annotations

import pytest

from tongdian.core.reading.framing import MENTION_OVERRIDE, framing_cue


@pytest.mark.parametrize("text", [
    "会谈背景：该行在本省有八十多家网点，今年资产增速放缓",
    "議程：先由行長介紹戰略，再由各部門發言",
    "参会人员：零售部总经理、科技部总经理",
    "下一步：整理一份问题清单",
    "二、后续安排：下周再约",
    "感谢各位今天抽时间参加交流",
    "Next steps: we will send the list of issues by Friday",
    "Attendees: head of retail, CIO",
    "下周三下午双方再开一次会",
])
def test_framing_passages_have_a_cue(text: str) -> None:
    assert framing_cue(text) is not None


@pytest.mark.parametrize("text", [
    "网点一天进不来几个客户，房租却一年比一年贵",
    "新户立减活动被羊毛党薅光了，背景调查也没发现",
    "Fraudsters keep opening fake accounts with stolen IDs",
])
def test_problems_have_none(text: str) -> None:
    assert framing_cue(text) is None


def test_a_confident_problem_that_mentions_the_consultants_is_still_a_problem() -> None:
    text = "他希望咨询团队想一想，怎样把流失的活期存款拉回来"
    assert framing_cue(text, confidence=0.2) is not None
    assert framing_cue(text, confidence=MENTION_OVERRIDE) is None
    # a lead cue marks it whatever the confidence
    assert framing_cue("背景：存款流失严重", confidence=0.99) == "背景"


@pytest.mark.parametrize("text", ["这部分内容主要是背景介绍", "但没有展开谈", "王副行长最后总结说，下次再约"])
def test_asides_about_the_conversation_are_framing(text: str) -> None:
    assert framing_cue(text) is not None
    # a passage that names a pain point surely is still a problem, whatever it mentions
    assert framing_cue(text, confidence=0.95) is None
