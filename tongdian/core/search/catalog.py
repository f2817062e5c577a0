"""Read-only answers about the corpus that the pages and their JSON twins share.

The corpus never changes while the server runs, so everything here is computed once at
start-up (microseconds per request afterwards). Pages and JSON routes both read from one
``Catalog``, which is what keeps every page and its JSON twin saying the same thing.
"""

from __future__ import annotations

import threading

from tongdian.core.answers.answers import Answers
from tongdian.core.answers.models import (
    CaseDetail,
    CaseFigure,
    CaseStep,
    Facets,
    FacetValue,
    Health,
    PainPointDetail,
    PainPointList,
    PainPointSummary,
    PainRef,
    RiskCarrier,
    RiskEntry,
    RiskList,
    RiskRef,
    TechnologyEntry,
    TechnologyList,
    TechnologyMatrix,
)
from tongdian.core.errors import NotFound, UnknownFilter
from tongdian.core.knowledge.schema import PainPoint
from tongdian.core.search.engine import Engine


class Catalog:
    """Everything about the twenty pain points that does not depend on a query."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        c = engine.corpus
        self._neighbours: dict[str, list[PainRef]] = {}
        self._lock = threading.Lock()
        self.summaries: dict[str, PainPointSummary] = {
            pp.id: self._summary(pp) for pp in c.painpoints
        }
        # technologies in vocabulary order, technologies before business models
        self.tech_order: list[str] = sorted(
            c.technologies, key=lambda t: (c.technologies[t].kind != "technology",
                                           list(c.technologies).index(t))
        )
        self.risks: RiskList = self._risks()
        self.technologies: TechnologyList = self._technologies()

    # -- pain points ---------------------------------------------------------------------
    def _summary(self, pp: PainPoint) -> PainPointSummary:
        c = self.engine.corpus
        tech_ids = list(dict.fromkeys(t for a in pp.approaches for t in a.tech))
        answers = self.engine.answers
        return PainPointSummary(
            **Answers.header(pp),
            approaches=answers.approaches[pp.id],
            technologies=[answers.tech_ref(t) for t in tech_ids],
            risks=[
                RiskRef(id=r.id, name=c.risks[r.id].name, name_en=c.risks[r.id].name_en)
                for r in pp.risks
            ],
            case=pp.case,
        )

    def listing(self, tech: str | None = None, risk: str | None = None) -> PainPointList:
        """The home page's data: pain points filtered by one technology and/or one risk.

        Facet counts follow the usual faceted-search rule: a value's count is how many pain
        points you would see if you picked it while keeping the *other* facet's choice.
        """
        c = self.engine.corpus
        tech = (tech or "").strip() or None
        risk = (risk or "").strip() or None
        if tech is not None and tech not in c.technologies:
            raise UnknownFilter(f"unknown technology {tech[:40]!r}",
                                {"known": list(c.technologies)})
        if risk is not None and risk not in c.risks:
            raise UnknownFilter(f"unknown risk {risk[:40]!r}", {"known": list(c.risks)})

        def has_tech(s: PainPointSummary, t: str | None) -> bool:
            return t is None or any(x.id == t for x in s.technologies)

        def has_risk(s: PainPointSummary, r: str | None) -> bool:
            return r is None or any(x.id == r for x in s.risks)

        rows = [s for s in self.summaries.values() if has_tech(s, tech) and has_risk(s, risk)]
        by_risk = [s for s in self.summaries.values() if has_risk(s, risk)]
        by_tech = [s for s in self.summaries.values() if has_tech(s, tech)]
        tech_facet = [
            FacetValue(id=t, name=c.technologies[t].name,
                       count=sum(has_tech(s, t) for s in by_risk), selected=t == tech)
            for t in self.tech_order
        ]
        risk_facet = [
            FacetValue(id=r, name=c.risks[r].name,
                       count=sum(has_risk(s, r) for s in by_tech), selected=r == risk)
            for r in c.risks
        ]
        return PainPointList(
            count=len(rows),
            filters={"tech": tech, "risk": risk},
            facets=Facets(technologies=[f for f in tech_facet if f.count or f.selected],
                          risks=risk_facet),
            painpoints=rows,
        )

    def neighbours(self, pid: str) -> list[PainRef]:
        """Nearest other pain points; computed once per id, then cached."""
        if pid not in self._neighbours:
            near = self.engine.neighbours(pid, n=3)
            refs = [PainRef(id=p.id, title=p.title, title_en=p.title_en)
                    for p in near]
            with self._lock:
                self._neighbours[pid] = refs
        return self._neighbours[pid]

    def case_detail(self, case_id: str | None) -> CaseDetail | None:
        if case_id is None:
            return None
        k = self.engine.corpus.cases[case_id]
        return CaseDetail(
            id=k.id, title=k.title, title_en=k.title_en, summary=k.summary,
            summary_en=k.summary_en,
            steps=[CaseStep(title=s.title, detail=list(s.detail)) for s in k.steps],
            profile=list(k.profile),
            results=[CaseFigure(label=f.label, label_en=f.label_en, display=f.display)
                     for f in k.results],
            anti_cheat=k.anti_cheat, painpoints=list(k.painpoints),
        )

    def painpoint(self, raw_id: str) -> PainPoint:
        """The pain point an id names (``p04`` as ``P04``); anything the loaded corpus does
        not hold — ``P21`` before a bank adds it, ``..``, an encoded slash — is ``NotFound``."""
        pid = raw_id.strip().upper()
        pp = self.engine.corpus.by_id.get(pid)
        if pp is None:
            # never echo the raw path segment back unbounded
            first, last = self.engine.corpus.painpoints[0].id, self.engine.corpus.painpoints[-1].id
            raise NotFound(f"not found: pain point {raw_id[:20]!r} (ids are {first} … {last})")
        return pp

    def detail(self, raw_id: str) -> PainPointDetail:
        pp = self.painpoint(raw_id)
        pid = pp.id
        s = self.summaries[pid]
        return PainPointDetail(
            **s.model_dump(),
            risks_detail=self.engine.answers.risks[pp.id],
            keywords=list(pp.keywords),
            case_detail=self.case_detail(pp.case),
            neighbours=self.neighbours(pid),
            source=pp.source.section,
        )

    # -- risks and technologies ------------------------------------------------------------
    def _risks(self) -> RiskList:
        c = self.engine.corpus
        out = []
        for r in c.risks.values():
            carriers = [
                RiskCarrier(id=pp.id, title=pp.title, reason=link.reason)
                for pp in c.painpoints for link in pp.risks if link.id == r.id
            ]
            out.append(RiskEntry(
                id=r.id, name=r.name, name_en=r.name_en, report_heading=r.report_heading,
                report_text=r.report_text, fintech_change=r.fintech_change,
                fintech_change_en=r.fintech_change_en, controls=list(r.controls),
                painpoints=carriers,
            ))
        return RiskList(count=len(out), risks=out)

    def _technologies(self) -> TechnologyList:
        c = self.engine.corpus
        rows = [pp.id for pp in c.painpoints]
        cells = [
            [sum(t in a.tech for a in pp.approaches) for t in self.tech_order]
            for pp in c.painpoints
        ]
        entries = []
        for j, t in enumerate(self.tech_order):
            tech = c.technologies[t]
            entries.append(TechnologyEntry(
                id=tech.id, name=tech.name, name_en=tech.name_en, kind=tech.kind,
                aliases=list(tech.aliases),
                painpoints=[rows[i] for i in range(len(rows)) if cells[i][j]],
            ))
        return TechnologyList(
            count=len(entries), technologies=entries,
            matrix=TechnologyMatrix(rows=rows, columns=list(self.tech_order), cells=cells),
        )

    def health(self) -> Health:
        m = self.engine.index.manifest
        return Health(
            status="ok",
            index_loaded=True,
            embedder=self.engine.embedder.spec,
            corpus_version=self.engine.corpus.digest[:12],
            corpus_digest=self.engine.corpus.digest,
            index_built_at=m.built_at,
            index_format=m.format,
            painpoints=m.n_entries,
            views=m.n_views,
        )
