"""Pydantic models of the knowledge base.

The corpus is hand-reviewed YAML; these models are the single place that says what a
valid file looks like, so that a typo stops the build with the file and field named
instead of silently producing a worse index.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
#: P01 … P20 are the report's; a bank's own pain points continue the numbering.
PainId = Annotated[str, StringConstraints(pattern=r"^P(0[1-9]|[1-9][0-9]{1,2})$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]

#: A format: the ids of the report's seven traditional risks.
RISK_IDS = (
    "credit",
    "market",
    "liquidity",
    "operational_tech",
    "legal_compliance",
    "reputation",
    "systemic",
)


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt field must not vanish silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceRef(Strict):
    """Where in the report a piece of knowledge comes from."""

    document: Slug
    section: NonEmpty


class Approach(Strict):
    """One 应对思路 line, verbatim from the report, with the technologies it relies on."""

    text: NonEmpty
    tech: list[Slug] = Field(min_length=1)
    note_en: NonEmpty


class RiskLink(Strict):
    """Why a pain point's remedies carry a given traditional risk."""

    id: Slug
    reason: NonEmpty


class PainPoint(Strict):
    """One of the report's twenty pain points, enriched for retrieval."""

    id: PainId
    number: int = Field(ge=1, le=999)
    title: NonEmpty
    title_en: NonEmpty
    summary_en: NonEmpty
    pain: NonEmpty
    approaches: list[Approach] = Field(min_length=1)
    risks: list[RiskLink] = Field(min_length=1)
    keywords: list[NonEmpty] = Field(min_length=3)
    aliases: list[NonEmpty] = Field(default_factory=list)
    examples: list[NonEmpty] = Field(min_length=15)
    written_examples: list[NonEmpty] = Field(
        default_factory=list,
        description="the problem as real text states it: news, annual reports, regulators, "
        "papers, English press, e-mails (examples are the spoken, banker's voice)",
    )
    case: Slug | None = None
    source: SourceRef

    @field_validator("number")
    @classmethod
    def _number_matches_id(cls, v: int, info) -> int:  # type: ignore[no-untyped-def]
        pid = info.data.get("id")
        if pid is not None and int(pid[1:]) != v:
            raise ValueError(f"number {v} does not match id {pid}")
        return v

    @field_validator("examples", "written_examples")
    @classmethod
    def _examples_unique(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        for text in v:
            if text in seen:
                raise ValueError(f"duplicate example: {text!r}")
            seen.add(text)
        return v


class Risk(Strict):
    """A traditional financial risk and how fintech changes it, per the report."""

    id: Slug
    name: NonEmpty
    name_en: NonEmpty
    report_heading: NonEmpty
    report_text: NonEmpty
    fintech_change: NonEmpty
    fintech_change_en: NonEmpty
    controls: list[NonEmpty] = Field(min_length=1)
    source: SourceRef


class Technology(Strict):
    """An entry of the controlled technology vocabulary used to tag approaches."""

    id: Slug
    name: NonEmpty
    name_en: NonEmpty
    kind: Literal["technology", "business_model"]
    aliases: list[NonEmpty] = Field(default_factory=list)


class CooperationMode(Strict):
    """One of the report's three ways for a bank to work with fintech firms."""

    id: Slug
    order: int = Field(ge=1)
    name: NonEmpty
    name_en: NonEmpty
    text: NonEmpty
    source: SourceRef


class CaseStep(Strict):
    title: NonEmpty
    detail: list[NonEmpty] = Field(min_length=1)


class CaseFigure(Strict):
    label: NonEmpty
    label_en: NonEmpty
    value: float
    unit: str = ""
    display: NonEmpty


class Case(Strict):
    """A worked case from the report, with its measured figures."""

    id: Slug
    title: NonEmpty
    title_en: NonEmpty
    summary: NonEmpty
    summary_en: NonEmpty
    steps: list[CaseStep] = Field(min_length=1)
    profile: list[NonEmpty] = Field(min_length=1)
    results: list[CaseFigure] = Field(min_length=1)
    anti_cheat: NonEmpty
    painpoints: list[PainId] = Field(min_length=1)
    source: SourceRef


class Document(Strict):
    """A source document the corpus is drawn from."""

    id: Slug
    title: NonEmpty
    authors: list[NonEmpty] = Field(min_length=1)
    publisher: NonEmpty
    note: str = ""


class SourceFile(Strict):
    documents: list[Document] = Field(min_length=1)
    seed_file: NonEmpty
    seed_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Synonyms(Strict):
    """Groups of interchangeable terms; the first of each group is the canonical form."""

    groups: list[list[NonEmpty]] = Field(min_length=1)

    @field_validator("groups")
    @classmethod
    def _groups_have_two(cls, v: list[list[str]]) -> list[list[str]]:
        for g in v:
            if len(g) < 2:
                raise ValueError(f"synonym group needs two or more terms: {g}")
        return v


class Calibration(Strict):
    """Statements that are not bank pain points: they teach the threshold what noise is."""

    out_of_scope: list[NonEmpty] = Field(min_length=20)
    bank_related: list[NonEmpty] = Field(
        default_factory=list,
        description="bank-related text that is not a pain point (governance, capital, rates as "
        "news, HR, opening hours, single complaints, earnings…): a class of its own",
    )


#: A format: a jieba user-dictionary line (word, optional frequency and part of speech).
USERDICT_LINE = re.compile(r"^\S+( \d+)?( [a-z]+)?$")


class AskItem(Strict):
    """How a question about one knowledge item sounds: words that name it, example questions."""

    aliases: list[NonEmpty] = Field(default_factory=list)
    questions: list[NonEmpty] = Field(default_factory=list)


class AskFile(Strict):
    """``corpus/ask.yaml``: questions about the report itself (risks, technologies, the
    cooperation modes, the case), pain points' short names, and bank acronyms."""

    risks: dict[Slug, AskItem]
    technologies: dict[Slug, AskItem]
    cooperation: dict[Slug, AskItem] = Field(description="'overview' asks for all the modes")
    cases: dict[Slug, AskItem]
    painpoints: dict[PainId, list[NonEmpty]] = Field(default_factory=dict)
    acronyms: dict[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,6}$")], NonEmpty] = Field(
        default_factory=dict)
