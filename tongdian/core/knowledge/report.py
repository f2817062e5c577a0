"""Parse the source report (the seed text) into its twenty pain-point sections.

The corpus is authored from this text, and two things keep needing it afterwards: the
faithfulness test (every 应对思路 line must still be in the corpus) and the quality
bench, whose peer systems search the raw report rather than our enriched corpus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: A format: the report's section numbers 一 … 二十, in order.
CN_NUMERALS = [
    "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
    "十一", "十二", "十三", "十四", "十五", "十六", "十七", "十八", "十九", "二十",
]  # fmt: skip

#: A section heading of the report ("五、标题").
_HEAD = re.compile(r"^(?P<num>[一二三四五六七八九十]+)、(?P<title>.+)$")


@dataclass(frozen=True)
class ReportSection:
    """One numbered pain point as the report prints it."""

    id: str
    number: int
    title: str
    pain: str
    approaches: tuple[str, ...]

    @property
    def text(self) -> str:
        """The section as one passage, for peers that index raw report text."""
        return f"{self.title}。痛点：{self.pain} 应对思路：{''.join(self.approaches)}"


def parse_sections(text: str) -> list[ReportSection]:
    """Return the twenty sections in report order.

    Each section is one line whose fields are separated by runs of spaces:
    ``一、标题  痛点  <pain>  应对思路  <line>  <line>…``.
    """
    sections: list[ReportSection] = []
    for line in text.splitlines():
        fields = [f for f in re.split(r"\s{2,}", line.strip()) if f]
        if len(fields) < 5 or fields[1] != "痛点" or fields[3] != "应对思路":
            continue
        head = _HEAD.match(fields[0])
        if head is None or head.group("num") not in CN_NUMERALS:
            continue
        number = CN_NUMERALS.index(head.group("num")) + 1
        sections.append(
            ReportSection(
                id=f"P{number:02d}",
                number=number,
                title=head.group("title"),
                pain=fields[2],
                approaches=tuple(fields[4:]),
            )
        )
    numbers = [s.number for s in sections]
    if numbers != list(range(1, 21)):
        raise ValueError(f"expected sections 一…二十 in order, found {numbers}")
    return sections


def load_sections(path: Path) -> list[ReportSection]:
    return parse_sections(path.read_text(encoding="utf-8"))
