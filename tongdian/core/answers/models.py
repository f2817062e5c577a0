"""Every answer's shape: the search answer, and the catalog's pages and their JSON twins.

One vocabulary for the CLI's ``--json``, the JSON API and the pages; the corpus's *input*
schema is ``schema.py``. Shared bases carry the fields several answers repeat, so a pain
point's header or a risk's reference is declared once. Outside tools rely on
``results[].id`` and ``results[].score``; keep those names stable. Links are the web
layer's: the core leaves every ``url`` empty and ``tongdian.api.links`` fills it from the ids.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def _url_always_served(schema: dict[str, Any]) -> None:
    """The schema of a model whose ``url`` the web layer fills: every answer served carries
    it, so the API's schema lists it as required (as it did when the core built links)."""
    schema["properties"]["url"].pop("default", None)
    required = {*schema.get("required", ()), "url"}
    schema["required"] = [name for name in schema["properties"] if name in required]


#: Not a knob: the pydantic config of the models that carry a ``url`` (always in the schema).
LINKED = ConfigDict(json_schema_extra=_url_always_served)


# -- shared bases ------------------------------------------------------------------------------
class TechRef(BaseModel):
    id: str
    name: str
    name_en: str


class RiskRef(BaseModel):
    id: str
    name: str
    name_en: str


class PainRef(BaseModel):
    model_config = LINKED

    id: str
    title: str
    title_en: str
    url: str = ""  # the web layer fills it (tongdian.api.links)


class PainPointHeader(BaseModel):
    """What every answer about one pain point starts with."""

    id: str = Field(description="pain-point id, P01…P20 (and beyond, for a bank's own)")
    number: int
    title: str
    title_en: str
    summary_en: str
    pain: str


class CaseFigure(BaseModel):
    label: str
    label_en: str
    display: str


class CaseStep(BaseModel):
    title: str
    detail: list[str]


class ApproachOut(BaseModel):
    text: str
    text_en: str
    tech: list[TechRef]


class RiskOut(RiskRef):
    reason: str
    fintech_change: str
    controls: list[str]


class CaseOut(BaseModel):
    id: str
    title: str
    title_en: str
    summary: str
    results: list[CaseFigure]
    anti_cheat: str


class EvidenceOut(BaseModel):
    text: str = Field(description="the corpus text that matched best (an example, approach, …)")
    kind: str = Field(description="which view of the entry matched: example, title, pain, approach…")
    matched_terms: list[str] = Field(description="query words also found in this pain point")
    segment: str | None = Field(None, description="the part of the query that evidences it")


class Result(PainPointHeader):
    score: float = Field(description="log-odds of confidence: higher is better, and results are sorted by it")
    confidence: float = Field(ge=0.0, le=1.0, description="calibrated P(this is the right pain point)")
    evidence: EvidenceOut
    approaches: list[ApproachOut]
    risks: list[RiskOut]
    case: CaseOut | None = None
    mapped: bool = Field(False, description="a passage of the text maps to it confidently: "
                         "answer it in full, however far down it ranks")


class Segment(BaseModel):
    text: str
    matched: bool
    id: str | None = None
    title: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    problem: bool = Field(True, description="false: the passage describes no problem "
                          "(background, agenda, next steps, greetings…) and is not ranked")
    reason: str | None = Field(None, description="why it is not a problem: 'framing: <cue>' "
                               "or 'out_of_scope'")


AnswerKind = Literal["painpoint", "risk", "technology", "cooperation", "case"]


class Correction(BaseModel):
    """A one-character typo read as the domain word it most likely meant, shown to the user."""

    typed: str = Field(description="what the text says")
    word: str = Field(description="the domain word it was read as")
    message: str = Field(description="e.g. 「风空」按「风控」理解")


class PainUse(BaseModel):
    """A pain point in a typed answer, with why it is there (the risk's reason, the
    approach that uses the technology, the case it illustrates)."""

    model_config = LINKED

    id: str
    title: str
    reason: str
    url: str = ""  # the web layer fills it (tongdian.api.links)


class TypedAnswer(BaseModel):
    """One knowledge item of any kind, answering a question about the report.

    Common fields first; the rest are filled for the kinds that have them (empty otherwise):
    a pain point's approaches and risks; a risk's change and controls and the pain points
    that carry it; a technology's pain points (with the approach using it) and their risks;
    a cooperation mode's text; the case's steps, profile and figures.
    """

    model_config = LINKED

    kind: AnswerKind
    id: str = Field(description="P01…, a risk id, a technology id, a cooperation mode id or a case id")
    title: str
    title_en: str
    url: str = Field("", description="path of the page that shows this item")
    score: float = Field(description="log-odds of confidence; answers are sorted by confidence")
    confidence: float = Field(ge=0.0, le=1.0)
    matched: str = Field(description="what in the question named this item (a number, a word, "
                                     "a similar example question, the problem it describes)")
    summary: str = Field("", description="the item in one paragraph")
    approaches: list[ApproachOut] = Field(default_factory=list)
    risks: list[RiskOut] = Field(default_factory=list, description="pain point: its risks; "
                                 "technology: the risks of the pain points that use it")
    controls: list[str] = Field(default_factory=list)
    painpoints: list[PainUse] = Field(default_factory=list)
    order: int | None = Field(None, description="cooperation mode: its place in the report")
    steps: list[CaseStep] = Field(default_factory=list)
    profile: list[str] = Field(default_factory=list)
    figures: list[CaseFigure] = Field(default_factory=list)


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
    chars: int = Field(0, description="characters in the query as searched")
    analysed_chars: int = Field(0, description="characters analysed (less than chars only "
                                "when truncated)")
    truncated: bool = Field(False, description="true when part of the text was not analysed")
    cached: bool = Field(False, description="answered from the cache (took_ms is the lookup)")
    intent: str = Field("problem", description="how the text was read: problem (a bank's "
                        "problem: pain points first), painpoint (one named by number or title), "
                        "compare (two or more named), risk, technology, cooperation or case")
    answers: list[TypedAnswer] = Field(default_factory=list, description="knowledge items of "
                                       "any kind, best first; `results` stays the pain-point ranking")
    corrections: list[Correction] = Field(default_factory=list,
                                          description="typos read as domain words")


# -- the catalog: pages that do not depend on a query ---------------------------------------
class CaseDetail(CaseOut):
    summary_en: str
    steps: list[CaseStep]
    profile: list[str]
    painpoints: list[str]


class PainPointSummary(PainPointHeader):
    """One row of ``/``: enough to see the pain and its remedies at a glance."""

    model_config = LINKED

    approaches: list[ApproachOut]
    technologies: list[TechRef] = Field(description="union of the approaches' technologies")
    risks: list[RiskRef]
    case: str | None = Field(None, description="id of the linked case study")
    url: str = Field("", description="path of the HTML page")


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
    model_config = LINKED

    id: str
    title: str
    reason: str
    url: str = ""  # the web layer fills it (tongdian.api.links)


class RiskEntry(RiskRef):
    report_heading: str
    report_text: str
    fintech_change: str
    fintech_change_en: str
    controls: list[str]
    painpoints: list[RiskCarrier] = Field(description="pain points whose remedies carry it")


class RiskList(BaseModel):
    count: int
    risks: list[RiskEntry]


class TechnologyEntry(TechRef):
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
    views: int = Field(description="indexed passages (an entry's texts: examples, approaches…)")
