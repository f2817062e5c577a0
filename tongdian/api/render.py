"""Rendering helpers: safe highlighting, SVG pictures, and the chat bot's Markdown.

Everything that turns text into markup lives here so that the escaping rules are in one
place: user text and corpus text are escaped *first*, and only then does this module add
its own tags (``<mark>``, SVG elements). Templates receive ``Markup`` objects from here and
plain strings from everywhere else, which Jinja's autoescape then escapes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from urllib.parse import quote

import opencc
from markupsafe import Markup, escape

from tongdian.core.models import SearchResponse

# -- highlighting ----------------------------------------------------------------------------

MAX_TERMS = 24


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _shadow(text: str) -> str:
    """A same-length, matching-friendly copy of ``text``: simplified, half-width, lower case.

    Matched terms come from the engine's normalised query, while the text shown is the
    original (maybe Traditional, full-width, upper case). Matching on a copy whose
    character *i* corresponds to the original's character *i* lets us highlight the
    original without ever altering what the user wrote.
    """
    simp = _t2s().convert(text) if text else text
    if len(simp) != len(text):  # a phrase conversion changed the length: match as written
        simp = text
    out = []
    for ch in simp:
        n = unicodedata.normalize("NFKC", ch).lower()
        out.append(n if len(n) == 1 else ch.lower() if len(ch.lower()) == 1 else ch)
    return "".join(out)


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """Escape ``text`` and wrap every occurrence of ``terms`` in ``<mark>``.

    Matching happens on the raw text (never on escaped HTML, where a term like ``amp``
    would hit ``&amp;``), the longest term wins where terms overlap, and each piece is
    escaped on its own, so no input can produce markup other than ``<mark>``.
    """
    cleaned = sorted(
        {t.strip().lower() for t in terms if t and t.strip()}, key=lambda t: (-len(t), t)
    )[:MAX_TERMS]
    if not text or not cleaned:
        return Markup(escape(text))
    pattern = re.compile("|".join(re.escape(t) for t in cleaned))
    spans: list[list[int]] = []
    for m in pattern.finditer(_shadow(text)):
        if m.start() == m.end():
            continue
        if spans and spans[-1][1] == m.start():  # adjacent terms read as one highlight
            spans[-1][1] = m.end()
        else:
            spans.append([m.start(), m.end()])
    parts: list[str] = []
    pos = 0
    for start, end in spans:
        parts.append(str(escape(text[pos:start])))
        parts.append(f"<mark>{escape(text[start:end])}</mark>")
        pos = end
    parts.append(str(escape(text[pos:])))
    return Markup("".join(parts))


# -- Chinese punctuation for display ------------------------------------------------------------

_ZH_PUNCT = re.compile(r"(?<=[\u3400-\u9fff\u201d\u300d\uff09])([,;:?!])")
_ZH_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}


def zh_punct(text: str) -> str:
    """Half-width punctuation after a Chinese character shown full-width, for display only.

    The report's text (kept verbatim in the corpus and the JSON API) uses ASCII commas
    between Chinese clauses, which crowd the line; pages show the typographic form.
    """
    return _ZH_PUNCT.sub(lambda m: _ZH_FULL[m.group(1)], text) if text else text


# -- API docs prose ------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"`([^`]+)`")


def doc_html(text: str) -> Markup:
    """Docstring prose as HTML: paragraphs on blank lines, `code` spans, everything escaped."""
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    out = []
    for p in paras:
        escaped = str(escape(p))
        out.append("<p>" + _CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", escaped) + "</p>")
    return Markup("".join(out))


#: Below this confidence a candidate is shown as "also considered", without its remedies:
#: listing approaches for a 0 % candidate would read as advice the engine does not give.
STRONG_CONFIDENCE = 0.2


# -- small labels ------------------------------------------------------------------------------

EVIDENCE_KIND_ZH = {
    "example": "典型说法",
    "title": "痛点标题",
    "pain": "痛点描述",
    "approach": "应对思路",
    "keywords": "关键词与常见叫法",
    "summary_en": "英文摘要",
}


def kind_label(kind: str) -> str:
    return EVIDENCE_KIND_ZH.get(kind, kind)


def percent(x: float) -> str:
    return f"{round(max(0.0, min(1.0, x)) * 100):d}%"


def confidence_level(x: float) -> str:
    """A CSS class name: the bar's colour says at a glance how sure the match is."""
    if x >= 0.6:
        return "high"
    if x >= 0.3:
        return "mid"
    return "low"


