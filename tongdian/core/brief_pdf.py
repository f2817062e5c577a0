"""The brief as PDF (WeasyPrint), with a local CJK font and nothing fetched at render time.

The HTML is written here from the brief dict, every text escaped. Fonts come from the
system through fontconfig (Debian's fonts-noto-cjk); the URL fetcher refuses every URL,
so a brief renders the same on an offline bank network. WeasyPrint is imported on first
use: it needs pango, and a server without it still answers Markdown and DOCX.
"""

from __future__ import annotations

from html import escape
from typing import Any

from tongdian.core.brief import risk_line, source_line
from tongdian.core.errors import UserError

#: Font stack: Noto Sans CJK (fonts-noto-cjk) first, other common CJK system fonts after.
FONT_STACK = ('"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", '
              '"Droid Sans Fallback", sans-serif')

CSS_TEMPLATE = """
@page { size: A4; margin: 16mm 15mm 18mm 15mm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666; } }
body { font-family: FONTS; font-size: 9.5pt; line-height: 1.45; color: #111; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 11.5pt; margin: 3.5mm 0 1mm; border-bottom: 0.4pt solid #999; }
h3 { font-size: 9.5pt; margin: 1.5mm 0 0.5mm; color: #333; }
.meta { color: #333; margin: 0 0 3mm; }
blockquote { margin: 0; padding: 2mm 3mm; background: #f4f4f4; white-space: pre-wrap; }
li, blockquote { break-inside: avoid; }
section.problem h2 { break-after: avoid; }
ul { margin: 0.5mm 0; padding-left: 5mm; }
li { margin: 0.3mm 0; }
.muted { color: #555; }
footer { margin-top: 6mm; font-size: 8.5pt; color: #333; border-top: 0.4pt solid #999; padding-top: 2mm; }
"""
CSS = CSS_TEMPLATE.replace("FONTS", FONT_STACK)


class PdfUnavailable(UserError):
    """WeasyPrint (or its pango libraries) is missing on this server."""


def _no_fetch(url: str, *args: object, **kwargs: object) -> dict[str, object]:
    raise ValueError(f"briefs fetch nothing: refused {url[:60]!r}")


def brief_html(b: dict[str, Any]) -> str:
    e = escape
    h = [f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{e(b['title'])}</title>"
         f"<style>{CSS}</style></head><body>", f"<h1>{e(b['title'])}</h1>"]
    meta = (f"客户：{e(b['client'])}　" if b["client"] else "") + f"日期：{e(b['date'])}"
    h.append(f"<p class='meta'>{meta}</p><h2>客户的描述</h2><blockquote>{e(b['query'])}</blockquote>")
    if b["query_cut"]:
        h.append(f"<p class='muted'>（原文共 {b['query_chars']} 字，此处摘录前 {len(b['query'])} 字）</p>")
    if b["truncated"]:
        h.append(f"<p class='muted'>注意：只分析了前 {b['analysed_chars']} 字。</p>")
    if not b["matched"]:
        h.append("<h2>结论</h2><p>没有找到足够匹配的银行痛点。可以换个说法，描述业务上遇到的具体困难。</p>")
    for i, p in enumerate(b["problems"], 1):
        h.append(f"<section class='problem'><h2>{i}. {e(p['id'])} {e(p['title'])}</h2><ul>")
        h += [f"<li>客户原话：「{e(s)}」</li>" for s in p["passages"][:3]]
        h.append(f"<li>依据：{e(p['evidence'])}</li></ul><h3>应对思路</h3><ul>")
        for a in p["approaches"]:
            tech = f"（{e('、'.join(a['technologies']))}）" if a["technologies"] else ""
            h.append(f"<li>{e(a['text'])}{tech}</li>")
        h.append("</ul><h3>相关风险与管控</h3><ul>")
        for rk in p["risks"]:
            name, rest = risk_line(rk)
            h.append(f"<li><b>{e(name)}</b>{e(rest)}</li>")
        h.append("</ul>")
        if p["case"]:
            figs = "；".join(f"{f['label']} {f['value']}" for f in p["case"]["figures"])
            h.append(f"<p><b>案例</b>：{e(p['case']['title'])}（{e(figs)}）</p>")
        h.append("</section>")
    if b["others"]:
        h.append("<h2>其他可能</h2><p>" + e("、".join(f"{o['id']} {o['title']}" for o in b["others"])) + "</p>")
    h.append("<footer><p>资料来源：" + e("；".join(source_line(d) for d in b["sources"])) + "</p>"
             f"<p>{e(b['disclaimer'])}</p></footer></body></html>")
    return "".join(h)


def brief_pdf(b: dict[str, Any]) -> bytes:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: pango's shared libraries are missing
        raise PdfUnavailable(
            "PDF 简报需要 WeasyPrint 和 pango（Debian：libpango-1.0-0 libpangoft2-1.0-0）；"
            f"请改用 Markdown 或 DOCX。({type(exc).__name__})") from None
    return bytes(HTML(string=brief_html(b), url_fetcher=_no_fetch).write_pdf())
