"""What an answer says about one pain point: its approaches, risks, case and header.

None of it depends on the query, so it is built once per pain point and shared — by every
search result and by the catalog's pages — instead of being rebuilt per request; cached
answers then hold references, not copies, of the risks' long texts.
"""

from __future__ import annotations

from tongdian.core.answers.models import (
    ApproachOut,
    CaseFigure,
    CaseOut,
    PainPointHeader,
    RiskOut,
    TechRef,
)
from tongdian.core.knowledge.corpus import Corpus
from tongdian.core.knowledge.schema import PainPoint


class Answers:
    """The query-independent parts of every answer, built once per pain point."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.approaches = {pp.id: self._approaches(pp) for pp in corpus.painpoints}
        self.risks = {pp.id: self._risks(pp) for pp in corpus.painpoints}
        self.cases = {pp.id: self._case(pp) for pp in corpus.painpoints}

    def tech_ref(self, tid: str) -> TechRef:
        t = self.corpus.technologies[tid]
        return TechRef(id=t.id, name=t.name, name_en=t.name_en)

    @staticmethod
    def header(pp: PainPoint) -> dict[str, object]:
        """The fields of ``PainPointHeader``, for the models that extend it."""
        return {f: getattr(pp, f) for f in PainPointHeader.model_fields}

    def _approaches(self, pp: PainPoint) -> list[ApproachOut]:
        return [
            ApproachOut(text=a.text, text_en=a.note_en, tech=[self.tech_ref(t) for t in a.tech])
            for a in pp.approaches
        ]

    def _risks(self, pp: PainPoint) -> list[RiskOut]:
        out = []
        for link in pp.risks:
            r = self.corpus.risks[link.id]
            out.append(RiskOut(id=r.id, name=r.name, name_en=r.name_en, reason=link.reason,
                               fintech_change=r.fintech_change, controls=list(r.controls)))
        return out

    def _case(self, pp: PainPoint) -> CaseOut | None:
        if pp.case is None:
            return None
        c = self.corpus.cases[pp.case]
        return CaseOut(
            id=c.id, title=c.title, title_en=c.title_en, summary=c.summary,
            results=[CaseFigure(label=f.label, label_en=f.label_en, display=f.display)
                     for f in c.results],
            anti_cheat=c.anti_cheat,
        )
