"""The chat bot's Markdown: matches, remedies and risks, with the user's text made inert."""

from __future__ import annotations

import re
from urllib.parse import quote

from tongdian.core.answers.models import SearchResponse

from .render import STRONG_CONFIDENCE, percent, zh_punct
from .typed import corrections_line, typed_lines

#: Characters with a meaning in Markdown, HTML or chat mark-up (Slack's <…|…>, mentions),
#: swapped for their full-width look-alikes: the text stays readable to a Chinese reader and
#: can neither format, link, embed an image, open a tag nor ping a channel.
_NEUTRAL = str.maketrans({
    "[": "［", "]": "］", "<": "＜", ">": "＞", "`": "｀", "*": "＊", "_": "＿",
    "#": "＃", "|": "｜", "~": "～", "\\": "＼", "!": "！", "(": "（", ")": "）",
    "&": "＆", "@": "＠", "$": "＄", "{": "｛", "}": "｝",
})


def neutralise(text: str, limit: int = 120) -> str:
    """User text made inert for Markdown chat: one line, no markup characters, no autolinks."""
    one_line = " ".join(text.split())
    safe = one_line.translate(_NEUTRAL).replace("://", "：//")
    # no lone URLs either: "www." autolinks in several chat tools
    safe = re.sub(r"(?i)\bwww\.", "www．", safe)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def chat_markdown(r: SearchResponse, base_url: str, k: int = 3) -> str:
    """The reply a bot posts as is: matches, top approaches, key risks, links to the pages."""
    base = base_url.rstrip("/")
    asked = neutralise(r.query)
    lines: list[str] = [f"**痛点匹配**：「{asked}」", ""]
    typed = typed_lines(r, base, markdown=True)  # a question about the report: its answer first
    fixed = corrections_line(r)
    lines += [*([fixed, ""] if fixed else []), *typed, *([""] if typed else [])]
    if typed and not r.matched:
        return "\n".join([*lines, f"全部二十个痛点：{base}/"])
    if not r.matched:
        lines.append("没有找到足够匹配的银行痛点。可以换个说法，描述业务上遇到的具体困难，"
                     "例如“小微企业贷款审批太慢、风控靠人工”。")
        if r.results:
            lines.append("")
            lines.append("最接近的候选（仅供参考）：")
            for x in r.results[:k]:
                lines.append(f"- {x.id} {x.title}（{base}/p/{x.id}）")
        lines += ["", f"全部二十个痛点：{base}/"]
        return "\n".join(lines)
    if r.segments:
        lines.append("**分段解读**")
        for s in r.segments:
            tgt = f"{s.id} {s.title}" if s.matched and s.id else "（无明确对应）"
            lines.append(f"- 「{neutralise(s.text, 60)}」→ {tgt}")
        lines.append("")
    strong = [x for i, x in enumerate(r.results[:k]) if i == 0 or x.confidence >= STRONG_CONFIDENCE]
    for i, x in enumerate(strong, 1):
        lines.append(f"{i}. **{x.id} {x.title}**（置信度 {percent(x.confidence)}）")
        for a in x.approaches[:2]:
            techs = "、".join(t.name for t in a.tech)
            lines.append(f"   - 应对思路：{zh_punct(a.text).rstrip('。')}（{techs}）")
        if x.risks:
            lines.append("   - 关键风险：" + "；".join(rk.name for rk in x.risks[:3]))
        lines.append(f"   - 详情：{base}/p/{x.id}")
    weak = r.results[len(strong) : k]
    if weak:
        lines.append("")
        lines.append("其他候选（置信度较低）：" + "、".join(f"{x.id} {x.title}" for x in weak))
    lines.append("")
    # quote() leaves "_" and "~" alone; in a bare URL they could still start emphasis
    q = quote(r.query[:300], safe="").replace("_", "%5F").replace("~", "%7E")
    lines.append(f"完整结果：{base}/search?q={q}")
    return "\n".join(lines)
