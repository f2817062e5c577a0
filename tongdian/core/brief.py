"""The brief a consultant takes into the meeting: one search answer as a document.

``build_brief`` turns a ``SearchResponse`` into a plain data dict (title, client, date, the
client's text, each problem → its pain point with the evidence, approaches with their
technologies, risks with the report's controls, case figures, source attribution and the
disclaimer); ``brief_markdown`` writes it as Markdown. The DOCX and PDF renderers
(``brief_docx.py``, ``brief_pdf.py``) read the same dict, so the three formats cannot
drift apart. No scores or internal fields go into a brief: it is read by bankers.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tongdian.core.corpus import Corpus
from tongdian.core.models import Result, SearchResponse

#: A result is a problem of the brief when a passage maps to it confidently, or when it is
#: at least this confident (the same floor the result page draws bars above).
DETAIL_FLOOR = 0.2
#: Longest client's text quoted in full; a longer note is quoted up to here (each problem
#: quotes its own passages), so a six-problem note still fits in two or three pages.
QUOTE_CHARS = 300
#: Passages quoted under each problem, and the length each is cut to.
PASSAGES_PER_PROBLEM = 2
PASSAGE_CHARS = 90
#: Longest client name and title accepted (they are printed in a header line).
FIELD_CHARS = 120
DISCLAIMER = ("本简报由 tongdian 根据客户描述自动匹配生成，内容依据所引报告整理，仅供咨询参考，"
              "不构成投资、法律或合规意见；案例数据出自所引原文，使用前请核实。")
DEFAULT_TITLE = "银行痛点与金融科技应对简报"

#: Characters with a meaning in Markdown, swapped for full-width look-alikes in user text,
#: so a pasted note can neither format, link nor embed anything in a chat tool.
_INERT = str.maketrans({
    "[": "［", "]": "］", "<": "＜", ">": "＞", "`": "｀", "*": "＊", "_": "＿",
    "#": "＃", "|": "｜", "~": "～", "\\": "＼", "!": "！",
})


def inert(text: str) -> str:
    """User text made inert for Markdown (line breaks kept as spaces)."""
    return re.sub(r"\s+", " ", text).strip().translate(_INERT).replace("://", "：//")


#: Characters no document format can hold (XML forbids them; a DOCX would not save).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    """User text as a document may hold it: control characters dropped."""
    return _NOT_XML.sub("", value)


def _clean_field(value: str | None, limit: int = FIELD_CHARS) -> str:
    return re.sub(r"\s+", " ", _text(value or "")).strip()[:limit]


def detailed(r: SearchResponse) -> list[Result]:
    """The results a reader gets in full: confidently mapped, or above the floor."""
    if not r.matched:
        return []
    out = [x for x in r.results if x.mapped or x.confidence >= DETAIL_FLOOR]
    return out or r.results[:1]


def build_brief(r: SearchResponse, corpus: Corpus, *, title: str | None = None,
                client: str | None = None, date: str | None = None) -> dict[str, Any]:
    """The brief as data; every renderer reads this and nothing else."""
    shown = detailed(r)
    shown_ids = {x.id for x in shown}
    problems = []
    seen_cases: set[str] = set()
    for x in shown:
        passages = [_text(s.text) for s in r.segments if s.problem and s.id == x.id]
        if not passages:
            passages = [_text(x.evidence.segment or r.query)]
        # the longest passages say most; each cut to a line or two
        passages = sorted(passages, key=len, reverse=True)[:PASSAGES_PER_PROBLEM]
        passages = [p if len(p) <= PASSAGE_CHARS else p[:PASSAGE_CHARS - 1] + "…" for p in passages]
        problems.append({
            "id": x.id,
            "title": x.title,
            "title_en": x.title_en,
            "pain": x.pain,
            "passages": passages,
            "evidence": x.evidence.text,
            "approaches": [{"text": a.text, "technologies": [t.name for t in a.tech]}
                           for a in x.approaches],
            "risks": [{"name": rk.name, "reason": rk.reason, "controls": list(rk.controls)}
                      for rk in x.risks],
            # a case shared by several problems is told once, under the first
            "case": None if x.case is None or x.case.id in seen_cases else {
                "title": x.case.title,
                "summary": x.case.summary,
                "figures": [{"label": f.label, "value": f.display} for f in x.case.results],
            },
        })
        if x.case is not None:
            seen_cases.add(x.case.id)
    others = [{"id": x.id, "title": x.title} for x in r.results if x.id not in shown_ids]
    framing = [_text(s.text) for s in r.segments if not s.problem]
    sources = [{"title": d.title, "authors": list(d.authors), "publisher": d.publisher,
                "note": d.note} for d in corpus.source.documents]
    query = _text(r.query)
    quote = query if len(query) <= QUOTE_CHARS else query[:QUOTE_CHARS]
    return {
        "title": _clean_field(title) or DEFAULT_TITLE,
        "client": _clean_field(client),
        "date": _clean_field(date, 40) or dt.date.today().isoformat(),
        "query": quote,
        "query_cut": len(r.query) > QUOTE_CHARS,
        "query_chars": len(r.query),
        "truncated": r.truncated,
        "analysed_chars": r.analysed_chars,
        "matched": r.matched,
        "problems": problems,
        "others": others,
        "framing": framing,
        "technologies": [t.name for t in r.technologies],
        "sources": sources,
        "disclaimer": DISCLAIMER,
    }


def source_line(doc: dict[str, Any]) -> str:
    return f"《{doc['title']}》，{'、'.join(doc['authors'])}，{doc['publisher']}"


def brief_markdown(b: dict[str, Any], base_url: str = "") -> str:
    """The brief as Markdown (also the "copy as Markdown" text): user text made inert."""
    base = base_url.rstrip("/")
    out = [f"# {inert(b['title'])}", ""]
    meta = [f"日期：{inert(b['date'])}"]
    if b["client"]:
        meta.insert(0, f"客户：{inert(b['client'])}")
    out += ["　".join(meta), "", "## 客户的描述", "", "> " + inert(b["query"])]
    if b["query_cut"]:
        out.append(f"> （原文共 {b['query_chars']} 字，此处摘录前 {len(b['query'])} 字）")
    if b["truncated"]:
        out.append(f"> 注意：只分析了前 {b['analysed_chars']} 字。")
    out.append("")
    if not b["matched"]:
        out += ["## 结论", "", "没有找到足够匹配的银行痛点。可以换个说法，描述业务上遇到的具体困难。", ""]
    for i, p in enumerate(b["problems"], 1):
        out += [f"## {i}. {p['id']} {p['title']}", ""]
        for s in p["passages"][:3]:
            out.append(f"- 客户原话：「{inert(s)}」")
        out.append(f"- 依据：{p['evidence']}")
        out += ["", "**应对思路**", ""]
        for a in p["approaches"]:
            tech = f"（{'、'.join(a['technologies'])}）" if a["technologies"] else ""
            out.append(f"- {a['text']}{tech}")
        out += ["", "**相关风险与管控**", ""]
        for rk in p["risks"]:
            out.append(f"- {rk['name']}｜管控：{'；'.join(rk['controls'])}")
        if p["case"]:
            figs = "；".join(f"{f['label']} {f['value']}" for f in p["case"]["figures"])
            out += ["", f"**案例**：{p['case']['title']}（{figs}）"]
        if base:
            out += ["", f"详情：{base}/p/{p['id']}"]
        out.append("")
    if b["others"]:
        out += ["## 其他可能", "", "、".join(f"{o['id']} {o['title']}" for o in b["others"]), ""]
    if b["framing"]:
        out += ["## 未列为问题的段落", ""]
        out += [f"- {inert(t)}" for t in b["framing"][:12]]
        if len(b["framing"]) > 12:
            out.append(f"- ……另有 {len(b['framing']) - 12} 段")
        out.append("")
    out += ["---", "", "资料来源：" + "；".join(source_line(d) for d in b["sources"]), "",
            b["disclaimer"], ""]
    return "\n".join(out)
