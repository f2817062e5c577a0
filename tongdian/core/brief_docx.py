"""The brief as a Word document (python-docx), for consultants who edit before the meeting.

Reads the dict ``brief.build_brief`` makes. East Asian text gets an explicit East Asian
font name (Word otherwise falls back per run and may render CJK in a Latin font).
"""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from tongdian.core.brief import risk_line, source_line

#: The East Asian font named in the document; Word and LibreOffice substitute a local CJK
#: font when it is missing, and Noto Sans CJK SC is what Debian's fonts-noto-cjk installs.
CJK_FONT = "Noto Sans CJK SC"


def _cjk(style: Any) -> None:
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), CJK_FONT)


def brief_docx(b: dict[str, Any]) -> bytes:
    doc = Document()
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "List Bullet"):
        _cjk(doc.styles[name])
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
