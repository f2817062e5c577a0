"""The brief a consultant takes into the meeting: one search answer as a document.

``build_brief`` turns a ``SearchResponse`` into a plain data dict (title, client, date, the
client's description — a long note summarised by the passage naming each problem — each
problem → its pain point with the client's words and the report's text as evidence,
approaches with their technologies, risks with why this pain point carries them and the
report's controls told once, case figures, source attribution and the disclaimer);
``brief_markdown`` writes it as Markdown. The DOCX and PDF renderers
(``brief_docx.py``, ``brief_pdf.py``) read the same dict, so the three formats cannot
drift apart. No scores or internal fields go into a brief: it is read by bankers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from tongdian.core.answers.models import Result, SearchResponse
from tongdian.core.errors import QueryError
from tongdian.core.knowledge.corpus import Corpus

#: Presentation, not a ranking knob: a result is a problem of the brief when a passage maps
#: to it or it is at least this confident (the floor the result page draws bars above).
DETAIL_FLOOR = 0.2
#: A layout limit: a client's text up to this long is quoted whole; a longer note is described
#: by the passages that name its problems (a note opens with attendees, not its problem).
QUOTE_CHARS = 300
#: A layout limit: passages quoted under each problem.
PASSAGES_PER_PROBLEM = 2
#: A layout limit: a quoted passage is cut to this (at a clause end in its last third).
PASSAGE_CHARS = 90
#: A layout limit: each line of a long note's summary is cut to this.
SUMMARY_CHARS = 60
#: An input limit: longest client name and title accepted (printed in a header line).
FIELD_CHARS = 120
#: Text, not a knob: the notice every brief ends with.
DISCLAIMER = ("本简报由 tongdian 根据客户描述自动匹配生成，内容依据所引报告整理，仅供咨询参考，"
              "不构成投资、法律或合规意见；案例数据出自所引原文，使用前请核实。")
#: Text, not a knob: the brief's title when the caller gives none.
DEFAULT_TITLE = "银行痛点与金融科技应对简报"

#: Markdown's special characters → full-width look-alikes: user text cannot format or link.
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


class NothingToBrief(QueryError):
    """The text matched no pain point: a brief of 0 % candidates would mislead its reader."""


def detailed(r: SearchResponse) -> list[Result]:
    """The results a reader gets in full: confidently mapped, or above the floor."""
    if not r.matched:
        return []
    out = [x for x in r.results if x.mapped or x.confidence >= DETAIL_FLOOR]
    return out or r.results[:1]


#: A list or section heading opening a passage ("三、", "(2)", "（一）"), dropped from a quote.
_HEADING = re.compile(r"^\s*(?:[一二三四五六七八九十]+[、.．]|\(?[0-9]{1,2}[).、．]|[（(][一二三四五六七八九十0-9]+[）)])\s*")
#: Sentence ends a quote is cut at, preferably…
_STOPS = "。！？；!?;"
#: …else clause ends.
_SOFT_STOPS = "，,、："


#: "他补充说，" / "总经理坦言，": who said it is in the note; the brief quotes what was said.
_SPEAKER = re.compile(r"^[^，,。；;：:]{0,10}?(?:补充说|还说|说道|谈到|提到|表示|认为|坦言|介绍说|说)[，,：:]\s*")


def _passage_text(text: str) -> str:
    """A passage as one quotable line: a heading line glued above it ("三、老旧的核心系统")
    and its enumeration mark are dropped, and a leading "他说，"; line breaks become spaces."""
    lines = [ln.strip() for ln in _text(text).splitlines() if ln.strip()]
    if len(lines) > 1:  # a short heading line and its paragraph: quote the paragraph
        lines = [max(lines, key=len)]
    line = _HEADING.sub("", " ".join(lines)).strip()
    return _SPEAKER.sub("", line) or line


def cut(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, cut after a sentence (else clause) end in the
    last third of the allowance when there is one; "…" marks a cut."""
    if len(text) <= limit:
        return text
    head = text[:limit - 1]
    for stops in (_STOPS, _SOFT_STOPS):
        at = max(head.rfind(c) for c in stops)
        if at >= limit // 3:
            return head[:at] + "…"
    return head + "…"


