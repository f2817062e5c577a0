"""A pain point as one self-contained passage, for clients that hand text to a language model.

Dify's ``records[].content`` and the MCP resources are pasted into an LLM's context and
quoted from, one passage at a time, without the page around it: so each passage names the
pain point, states the pain, its remedies with their technologies and its risks with their
controls, and says where the full page is. One function writes it for both clients, so a
pain point reads the same wherever a chat tool meets it.
"""

from __future__ import annotations

from tongdian.core.answers.models import ApproachOut, PainPointHeader, RiskOut

from .render import zh_punct


def passage(pp: PainPointHeader, approaches: list[ApproachOut], risks: list[RiskOut],
            url: str) -> str:
    """Plain text with light Markdown (numbered lines), safe to quote as is."""
    lines = [f"痛点 {pp.id}：{pp.title}（{pp.title_en}）", f"痛点描述：{pp.pain.strip()}"]
    if approaches:
        lines.append("应对思路：")
        for i, a in enumerate(approaches, 1):
            techs = "、".join(t.name for t in a.tech)
            tail = f"（技术：{techs}）" if techs else ""
            lines.append(f"{i}. {zh_punct(a.text).rstrip('。')}{tail}")
    if risks:
        lines.append("相关风险：")
        for r in risks:
            controls = "；".join(r.controls[:2])
            tail = f" 管控：{controls}" if controls else ""
            lines.append(f"- {r.name}：{r.reason.strip().rstrip('。')}。{tail}")
    lines.append(f"详情：{url}")
    return "\n".join(lines)
