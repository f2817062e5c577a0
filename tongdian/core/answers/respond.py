"""Stage 4 of a search: the answer a consultant reads, built from the verdict.

For each pain point picked: its approaches, risks and case, the passage of the knowledge
that matched and the words of the text that did; the passages of a longer text with what
each names; the technologies the text names; and the typed answers when the text asks about
the report. Nothing here ranks: it reads the ``Verdict`` and the corpus.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tongdian.core.answers.answers import Answers
from tongdian.core.answers.ask import Asker
from tongdian.core.answers.models import Correction, EvidenceOut, Result, SearchResponse, Segment
from tongdian.core.knowledge.corpus import Corpus
from tongdian.core.knowledge.passages import Passage, PassageKind
from tongdian.core.ranking.verdict import Pick, Verdict
from tongdian.core.reading.reader import Reading
from tongdian.core.reading.text import Tokenizer, normalize

#: Words in more than this share of the pain points' own text (银行, 客户) are evidence for
#: none of them: they are never shown as a matched word (display only: no ranking metric
#: moves; off shows them, which tests/test_engine.py refuses).
GENERIC_SHARE = 0.4
#: What a keyword query's answer says before the pain point it leads to.
KEYWORD_MESSAGE = "文字较短，按关键词找到的痛点（a short keyword query; describe the problem in a sentence for a surer answer）："
#: The "no good match" message (Chinese first: the interface is Chinese; chat tools and
#: tests look for the English gloss).
NO_MATCH_MESSAGE = "没有找到足够匹配的银行痛点（no good match）。可以换个说法，描述业务上遇到的具体困难。"


class Responder:
    """Builds answers; holds only query-independent data, so it is shared by all searches."""

    def __init__(self, corpus: Corpus, views: Sequence[Passage], tokenizer: Tokenizer,
                 answers: Answers, asker: Asker) -> None:
        self.corpus = corpus
        self.views = views
        self.tokenizer = tokenizer
        self.answers = answers
        self.asker = asker
        self._entry_tokens = [
            # the report's text and the curated terms, not the examples: an example's
            # filler words ("下来", "两周") are not evidence worth highlighting
            frozenset(tokenizer.tokens("\n".join([pp.title, pp.pain, *pp.keywords, *pp.aliases,
                                                  *(a.text for a in pp.approaches)])))
            for pp in corpus.painpoints
        ]
        df: dict[str, int] = {}
        for toks in self._entry_tokens:
            for t in toks:
                df[t] = df.get(t, 0) + 1
        self._generic = frozenset(t for t, n in df.items()
                                  if n > GENERIC_SHARE * len(self._entry_tokens))
        self._tech_aliases = _tech_alias_forms(corpus)

    def respond(self, reading: Reading, verdict: Verdict) -> SearchResponse:
        words: dict[str, list[tuple[str, str]]] = {}  # one segmentation per quoted text
        results = []
        for p in verdict.picks:
            if p.source not in words:
                words[p.source] = self._words(normalize(p.source))
            results.append(self._result(p, words[p.source]))
        names = "、".join(f"{r.id} {r.title}" for r in results[:1])
        if verdict.matched:
            message = (KEYWORD_MESSAGE if verdict.keyword else "最接近的痛点：") + names
        else:
            message = NO_MATCH_MESSAGE
        intent, typed = self.asker.answer(reading.read + reading.expansion, results,
                                          verdict.matched)
        if intent != "problem" and typed:  # a question about the report: say what answers it
            message = f"报告中的答案：{typed[0].title}"
        pps = self.corpus.painpoints
        segments = [
            Segment(text=s.text, matched=s.problem, id=pps[s.entry].id if s.problem else None,
                    title=pps[s.entry].title if s.problem else None,
                    confidence=round(s.confidence, 4), problem=s.problem, reason=s.reason)
            for s in verdict.parts
        ]
        split = reading.split
        return SearchResponse(
            query=reading.text,
            matched=verdict.matched,
            message=message,
            in_scope=round(verdict.p_in, 4),
            threshold=round(verdict.threshold, 4),
            technologies=[self.answers.tech_ref(t)
                          for t in sorted(self._named_techs(verdict.whole_text, verdict.techs))],
            results=results,
            segments=segments,
            took_ms=0.0,
            chars=len(reading.text),
            analysed_chars=split.analysed_chars if split.truncated else len(reading.text),
            truncated=split.truncated,
            intent=intent,
            answers=typed,
            corrections=[Correction(typed=f.typed, word=f.word, message=f.message)
                         for f in reading.fixes],
        )

    def _words(self, norm: str) -> list[tuple[str, str]]:
        """A normalised text's words that could be evidence, each with its canonical token.

        Computed once per text and shared by every result that quotes it: segmenting the
        query again for each of k results was most of the answer-assembly time.
        """
        out: list[tuple[str, str]] = []
        for w in self.tokenizer.words(norm):
            toks = self.tokenizer.tokens(w)
            if toks and toks[0] not in self._generic and len(w.strip()) > 1:
                out.append((w, toks[0]))
        return out

    def _result(self, p: Pick, words: list[tuple[str, str]]) -> Result:
        pp = self.corpus.painpoints[p.entry]
        # results are ranked by confidence; score is its log-odds, so it falls down the list too
        c = min(max(p.confidence, 1e-6), 1 - 1e-6)
        if p.view >= 0:
            view = self.views[p.view]
            ev_text, ev_kind = view.text, PassageKind(view.kind).name.lower()
        else:
            ev_text, ev_kind = pp.pain, "pain"
        entry_tokens = self._entry_tokens[p.entry]
        return Result(
            **Answers.header(pp),
            score=round(float(np.log(c / (1 - c))), 4),
            confidence=round(min(max(p.confidence, 0.0), 1.0), 4),
            evidence=EvidenceOut(
                text=ev_text,
                kind=ev_kind,
                matched_terms=list(dict.fromkeys(w for w, t in words if t in entry_tokens))[:12],
                segment=p.source if p.from_passage else None,
            ),
            approaches=self.answers.approaches[pp.id],
            risks=self.answers.risks[pp.id],
            case=self.answers.cases[pp.id],
            mapped=p.mapped,
        )

    def _named_techs(self, text: str, techs: frozenset[str]) -> set[str]:
        """The recognised technologies the text really names (see ``_tech_alias_forms``)."""
        norm, raw = normalize(text), text.lower()
        keep = set()
        for t in techs:
            for na, original in self._tech_aliases.get(t, []):
                if len(na) >= 2 and na in norm and (original is None or original in raw):
                    keep.add(t)
                    break
        return keep


def _tech_alias_forms(corpus: Corpus) -> dict[str, list[tuple[str, str | None]]]:
    """Each technology's aliases as (normalised form, original form or None).

    The original form is kept for aliases whose normalised form exists *only* through
    Traditional→Simplified conversion: 行動 (mobile, in Taiwan) becomes 行动 ("action"),
    which a Simplified note uses for anything but mobile. Such an alias names the
    technology only where the text has it as written.
    """
    plain = {normalize(a) for t in corpus.technologies.values()
             for a in [t.name, *t.aliases, t.name_en] if normalize(a) == a.lower()}
    out: dict[str, list[tuple[str, str | None]]] = {}
    for t in corpus.technologies.values():
        forms = []
        for a in [t.name, *t.aliases, t.name_en]:
            na = normalize(a)
            forms.append((na, None if na in plain or na == a.lower() else a.lower()))
        out[t.id] = forms
    return out