#: Presentation, not a ranking knob: passages this close in confidence to the best are ties.
PASSAGE_TIE = 0.05


def _ranked_passages(r: SearchResponse, pid: str, *, earliest: bool = False) -> list[str]:
    """The passages mapping to ``pid``, most confident first; among the equally good, the
    longest (what the client said in most detail) or, for the summary, the earliest (a
    problem's first line usually names it)."""
    segs = [(i, s) for i, s in enumerate(r.segments) if s.problem and s.id == pid]
    if not segs:
        return []
    top = max(s.confidence for _, s in segs)

    def key(p: tuple[int, Any]) -> tuple[bool, float]:
        i, s = p
        tied = s.confidence >= top - PASSAGE_TIE
        return (not tied, float(i) if earliest and tied else -len(s.text) if tied
                else -s.confidence)

    out: list[str] = []
    for _, s in sorted(segs, key=key):
        t = _passage_text(s.text)
        if t and t not in out:
            out.append(t)
    return out


def describe(r: SearchResponse, shown: list[Result]) -> tuple[str, bool]:
    """What the client described, and whether it is a summary: a short text in full; a
    long one as the passage that names each problem best, one per pain point."""
    query = _text(r.query).strip()
    if len(query) <= QUOTE_CHARS:
        return query, False
    lines = []
    for x in shown:
        best = _ranked_passages(r, x.id, earliest=True) or ([_passage_text(x.evidence.segment)]
                                             if x.evidence.segment else [])
        if best:
            lines.append(cut(best[0], SUMMARY_CHARS))
    if not lines:
        return cut(query, QUOTE_CHARS), False
    marks = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
    return "　".join(f"{marks[i] if i < len(marks) else '·'}{t}" for i, t in enumerate(lines)), True


#: Text, not a knob: what each kind of evidence is (only the report's own text is a source).
EVIDENCE_SOURCE = {
    "pain": "报告对该痛点的描述",
    "title": "报告中的痛点标题",
    "approach": "报告中的应对思路",
}


def evidence_line(x: Result) -> str:
    """The brief's "依据": the report's words where the match came from them; where it came
    from a built-in example phrasing (not a source), the report's description of the pain
    point instead, so nothing in a brief reads as a quotation it is not."""
    label = EVIDENCE_SOURCE.get(x.evidence.kind)
    if label:
        return f"{label}「{x.evidence.text}」"
    return f"报告对该痛点的描述「{x.pain}」"


def risk_line(rk: dict[str, Any]) -> tuple[str, str]:
    """(name, the rest) of a risk's line: why this pain point's approaches carry it, then
    the report's controls, told once per brief (later problems refer back to them)."""
    rest = f"：{rk['reason']}" if rk.get("reason") else ""
    if rk["controls"]:
        rest += f"（管控：{'；'.join(rk['controls'])}）"
    elif rk.get("controls_see"):
        rest += f"（管控见第 {rk['controls_see']} 项）"
    return rk["name"], rest


