"""Rendering helpers for the pages: safe highlighting, labels and confidence bars.

Everything that turns text into markup lives here so that the escaping rules are in one
place: user text and corpus text are escaped *first*, and only then does this module add
its own tags (``<mark>``, the bar's SVG). The heat map and the chat Markdown have their
own modules (``heatmap.py``, ``chat.py``) under the same rule. Templates receive ``Markup`` objects from here and
plain strings from everywhere else, which Jinja's autoescape then escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup, escape

from tongdian.core.reading.segment import shadow

# -- highlighting ----------------------------------------------------------------------------

MAX_TERMS = 24


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
    for m in pattern.finditer(shadow(text)):
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

#: What the matched text is, said plainly: the report's own words are a source; an example
#: phrasing or keyword is the knowledge base's (written to recognise how clients talk), and
#: is labelled so that nobody cites it as the report.
EVIDENCE_KIND_ZH = {
    "example": "知识库中的相近说法（非引文）",
    "written": "知识库中的书面说法（非引文）",
    "title": "报告原文 · 痛点标题",
    "pain": "报告原文 · 痛点描述",
    "approach": "报告原文 · 应对思路",
    "keywords": "知识库关键词与常见叫法",
    "summary_en": "英文摘要",
}


#: How many pain points the report itself names: the knowledge base is called by the
#: report's title ("二十大痛点") only while it still holds exactly those.
REPORT_PAINPOINTS = 20


def catalog_label(n: int | None = None) -> str:
    """The name of the whole knowledge base: the report's "二十大痛点" while it holds twenty
    pain points, else the true count (a bank that added P21, or a test corpus of three)."""
    return "二十大痛点" if n is None or n == REPORT_PAINPOINTS else f"{n} 个痛点"


def kind_label(kind: str) -> str:
    return EVIDENCE_KIND_ZH.get(kind, kind)


def evidence_label(kind: str) -> str:
    """The label before a result's matched text: "依据" and what kind of text it is."""
    return f"依据 · {kind_label(kind)}"


def percent(x: float) -> str:
    return f"{round(max(0.0, min(1.0, x)) * 100):d}%"


def confidence_level(x: float) -> str:
    """A CSS class name: the bar's colour says at a glance how sure the match is."""
    if x >= 0.6:
        return "high"
    if x >= 0.3:
        return "mid"
    return "low"


#: Words for the three bands of ``confidence_level``: a reader compares words faster than
#: percentages, and two results at 90 % and 35 % must not look alike.
CONFIDENCE_WORDS = {"high": "高度吻合", "mid": "部分吻合", "low": "仅供参考"}


def confidence_word(x: float) -> str:
    return CONFIDENCE_WORDS[confidence_level(x)]


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


# -- quiet display ------------------------------------------------------------------------------


def took_label(ms: float, cached: bool, english: bool = False) -> str:
    """The time an answer took, as measured: a cached answer says so instead of "0 毫秒"."""
    if cached:
        return "cached answer" if english else "缓存结果"
    if ms < 1:
        return "under 1 ms" if english else "不到 1 毫秒"
    if ms >= 1000:
        return f"{ms / 1000:.1f} s" if english else f"用时 {ms / 1000:.1f} 秒"
    return f"{ms:.0f} ms" if english else f"用时 {ms:.0f} 毫秒"


def occurring(terms: Iterable[str], text: str) -> list[str]:
    """The terms that occur in ``text`` (as written, Traditional or full-width alike): the
    words shown as "matched" beside a quoted example must be found in that example."""
    copy = shadow(text or "")
    return [t for t in terms if t and t.strip().lower() in copy]


def short_url(url: str, limit: int = 72) -> str:
    """A long link shown shortened (the href keeps the whole URL)."""
    return url if len(url) <= limit else url[: limit - 20] + "…" + url[-12:]
