"""The answer's shape, shared by the CLI's ``--json``, the JSON API and the pages.

Outside tools rely on ``results[].id`` and ``results[].score``; keep those names stable.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class TechRef(BaseModel):
    id: str
    name: str
    name_en: str


class ApproachOut(BaseModel):
    text: str
    text_en: str
    tech: list[TechRef]


class RiskOut(BaseModel):
    id: str
    name: str
    name_en: str
    reason: str
    fintech_change: str
    controls: list[str]


class CaseFigureOut(BaseModel):
    label: str
    label_en: str
    display: str


class CaseOut(BaseModel):
    id: str
    title: str
    title_en: str
    summary: str
    results: list[CaseFigureOut]
    anti_cheat: str


class EvidenceOut(BaseModel):
    text: str = Field(description="the corpus text that matched best (an example, approach, …)")
    kind: str = Field(description="which view of the entry matched: example, title, pain, approach…")
    matched_terms: list[str] = Field(description="query words also found in this pain point")
    segment: str | None = Field(None, description="the part of the query that evidences it")


class Result(BaseModel):
    id: str = Field(description="pain-point id, P01…P20")
    number: int
    title: str
    title_en: str
    summary_en: str
    pain: str
    score: float = Field(description="log-odds of confidence: higher is better, and results are sorted by it")
    confidence: float = Field(ge=0.0, le=1.0, description="calibrated P(this is the right pain point)")
    evidence: EvidenceOut
    approaches: list[ApproachOut]
    risks: list[RiskOut]
    case: CaseOut | None = None


class Segment(BaseModel):
    text: str
    matched: bool
    id: str | None = None
    title: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)


class SearchResponse(BaseModel):
    query: str
    matched: bool = Field(description="false means: no good match, the results are only suggestions")
    message: str
    in_scope: float = Field(ge=0.0, le=1.0, description="calibrated P(the text describes a bank pain point)")
    threshold: float
    technologies: list[TechRef] = Field(description="technologies the query names")
    results: list[Result]
    segments: list[Segment]
    took_ms: float
