"""The brief as a Word document (python-docx), for consultants who edit before the meeting.

Reads the dict ``brief.build_brief`` makes. East Asian text gets an explicit East Asian
font name (Word otherwise falls back per run and may render CJK in a Latin font). Like
the PDF, it is rendered in a worker process (``tongdian.api.renderpool``).
"""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from tongdian.core.answers.brief import risk_line, source_line

#: Not a knob: the East Asian font named, the face the PDFs ship (Debian's fonts-noto-cjk).
CJK_FONT = "Noto Sans CJK SC"
#: The ``w:eastAsia`` attribute's qualified name, made once.
W_EAST_ASIA = qn("w:eastAsia")


def _cjk_fonts(doc: Any) -> None:
    """Name ``CJK_FONT`` for East Asian text everywhere the template names a font: the
    document defaults and every style. A theme reference (``w:eastAsiaTheme``) wins over
    a named font in Word, so it is removed; the language says Chinese, so Word uses the
    mainland glyph forms and line breaking."""
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = rpr.makeelement(qn("w:lang"), {})
        rpr.append(lang)
    lang.set(W_EAST_ASIA, "zh-CN")
    for fonts in styles.iter(qn("w:rFonts")):
        fonts.attrib.pop(qn("w:eastAsiaTheme"), None)
        fonts.set(W_EAST_ASIA, CJK_FONT)


def brief_docx(b: dict[str, Any]) -> bytes:
    doc = Document()
    _cjk_fonts(doc)
    doc.styles["Normal"].font.size = Pt(10.5)
    doc.core_properties.title = b["title"]
    doc.core_properties.subject = b["client"]
    doc.add_heading(b["title"], level=0)
    meta = doc.add_paragraph()
    if b["client"]:
        meta.add_run("客户：").bold = True
        meta.add_run(b["client"] + "　")
    meta.add_run("日期：").bold = True
    meta.add_run(b["date"])

    doc.add_heading("客户的描述", level=1)
    doc.add_paragraph(b["query"])
    if b["query_cut"]:
        doc.add_paragraph(f"（原文共 {b['query_chars']} 字，此处摘录前 {len(b['query'])} 字）")
    if b["truncated"]:
        doc.add_paragraph(f"注意：只分析了前 {b['analysed_chars']} 字。")
    if not b["matched"]:
        doc.add_heading("结论", level=1)
        doc.add_paragraph("没有找到足够匹配的银行痛点。可以换个说法，描述业务上遇到的具体困难。")

    for i, p in enumerate(b["problems"], 1):
        doc.add_heading(f"{i}. {p['id']} {p['title']}", level=1)
        for s in p["passages"][:3]:
            doc.add_paragraph(f"客户原话：「{s}」", style="List Bullet")
        doc.add_paragraph(f"依据：{p['evidence']}", style="List Bullet")
        doc.add_heading("应对思路", level=2)
        for a in p["approaches"]:
            tech = f"（{'、'.join(a['technologies'])}）" if a["technologies"] else ""
            doc.add_paragraph(a["text"] + tech, style="List Bullet")
        doc.add_heading("相关风险与管控", level=2)
        for rk in p["risks"]:
            para = doc.add_paragraph(style="List Bullet")
            name, rest = risk_line(rk)
            para.add_run(name).bold = True
            para.add_run(rest)
        if p["case"]:
            figs = "；".join(f"{f['label']} {f['value']}" for f in p["case"]["figures"])
            para = doc.add_paragraph()
            para.add_run("案例：").bold = True
            para.add_run(f"{p['case']['title']}（{figs}）")

    if b["others"]:
        doc.add_heading("其他可能", level=1)
        doc.add_paragraph("、".join(f"{o['id']} {o['title']}" for o in b["others"]))
    doc.add_heading("资料来源与声明", level=1)
    for d in b["sources"]:
        doc.add_paragraph(source_line(d), style="List Bullet")
    doc.add_paragraph(b["disclaimer"])
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