def build_brief(r: SearchResponse, corpus: Corpus, *, title: str | None = None,
                client: str | None = None, date: str | None = None) -> dict[str, Any]:
    """The brief as data; every renderer reads this and nothing else.

    Raises ``NothingToBrief`` when no pain point matched: there is nothing to hand over.
    """
    shown = detailed(r)
    if not shown:
        raise NothingToBrief("no pain point matches this text closely enough: there is "
                             "nothing to put in a brief; describe the business difficulty")
    shown_ids = {x.id for x in shown}
    problems = []
    seen_cases: set[str] = set()
    controls_told: dict[str, int] = {}  # risk id -> the problem number that lists its controls
    for n, x in enumerate(shown, 1):
        passages = _ranked_passages(r, x.id)
        if not passages:
            passages = [_passage_text(x.evidence.segment or r.query)]
        passages = [cut(p, PASSAGE_CHARS) for p in passages[:PASSAGES_PER_PROBLEM]]
        risks = []
        for rk in x.risks:
            first = rk.id not in controls_told
            controls_told.setdefault(rk.id, n)
            risks.append({"name": rk.name, "reason": rk.reason,
                          "controls": list(rk.controls) if first else [],
                          "controls_see": None if first else controls_told[rk.id]})
        problems.append({
            "id": x.id,
            "title": x.title,
            "title_en": x.title_en,
            "pain": x.pain,
            "passages": passages,
            "evidence": evidence_line(x),
            "approaches": [{"text": a.text, "technologies": [t.name for t in a.tech]}
                           for a in x.approaches],
            "risks": risks,
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
    # a pain point some passage names is never lost, even when it ranked past k
    listed = shown_ids | {o["id"] for o in others}
    for s in r.segments:
        if s.problem and s.id and s.id not in listed and s.id in corpus.by_id:
            others.append({"id": s.id, "title": corpus.by_id[s.id].title})
            listed.add(s.id)
    sources = [{"title": d.title, "authors": list(d.authors), "publisher": d.publisher,
                "note": d.note} for d in corpus.source.documents]
    description, summarised = describe(r, shown)
    return {
        "title": _clean_field(title) or DEFAULT_TITLE,
        "client": _clean_field(client),
        "date": _clean_field(date, 40) or dt.date.today().isoformat(),
        "query": description,
        "query_summarised": summarised,
        # the renderers' "excerpt" note: a summary is not an excerpt of the first characters
        "query_cut": False,
        "query_chars": len(r.query),
        "truncated": r.truncated,
        "analysed_chars": r.analysed_chars,
        "matched": r.matched,
        "problems": problems,
        "others": others,
        "technologies": [t.name for t in r.technologies],
        "sources": sources,
        "disclaimer": DISCLAIMER,
    }


def source_line(doc: dict[str, Any]) -> str:
    return f"《{doc['title']}》，{'、'.join(doc['authors'])}，{doc['publisher']}"


def brief_markdown(b: dict[str, Any], link: Callable[[str], str] | None = None) -> str:
    """The brief as Markdown (also the "copy as Markdown" text): user text made inert.

    ``link`` turns a pain point's id into its page's address; the web layer passes one only
    when a reader elsewhere can open it (``tongdian.api.links.brief_links``); else no links.
    """
    out = [f"# {inert(b['title'])}", ""]
    meta = [f"日期：{inert(b['date'])}"]
    if b["client"]:
        meta.insert(0, f"客户：{inert(b['client'])}")
    out += ["　".join(meta), "", "## 客户的描述", "", "> " + inert(b["query"])]
    if b.get("query_summarised"):
        out.append(f"> （原文共 {b['query_chars']} 字；以上摘自纪要中提出问题的段落，每个问题一句）")
    if b["truncated"]:
        out.append(f"> 注意：只分析了前 {b['analysed_chars']} 字。")
    out.append("")
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
            name, rest = risk_line(rk)
            out.append(f"- **{name}**{rest}")
        if p["case"]:
            figs = "；".join(f"{f['label']} {f['value']}" for f in p["case"]["figures"])
            out += ["", f"**案例**：{p['case']['title']}（{figs}）"]
        if link is not None:
            out += ["", f"详情：{link(p['id'])}"]
        out.append("")
    if b["others"]:
        out += ["## 其他可能", "", "、".join(f"{o['id']} {o['title']}" for o in b["others"]), ""]
    # passages that name no problem (attendees, agenda, small talk) stay on the result page;
    # a brief for the bank's executive is about the problems
    out += ["---", "", "资料来源：" + "；".join(source_line(d) for d in b["sources"]), "",
            b["disclaimer"], ""]
    return "\n".join(out)
