"""Pain points named by number or title: "P5", "第十四个痛点", "痛点十一", "五、", "pain point 5".

Consultants who have read the report ask about an entry by the number they remember, not
by describing a problem; a ranker trained on problem statements cannot see a number, so
references are parsed before anything is ranked. Pure functions over normalised text
(lower case, half width), no corpus I/O: the caller passes the ids and titles it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: Chinese digits → values (十 and 百 are read by the parser).
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
#: A Chinese number, as a pattern.
_ZH_NUM = "[零〇一二两三四五六七八九十百]+"
#: A number in digits or Chinese.
_NUM = rf"(?:\d{{1,3}}|{_ZH_NUM})"

#: English ordinals → values ("the fifth pain point").
_EN_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20,
}

#: "P5", "p05", "P 12" — never the "p2p" of peer-to-peer lending, nor "app5".
_P_ID = re.compile(r"(?<![a-z0-9])p\s?0*(\d{1,3})(?![0-9a-z])")
#: "第五个痛点", "第18个是什么", "第3项", "第六个和第十七个痛点"; not "第一步", "第二种模式", "第二个原因是…".
_ORDINAL_ZH = re.compile(rf"第\s*({_NUM})\s*(?:(?:个|条|项|大)?\s*痛点|(?:个|条|项)(?=$|[是讲说的呢吗怎有提?,.]|[和与跟及、]\s*第\s*{_NUM}\s*(?:个|条|项)?\s*(?:痛点|[是讲说的呢吗怎有提?,.])))")
#: "痛点五", "痛点 11", "痛点No.3".
_AFTER_WORD = re.compile(rf"痛点\s*(?:no\.?|#)?\s*({_NUM})(?![个条项种步])")
#: "五、小微企业…": the report's numbering opening a short question (``LIST_MARK_MAX_CHARS``).
_LIST_MARK = re.compile(rf"^\W{{0,2}}({_ZH_NUM})\s*、")
#: A "五、" opening or quoted "“九、”" is a reference only in a text this short (a question, not a memo's list);
#: bench.knobs --only LIST_MARK_MAX_CHARS: off loses 2 ask questions, 20 or 80 change no text.
LIST_MARK_MAX_CHARS = 40
#: "报告里“九、”那一条": the report's numbering quoted anywhere in a short question.
_QUOTED_MARK = re.compile(rf"[\"'“‘「『]\s*({_ZH_NUM})\s*、\s*[\"'”’」』]")
#: "pain point 5", "pain points 12 and 17", "painpoint #3".
_EN_NUMBER = re.compile(r"pain\s?points?\s*(?:no\.?|number|#)?\s*(\d{1,3})((?:\s*(?:,|and|&|vs\.?|or)\s*\d{1,3})*)")
#: "the fifth pain point", "the 3rd one".
_EN_ORDINAL = re.compile(r"(?:the\s+)?(" + "|".join(_EN_ORDINALS) + r"|\d{1,2}(?:st|nd|rd|th))\s+(?:pain\s?point|one)")

#: Words that turn two references into a comparison ("P05和P12有什么区别").
COMPARE_CUES = re.compile(r"区别|不同|差别|差异|异同|对比|比较|相比|vs\.?|versus|compare|difference|differ")
#: Words that say the text points at an entry of the report ("反欺诈那个痛点", "农业金融那一条").
REF_CUES = re.compile(r"痛点|那条|这条|那一条|这一条|那一项|排第几|第几|哪一条|pain\s?point")


def zh_number(s: str) -> int | None:
    """"十四" → 14, "二十" → 20, "一百零三" → 103, "18" → 18; None for what is not a number."""
    if s.isdigit():
        return int(s)
    total, section = 0, 0
    for ch in s:
        if ch in _ZH_DIGITS:
            section = _ZH_DIGITS[ch]
        elif ch == "十":
            total += (section or 1) * 10
            section = 0
        elif ch == "百":
            total += (section or 1) * 100
            section = 0
        else:
            return None
    return total + section


@dataclass(frozen=True)
class References:
    """What a text names: pain-point ids in the order they appear, and whether it compares them."""

    ids: tuple[str, ...]
    compare: bool
    how: Mapping[str, str]  # id → the words that named it ("P5", "第十四个痛点", a title)


def _id_of(n: int | None, valid: Sequence[str]) -> str | None:
    if n is None:
        return None
    pid = f"P{n:02d}"
    return pid if pid in valid else None


def find_references(
    norm: str, ids: Sequence[str], titles: Mapping[str, Iterable[str]] | None = None
) -> References:
    """Pain points ``norm`` (normalised text) names, by number in any form or by title.

    ``titles`` maps an id to its full title and short titles; a short title counts only
    next to a cue word ("那个痛点", "那一条"), since "反欺诈怎么做" is a problem to rank,
    not a reference, while a long fragment of the full title counts on its own.
    """
    norm = norm.lower()  # callers pass normalised text; lower case is all the rules assume
    found: list[tuple[int, str, str]] = []  # (position, id, words)

    def add(pos: int, n: int | None, words: str) -> None:
        pid = _id_of(n, ids)
        if pid is not None:
            found.append((pos, pid, words))

    for m in _P_ID.finditer(norm):
        add(m.start(), int(m.group(1)), m.group(0))
    for rx in (_ORDINAL_ZH, _AFTER_WORD, _LIST_MARK, _QUOTED_MARK):
        if rx is _QUOTED_MARK and len(norm) > LIST_MARK_MAX_CHARS:
            continue
        if rx is _LIST_MARK and (len(norm) > LIST_MARK_MAX_CHARS
                                 or len(re.findall(rf"{_ZH_NUM}\s*、", norm)) > 1):
            continue
        for m in rx.finditer(norm):
            add(m.start(1), zh_number(m.group(1)), m.group(0).strip())
    for m in _EN_NUMBER.finditer(norm):
        add(m.start(), int(m.group(1)), m.group(0))
        for extra in re.finditer(r"\d{1,3}", m.group(2) or ""):
            add(m.start(2) + extra.start(), int(extra.group(0)), extra.group(0))
    for m in _EN_ORDINAL.finditer(norm):
        word = m.group(1)
        n = _EN_ORDINALS.get(word) or int(re.sub(r"\D", "", word))
        add(m.start(), n, m.group(0))
    if titles:
        cue = REF_CUES.search(norm) is not None
        for pid, names in titles.items():
            for i, name in enumerate(names):
                name = name.lower()
                pos = norm.find(name)
                if pos >= 0 and (i == 0 or cue):  # the first name is the full title
                    found.append((pos, pid, name))
                    break
                if i == 0 and (frag := _title_fragment(norm, name)) is not None:
                    found.append((norm.find(frag), pid, frag))
                    break
    found.sort()
    ordered: dict[str, str] = {}
    for _, pid, words in found:
        ordered.setdefault(pid, words)
    compare = len(ordered) >= 2 and (COMPARE_CUES.search(norm) is not None
                                     or re.search(r"[和与跟及、]|and", norm) is not None)
    return References(tuple(ordered), compare, ordered)


#: "第三种合作模式", "第二种模式", "模式三": a cooperation mode by its place.
_MODE_ZH = re.compile(r"第\s*([一二三123])\s*(?:种|个|类|条)\s*(?:合作)?\s*(?:模式|方式|策略|路径|路子|途径)"
                      r"|(?:合作)?(?:模式|策略)\s*([一二三123])(?![0-9十])")
#: "the third mode", "the second cooperation strategy".
_MODE_EN = re.compile(r"(?:the\s+)?(first|second|third|1st|2nd|3rd)\s+(?:cooperation\s+|partnership\s+)?"
                      r"(?:mode|model|way|strategy|approach)")


def find_mode_ordinal(norm: str) -> int | None:
    """The place (1–3) of a cooperation mode a text names by its order in the report, if any.

    The report lists its three modes in order and consultants remember "the third one";
    pain-point ordinals never use 种 (see ``_ORDINAL_ZH``), so the two cannot be confused.
    """
    norm = norm.lower()
    m = _MODE_ZH.search(norm)
    if m is not None:
        return zh_number(m.group(1) or m.group(2))
    m = _MODE_EN.search(norm)
    if m is not None:
        w = m.group(1)
        return _EN_ORDINALS.get(w) or int(w[0])
    return None


def _title_fragment(norm: str, title: str) -> str | None:
    """The longest piece of ``title`` found in ``norm``, if it is long enough to name it."""
    # most of the title (titles run 8-17 characters); a floor of 2, 4, 6 or 8 characters
    # beside it changed no text of any set or test, so there is none
    need = int(len(title) * 0.6)
    for size in range(len(title), need - 1, -1):
        for start in range(len(title) - size + 1):
            frag = title[start : start + size]
            if frag in norm:
                return frag
    return None
