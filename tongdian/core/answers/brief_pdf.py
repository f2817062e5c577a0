"""The brief as PDF (WeasyPrint), drawn with the CJK font the package ships.

The HTML is written here from the brief dict, every text escaped. The font is Noto Sans
CJK (SIL Open Font License), installed with tongdian as the ``noto-cjk-sans-otc``
package: the stylesheet names it in an ``@font-face`` rule, so a machine with no CJK font
(a slim container, a fresh laptop) still prints every character, and no fontconfig lookup
decides which font a bank's brief gets. The collection holds the Japanese, Korean and
Chinese faces under one file; the Simplified Chinese face is cut out of it once per
process, so the glyph forms are the mainland ones whatever fontconfig would pick.

The URL fetcher hands out that font and refuses every other URL, so a brief renders the
same on an offline bank network. WeasyPrint is imported on first use: it needs pango,
and a server without it still answers Markdown and DOCX (``pdf_missing`` says what to
install). Rendering runs in worker processes (``tongdian.api.renderpool``): a native
crash there takes no server down.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import io
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from tongdian.core.answers.brief import risk_line, source_line
from tongdian.core.errors import UserError

#: Not a knob: the shipped font's @font-face family (not its own: no system copy stands in).
SHIPPED_FAMILY = "Tongdian Noto Sans CJK SC"
#: Not a knob: the face of the shipped collection a Chinese brief is set in.
SHIPPED_FACE = "Noto Sans CJK SC"
#: Not a knob: system CJK fonts after the shipped one (used only if the package is missing).
FALLBACK_STACK = ('"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", '
                  '"WenQuanYi Micro Hei", "Droid Sans Fallback", sans-serif')
#: Not a knob: the native libraries WeasyPrint loads, by its own names (``text/ffi.py``).
NATIVE_LIBS = {
    "pango": ("libpango-1.0.so.0", "libpango-1.0.dylib", "libpango-1.0-0.dll"),
    "pangoft2": ("libpangoft2-1.0.so.0", "libpangoft2-1.0.dylib", "libpangoft2-1.0-0.dll"),
}
#: Text, not a knob: what to install when those libraries are missing.
INSTALL_HINT = ("PDF 简报需要 WeasyPrint 和 pango：pip install weasyprint；"
                "Debian/Ubuntu：apt-get install libpango-1.0-0 libpangoft2-1.0-0；"
                "macOS：brew install pango。请先改用 Word 或 Markdown")

#: Layout, not a knob: the brief's stylesheet (FONTFACE and FONTS filled in at render time).
CSS_TEMPLATE = """
FONTFACE
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


class PdfUnavailable(UserError):
    """WeasyPrint (or its pango libraries) is missing on this server."""


def shipped_font() -> Path | None:
    """The font collection installed with tongdian, or None when its package is missing."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return None
    path = Path(str(noto_cjk_sans_otc.FONT_PATH))
    return path if path.is_file() else None


def css() -> str:
    font = shipped_font()
    if font is None:
        return CSS_TEMPLATE.replace("FONTFACE", "").replace("FONTS", FALLBACK_STACK)
    face = f'@font-face {{ font-family: "{SHIPPED_FAMILY}"; src: url("{font.as_uri()}"); }}'
    return (CSS_TEMPLATE.replace("FONTFACE", face)
            .replace("FONTS", f'"{SHIPPED_FAMILY}", {FALLBACK_STACK}'))


@functools.cache
def pdf_missing() -> str | None:
    """What this machine lacks for a PDF, said so an operator can install it; None when
    nothing is missing. Checked without importing WeasyPrint (which loads pango into the
    process): the libraries are looked up the way WeasyPrint opens them."""
    if importlib.util.find_spec("weasyprint") is None:
        return f"{INSTALL_HINT}（缺少 Python 包 weasyprint）"
    for lib, names in NATIVE_LIBS.items():
        for name in names:
            try:
                ctypes.CDLL(name)
                break
            except OSError:
                continue
        else:
            return f"{INSTALL_HINT}（缺少系统库 {lib}）"
    return None


@functools.cache
def _face_bytes(path: Path) -> bytes:
    """The Simplified Chinese face of the collection as a font file of its own (read once
    per process; about 0.8 s and 16 MB)."""
    from fontTools.ttLib import TTCollection

    for font in TTCollection(str(path), lazy=True).fonts:
        if font["name"].getDebugName(1) == SHIPPED_FACE:
            out = io.BytesIO()
            font.save(out, reorderTables=False)
            return out.getvalue()
    raise ValueError(f"{path.name} holds no {SHIPPED_FACE!r} face")


def _local_path(url: str) -> Path | None:
    """The file a ``file:`` URL names (however its characters are escaped), else None."""
    parts = urlsplit(url)
    return Path(url2pathname(parts.path)) if parts.scheme == "file" and not parts.netloc else None


@functools.cache
def _weasy() -> tuple[Any, Any, Any]:
    """WeasyPrint's HTML class, a font configuration kept for the process (the shipped
    font is registered once, not per document) and a fetcher that hands out that font
    alone."""
    try:
        from weasyprint import HTML
        from weasyprint.text.fonts import FontConfiguration
        from weasyprint.urls import URLFetcher, URLFetcherResponse
    except (ImportError, OSError) as exc:  # OSError: pango's shared libraries are missing
        raise PdfUnavailable(f"{INSTALL_HINT}。({type(exc).__name__})") from None
    font = shipped_font()

    class ShippedFontOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if font is None or _local_path(url) != font:
                raise ValueError(f"briefs fetch nothing: refused {url[:60]!r}")
            return URLFetcherResponse(url, body=_face_bytes(font),
                                      headers={"Content-Type": "font/otf"})

    return HTML, FontConfiguration(), ShippedFontOnly()


def brief_html(b: dict[str, Any]) -> str:
    e = escape
    h = [f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{e(b['title'])}</title>"
         f"<style>{css()}</style></head><body>", f"<h1>{e(b['title'])}</h1>"]
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
    html, fonts, fetcher = _weasy()
    return bytes(html(string=brief_html(b), url_fetcher=fetcher).write_pdf(font_config=fonts))