def confidence_bar(x: float, width: int = 160, height: int = 10) -> Markup:
    """An SVG bar (not a styled div: the CSP forbids inline styles, SVG attributes are fine)."""
    x = max(0.0, min(1.0, float(x)))
    w = round(width * x, 1)
    label = f"置信度 {percent(x)}"
    return Markup(
        f'<svg class="bar bar-{confidence_level(x)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f'<rect class="bar-bg" x="0" y="0" width="{width}" height="{height}" rx="{height / 2}"/>'
        f'<rect class="bar-fg" x="0" y="0" width="{w}" height="{height}" rx="{height / 2}"/>'
        f"</svg>"
    )


# -- the technology heat map --------------------------------------------------------------------

HEAT = ("#f1f4f8", "#a9cce3", "#4a90c2", "#1b5e96")  # 0, 1, 2, 3+ approaches


def _text_width(text: str, size: float) -> float:
    """Rough rendered width: CJK and full-width glyphs are ~1 em, others ~0.6 em."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else 0.6 * size for ch in text)


def heatmap_svg(
    rows: Sequence[tuple[str, str]],
    columns: Sequence[tuple[str, str]],
    cells: Sequence[Sequence[int]],
    cell: int = 30,
    font: int = 13,
) -> Markup:
    """Pain points × technologies as an SVG grid; every cell links to its pain point.

    ``rows`` are ``(id, title)``, ``columns`` ``(id, name)``. It is a picture a consultant
    can read without JavaScript: colour says how many approaches of the pain point use the
    technology, hovering shows a native tooltip (``<title>``), clicking opens the page.
    Label space is measured from the labels, so long titles are never clipped.
    """
    n_r, n_c = len(rows), len(columns)
    angle = 60
    longest_col = max((_text_width(n, font) for _, n in columns), default=0.0)
    row_label_width = round(max((_text_width(f"{r} {t}", font) for r, t in rows), default=0) + 20)
    header_height = round(longest_col * 0.87 + 24)  # sin 60°
    right_pad = round(longest_col * 0.5 + 8)  # cos 60°: the last label leans right
    width = row_label_width + n_c * cell + right_pad
    height = header_height + n_r * cell + 64
    e = escape
    out: list[str] = [
        f'<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-labelledby="hm-title"><title id="hm-title">痛点 × 科技 热力图</title>'
    ]
    for j, (cid, name) in enumerate(columns):
        x = row_label_width + j * cell + cell / 2 + 4
        y = header_height - 8
        out.append(
            f'<a href="/?tech={quote(cid)}"><text class="hm-col" x="{x}" y="{y}" '
            f'transform="rotate(-{angle} {x} {y})">{e(name)}</text></a>'
        )
    for i, (rid, title) in enumerate(rows):
        y = header_height + i * cell
        href = f"/p/{quote(rid)}"
        out.append(
            f'<a href="{href}"><text class="hm-row" x="{row_label_width - 10}" '
            f'y="{y + cell / 2 + font * 0.38:.1f}" text-anchor="end">'
            f'<tspan class="hm-id">{e(rid)}</tspan> {e(title)}</text></a>'
        )
        for j, (_cid, name) in enumerate(columns):
            v = int(cells[i][j])
            fill = HEAT[min(v, len(HEAT) - 1)]
            x = row_label_width + j * cell
            tip = f"{rid} {title} × {name}：{v} 条应对思路" if v else f"{rid} {title} × {name}：无"
            out.append(
                f'<a href="{href}"><rect class="hm-cell{" hm-on" if v else ""}" x="{x + 1}" '
                f'y="{y + 1}" width="{cell - 2}" height="{cell - 2}" rx="4" fill="{fill}">'
                f"<title>{e(tip)}</title></rect></a>"
            )
    # column totals and legend
    y_tot = header_height + n_r * cell + 18
    out.append(f'<text class="hm-row" x="{row_label_width - 10}" y="{y_tot}" '
               f'text-anchor="end">涉及痛点数</text>')
    for j in range(n_c):
        total = sum(1 for i in range(n_r) if cells[i][j])
        x = row_label_width + j * cell + cell / 2
        out.append(
            f'<text class="hm-total" x="{x}" y="{y_tot}" text-anchor="middle">{total}</text>'
        )
    y_leg = y_tot + 30
    labels = ("未涉及", "1 条思路", "2 条", "3 条及以上")
    for k, (fill, lab) in enumerate(zip(HEAT, labels, strict=True)):
        x = row_label_width + k * 110
        out.append(f'<rect x="{x}" y="{y_leg - 12}" width="14" height="14" rx="3" fill="{fill}" '
                   f'class="hm-legend"/><text class="hm-leg" x="{x + 20}" y="{y_leg}">{lab}</text>')
    out.append("</svg>")
    return Markup("".join(out))


# -- chat Markdown ----------------------------------------------------------------------------

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
