"""Request and response models of the JSON API (the search answer itself is ``tongdian.models``).

They are declared once here so that OpenAPI at ``/docs`` documents exactly what the routes
return, and so that each HTML page and its JSON twin are built from the same objects.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tongdian.config import MAX_K, MAX_QUERY_CHARS
from tongdian.models import ApproachOut, RiskOut, SearchResponse, TechRef


class ErrorBody(BaseModel):
    """Every 4xx/5xx JSON body: a sentence for people plus machine-readable detail."""

    error: str = Field(description="what went wrong, in a sentence")
    detail: Any = Field(None, description="field-level problems, limits, or null")


class SearchRequest(BaseModel):
    """``POST /api/search`` body; POST exists for briefings too long for a URL."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(description=f"the bank's problem, up to {MAX_QUERY_CHARS} characters")
    k: int = Field(5, ge=1, le=MAX_K, description="how many pain points to return")


class ChatRequest(BaseModel):
    """``POST /api/chat`` body, the shape chat-tool webhooks can fill in without code."""

    model_config = ConfigDict(extra="ignore")  # bots send extra envelope fields; ignore them

    message: str = Field(description=f"the user's message, up to {MAX_QUERY_CHARS} characters")
    k: int = Field(3, ge=1, le=MAX_K, description="how many pain points to mention")


class ChatResponse(BaseModel):
    reply: str = Field(description="ready-to-post Markdown; the user's text in it is neutralised")
    url: str = Field(description="the page of the best match, or of all pain points")
    result: SearchResponse


class RiskRef(BaseModel):
    id: str
    name: str
    name_en: str


class PainRef(BaseModel):
    id: str
    title: str
    title_en: str
    url: str


class CaseFigure(BaseModel):
    label: str
    label_en: str
    display: str


class CaseStep(BaseModel):
    title: str
    detail: list[str]


class CaseDetail(BaseModel):
    id: str
    title: str
    title_en: str
    summary: str
    summary_en: str
    steps: list[CaseStep]
    profile: list[str]
    results: list[CaseFigure]
    anti_cheat: str
    painpoints: list[str]


class PainPointSummary(BaseModel):
    """One row of ``/``: enough to see the pain and its remedies at a glance."""

    id: str
    number: int
    title: str
    title_en: str
    summary_en: str
    pain: str
    approaches: list[ApproachOut]
    technologies: list[TechRef] = Field(description="union of the approaches' technologies")
    risks: list[RiskRef]
    case: str | None = Field(None, description="id of the linked case study")
    url: str = Field(description="path of the HTML page")


class FacetValue(BaseModel):
    id: str
    name: str
    count: int = Field(description="pain points you would see when selecting this value")
    selected: bool


class Facets(BaseModel):
    technologies: list[FacetValue]
    risks: list[FacetValue]


class PainPointList(BaseModel):
    count: int
    filters: dict[str, str | None]
    facets: Facets
    painpoints: list[PainPointSummary]


class PainPointDetail(PainPointSummary):
    """``/p/{id}``: the pain, remedies, risks with reasons and controls, case, neighbours."""

    risks_detail: list[RiskOut]
    keywords: list[str]
    case_detail: CaseDetail | None
    neighbours: list[PainRef] = Field(description="the nearest other pain points")
    source: str = Field(description="the report section it is drawn from")


class RiskCarrier(BaseModel):
    id: str
    title: str
    reason: str
    url: str


class RiskEntry(BaseModel):
    id: str
    name: str
    name_en: str
    report_heading: str
    report_text: str
    fintech_change: str
    fintech_change_en: str
    controls: list[str]
    painpoints: list[RiskCarrier] = Field(description="pain points whose remedies carry it")


class RiskList(BaseModel):
    count: int
    risks: list[RiskEntry]


class TechnologyEntry(BaseModel):
    id: str
    name: str
    name_en: str
    kind: str
    aliases: list[str]
    painpoints: list[str] = Field(description="ids of pain points with an approach using it")


class TechnologyMatrix(BaseModel):
    """Rows are pain points, columns technologies; a cell counts the approaches using it."""

    rows: list[str]
    columns: list[str]
    cells: list[list[int]]


class TechnologyList(BaseModel):
    count: int
    technologies: list[TechnologyEntry]
    matrix: TechnologyMatrix


class Health(BaseModel):
    status: str
    index_loaded: bool
    embedder: str
    corpus_version: str = Field(description="first 12 hex digits of the corpus digest")
    corpus_digest: str
    index_built_at: str
    index_format: int
    painpoints: int
    views: int
