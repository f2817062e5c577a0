"""Cheap cues for passages of a meeting note that frame it rather than describe a problem.

Meeting notes open with the background and who attended, and close with next steps and
thanks. The scope model already refuses most of them, but a framing passage often names
the bank's business ("会谈背景：该行零售存款占比高…"), so a passage that *starts* like
framing is marked "not a problem" whatever its score. The cues are deliberately narrow:
a lead word at the start of the passage, or a greeting/attendance pattern that never
describes a pain. Passages are matched on their normalised (Simplified, lower-case) form.
"""

from __future__ import annotations

import re

from tongdian.core.reading.text import normalize

#: Section lead words that open a framing passage (Chinese, then English), each followed
#: by a colon or a comma; "背景" alone inside a sentence is not a cue.
_LEAD = re.compile(
    r"^(?:[一二三四五六七八九十\d]+[、.．)）]\s*)?"
    r"(?:会谈背景|会议背景|项目背景|背景介绍|背景|会议议程|议程|会议时间|会议地点|时间|地点|"
    r"参会人员|与会人员|出席人员|参会人|出席|与会|参加人员|主持人|记录人|纪要人|"
    r"下一步(?:计划|安排|工作)?|后续(?:安排|计划|工作|跟进)?|待办(?:事项)?|行动项|会议结论|"
    r"结语|备注|附件|"
    r"background|context|agenda|attendees|participants|present|next steps?|follow[- ]ups?|"
    r"action items?|date|venue|location|notes? taken by)\s*[:：,，]",
)
#: Whole-passage patterns: greetings, thanks, scheduling, who attended.
_PATTERNS = re.compile(
    r"^(?:各位|大家好|您好|你好|感谢|谢谢|非常感谢|多谢|hi\b|hello\b|dear\b|thanks?\b|thank you\b)"
    r"|(?:参会|与会|出席)(?:的)?(?:人员|领导|嘉宾)?(?:有|包括|为)"
    r"|(?:下周|下次|下一次|明天|后天|月底前|周[一二三四五六日天]).{0,12}(?:开会|会议|碰头|汇报|再约|再谈|回访)"
    r"|(?:希望|请)(?:咨询)?(?:团队|我们|贵方|顾问).{0,20}(?:准备|提交|提供|出具|整理)"
    r"|咨询团队|咨询项目|项目例会|纪要|会谈中|双方(?:就|还|再|约定|交换|确认|商定)"
    # asides about the conversation itself: what was only touched on, background, the wrap-up
    r"|(?:没有|没|未)(?:再)?(?:展开|细谈|深入)|背景介绍|最后总结|总结(?:时|一下)"
    r"|\b(?:we will|we'll) (?:meet|follow up|send|prepare|circulate)\b"
    r"|\b(?:meeting|call) (?:was held|took place|is scheduled)\b",
)


#: A passage that only *mentions* the meeting (not one that opens like framing) still counts
#: as a problem when it names a pain point at least this confidently ("他希望咨询团队想一想，
#: 怎样用更低的成本把零散的个人资金吸引进来" is a problem told to the consultants).
MENTION_OVERRIDE = 0.9


def framing_cue(passage: str, confidence: float = 0.0) -> str | None:
    """The cue that marks ``passage`` as framing, or None when it may describe a problem.

    ``confidence`` is how surely the passage names its best pain point: a lead cue
    ("会谈背景：") marks it whatever that is; a mention of the meeting only below
    ``MENTION_OVERRIDE``.
    """
    norm = normalize(passage)
    m = _LEAD.match(norm)
    if m is None and confidence < MENTION_OVERRIDE:
        m = _PATTERNS.search(norm)
    return m.group(0).strip(" :：,，") if m else None
