"""The typed answer in words: plain text for the CLI, Markdown for chat replies.

One function says what the page shows on top (a pain point or a comparison, a risk and its
controls, a technology's pain points and risks, the three cooperation modes, the case's
steps and figures), so the CLI and ``/api/chat`` cannot drift apart. Every string here comes
from the corpus; the user's own text is never echoed (the callers quote it, neutralised).
"""

from __future__ import annotations

from tongdian.core.answers.models import SearchResponse, TypedAnswer

from .errors import ApiError
from .render import zh_punct

KIND_LABEL = {"painpoint": "痛点", "compare": "痛点对比", "risk": "风险", "technology": "技术",
              "cooperation": "合作模式", "case": "案例"}
#: Pain points listed under a risk or a technology before "…等 N 个".
LIST_MAX = 8


KINDS = ("painpoint", "risk", "technology", "cooperation", "case")


def only_kinds(r: SearchResponse, raw: str | None) -> SearchResponse:
    """``answers`` restricted to the kinds a client asked for (``kinds=risk,technology``).

    An unknown kind is the client's mistake, said as a 422 naming the valid ones; an empty
    value means every kind. ``results`` and the rest of the answer are left as they are.
    """
    if raw is None or not raw.strip():
        return r
    wanted = [k.strip() for k in raw.split(",") if k.strip()]
    bad = [k for k in wanted if k not in KINDS]
    if bad:
        raise ApiError(422, f"unknown kind {bad[0][:40]!r}: kinds are {', '.join(KINDS)}",
                       {"kinds": list(KINDS)})
    return r.model_copy(update={"answers": [a for a in r.answers if a.kind in wanted]})


def corrections_line(r: SearchResponse) -> str | None:
    if not r.corrections:
        return None
    return "拼写：" + "；".join(c.message for c in r.corrections)


def typed_lines(r: SearchResponse, base: str = "", markdown: bool = False) -> list[str]:
    """Lines for the typed answer, or [] for a problem description (pain points first)."""
    if r.intent == "problem" or not r.answers:
        return []
    b = (lambda s: f"**{s}**") if markdown else (lambda s: s)
    head = r.answers[0]
    link = (lambda a: f"{base}{a.url}") if base else (lambda a: a.url)
    out = [b(f"报告中的答案（{KIND_LABEL[r.intent]}）") + f" · {head.matched}"]
    if r.intent in ("painpoint", "compare"):
        shown = [a for a in r.answers if a.kind == "painpoint"][: 2 if r.intent == "compare" else 1]
        for a in shown:
            out += _painpoint(a, b, link)
    elif r.intent == "risk":
        out.append(b(f"{head.title}（{head.title_en}）"))
        out.append(f"- 金融科技带来的变化：{head.summary}")
        out.append("- 报告提出的管控：" + "；".join(head.controls))
        out.append("- 带有此风险的痛点：" + _pains(head))
        out.append(f"- 详情：{link(head)}")
    elif r.intent == "technology":
        out.append(b(f"{head.title}（{head.title_en}）") + f"：{len(head.painpoints)} 个痛点的应对思路用到它")
        for p in head.painpoints[:LIST_MAX]:
            out.append(f"- {p.id} {p.title}：{zh_punct(p.reason)}")
        if head.risks:
            out.append("- 这些痛点带来的风险：" + "；".join(rk.name for rk in head.risks))
        out.append(f"- 详情：{link(head)}")
    elif r.intent == "cooperation":
        modes = sorted((a for a in r.answers if a.kind == "cooperation"), key=lambda a: a.order or 0)
        for m in modes:
            out.append(f"{m.order}. {b(m.title)}（{m.title_en}）：{zh_punct(m.summary)}")
        out.append("报告：三种策略不分先后，可按业务领域、以实施效果为导向，依法依规选用。")
    elif r.intent == "case":
        out.append(b(head.title))
        out.append(head.summary)
        for s in head.steps:
            out.append(f"- {s.title}")
        out.append("- 结果：" + "，".join(f"{f.label} {f.display}" for f in head.figures))
        out.append("- 对应痛点：" + _pains(head))
        out.append(f"- 详情：{link(head)}")
    others = [a for a in r.answers[1:6] if not (r.intent == "cooperation" and a.kind == "cooperation")
              and not (r.intent == "compare" and a.kind == "painpoint" and a in r.answers[:2])]
    if others:
        out.append("也可能相关：" + "、".join(
            f"{a.id + ' ' if a.kind == 'painpoint' else ''}{a.title}（{KIND_LABEL[a.kind]}）"
            for a in others[:4]))
    return out


def _painpoint(a: TypedAnswer, b, link) -> list[str]:  # type: ignore[no-untyped-def]
    lines = [b(f"{a.id} {a.title}") + f"（{a.title_en}）", f"- 痛点：{zh_punct(a.summary)}"]
    for ap in a.approaches:
        lines.append(f"- 应对思路：{zh_punct(ap.text).rstrip('。')}（{'、'.join(t.name for t in ap.tech)}）")
    if a.risks:
        lines.append("- 相关风险：" + "；".join(rk.name for rk in a.risks))
    lines.append(f"- 详情：{link(a)}")
    return lines


def _pains(a: TypedAnswer) -> str:
    names = [f"{p.id} {p.title}" for p in a.painpoints[:LIST_MAX]]
    more = len(a.painpoints) - LIST_MAX
    return "、".join(names) + (f" 等 {len(a.painpoints)} 个" if more > 0 else "")
