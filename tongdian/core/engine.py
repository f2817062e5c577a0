"""The search engine: a banker's text in, ranked pain points with remedies and risks out.

This is the core the CLI and the web layer both call; it knows nothing of HTTP.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tongdian.core.answers import Answers
from tongdian.core.ask import Asker
from tongdian.core.build import LoadedIndex, ensure_index
from tongdian.core.config import MAX_K, MAX_QUERY_CHARS, Settings
from tongdian.core.corpus import Corpus, load_corpus
from tongdian.core.errors import QueryError
from tongdian.core.features import Candidates, Query
from tongdian.core.models import EvidenceOut, Result, SearchResponse, Segment
from tongdian.core.passages import PassageKind
from tongdian.core.schema import PainPoint
from tongdian.core.segment import split_segments
from tongdian.core.text import normalize
from tongdian.index.embedders import Embedder, make_embedder
from tongdian.index.lru import LRU
from tongdian.index.store import Store

#: A clause's own best match joins the whole text's ranking at this fraction of its confidence.
SEGMENT_WEIGHT = 0.9
#: ...scaled down when the clause is less than this share of the text: in a two-problem
#: briefing each half speaks fully, an aside in a five-clause news paragraph does not
#: (tune half of real_dev P@1 0.675 → 0.725, held-out 0.55 → 0.575, dev unchanged).
SEGMENT_FULL_SHARE = 0.5
#: Answers kept for repeated questions (chat tools ask the same things again soon); ~14 KB each.
ANSWER_CACHE_SIZE = 128


_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass
class _Scored:
    query: Query  # normalised text, tokens and technologies, prepared once
    cand: Candidates
    scores: np.ndarray
    p_in: float
    dist: np.ndarray  # P(entry | in scope) over cand.entries


def validate_query(text: object, k: object = 5) -> tuple[str, int]:
    if not isinstance(text, str):
        raise QueryError("the query must be text")
    if "\x00" in text:
        text = text.replace("\x00", " ")
    # lone surrogates (undecodable bytes from a shell, broken JSON escapes) cannot be encoded
    # for the embedder; they carry no meaning, so they go
    text = _SURROGATES.sub("", text)
    stripped = text.strip()
    if not stripped or not normalize(stripped):
        raise QueryError("the query is empty: describe the bank's problem in a sentence or two")
    if len(stripped) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(stripped)} characters long; the maximum is {MAX_QUERY_CHARS}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_K}")
    return stripped, k


class Engine:
    """Holds the corpus, the embedder and the loaded index; thread-safe for searching."""

    def __init__(
        self, corpus: Corpus, embedder: Embedder, index: LoadedIndex, compose_segments: bool = True
    ) -> None:
        self.compose_segments = compose_segments
        self._answers: LRU[tuple[str, int, bool], SearchResponse] = LRU(ANSWER_CACHE_SIZE)
        self.corpus = corpus
        self.embedder = embedder
        self.index = index
        self.evidence = index.evidence
        self.ranker = index.ranker
        tok = self.evidence.tokenizer
        self._entry_tokens = [
            # the report's text and the curated terms, not the examples: an example's
            # filler words ("下来", "两周") are not evidence worth highlighting
            frozenset(tok.tokens("\n".join([pp.title, pp.pain, *pp.keywords, *pp.aliases,
                                            *(a.text for a in pp.approaches)])))
            for pp in corpus.painpoints
        ]
        df: dict[str, int] = {}
        for toks in self._entry_tokens:
            for t in toks:
                df[t] = df.get(t, 0) + 1
        # words most pain points use (银行, 客户) are not evidence for any one of them
        self._generic = frozenset(t for t, n in df.items() if n > 0.4 * len(self._entry_tokens))
        self._centroids = self._entry_centroids()
        self.answers = Answers(corpus)
        # questions about the report (risks, technologies, modes, the case, numbers): ask.py
        self.asker = Asker(corpus, embedder, tok, self.evidence.dense.vectors()[
            self.evidence.view_is_example], self.answers)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        rebuild: bool | None = None,
        progress: bool = False,
        on_step: Callable[[str], None] | None = None,
        embedder: Embedder | None = None,
    ) -> Engine:
        s = settings or Settings()
        corpus = load_corpus(Path(s.corpus))
        emb = embedder or make_embedder(s.embedder, s.query_prefix, s.passage_prefix, s.embed_threads)
        store = Store.for_embedder(Path(s.data), emb.spec)
        index = ensure_index(store, corpus, emb, rebuild=rebuild, progress=progress, on_step=on_step)
        return cls(corpus, emb, index, compose_segments=s.compose_segments)

    # -- scoring ---------------------------------------------------------------------------
    def _score(self, text: str, vec: np.ndarray) -> _Scored:
        q = self.evidence.prepare(text, vec)
        cand = self.evidence.candidates(q)
        s = self.ranker.scores(cand)
        return _Scored(q, cand, s, self.ranker.in_scope(cand, s), self.ranker.distribution(s))

    def _rank(self, text: str) -> tuple[_Scored, list[tuple[str, _Scored]]]:
        segments = split_segments(text)
        if len(segments) == 1:
            return self._score(text, self.embedder.embed_queries([text])[0]), []
        if self.compose_segments:
            # e5 mean-pools its tokens, so the token-weighted mean of the clause vectors
            # stands in for the whole text: one pass over the text instead of two.
            vecs = self.embedder.embed_queries(segments)
            w = np.array([max(len(s), 1) for s in segments], dtype=np.float32)
            whole_vec = (w[:, None] * vecs).sum(0)
            whole_vec /= max(float(np.linalg.norm(whole_vec)), 1e-9)
        else:
            both = self.embedder.embed_queries([text, *segments])
            whole_vec, vecs = both[0], both[1:]
        whole = self._score(text, whole_vec)
        return whole, [(t, self._score(t, v)) for t, v in zip(segments, vecs, strict=True)]

    # -- public API -------------------------------------------------------------------------
    def search(self, text: str, k: int = 5) -> SearchResponse:
        """Rank the pain points ``text`` describes; repeated questions come from a cache.

        The index never changes under a running engine, so a cached answer is exactly the
        answer a new search would give (only ``took_ms`` differs).
        """
        t0 = time.perf_counter()
        text, k = validate_query(text, k)
        key = (text, k, self.compose_segments)
        hit = self._answers.get(key)
        if hit is not None:
            return hit.model_copy(update={"took_ms": round((time.perf_counter() - t0) * 1000, 2)})
        rw = self.asker.rewrite(text)
        answer = self._search(rw.text, k, t0)
        intent, typed = self.asker.answer(rw.text, answer.results, answer.matched)
        update: dict[str, object] = {"query": text, "intent": intent, "answers": typed,
                                     "corrections": rw.corrections}
        if intent != "problem" and typed:  # a question about the report: say what answers it
            update["message"] = f"报告中的答案：{typed[0].title}"
        answer = answer.model_copy(update=update)
        self._answers.put(key, answer)
        return answer

    def clear_caches(self) -> None:
        """Forget cached answers, query vectors and tokenisations (benchmarks time cold paths)."""
        self._answers.clear()
        cache = getattr(self.embedder, "cache", None)
        if cache is not None:
            cache.clear()
        self.evidence.tokenizer.clear_cache()

    def _search(self, text: str, k: int, t0: float) -> SearchResponse:
        whole, segs = self._rank(text)
        thr = self.ranker.threshold

        conf: dict[int, float] = {}
        score: dict[int, float] = {}
        via_segment: dict[int, _Scored] = {}  # entries a clause evidences better than the whole
        for j, e in enumerate(whole.cand.entries):
            c = float(whole.dist[j] * whole.p_in)
            conf[int(e)] = c
            score[int(e)] = float(whole.scores[j])
        seg_out: list[Segment] = []
        total = max(sum(len(t) for t, _ in segs), 1)
        for seg_text, sc in segs:
            top = int(np.argmax(sc.scores))
            e = int(sc.cand.entries[top])
            c = float(sc.dist[top] * sc.p_in)
            ok = sc.p_in >= thr
            seg_out.append(
                Segment(
                    text=seg_text,
                    matched=ok,
                    id=self.corpus.painpoints[e].id if ok else None,
                    title=self.corpus.painpoints[e].title if ok else None,
                    confidence=round(c, 4),
                )
            )
            # a clause speaks for the whole text in proportion to how much of it it is: one
            # aside among five clauses must not outrank what the text as a whole is about
            share = min(1.0, len(seg_text) / total / SEGMENT_FULL_SHARE)
            if ok and SEGMENT_WEIGHT * share * c > conf.get(e, 0.0):
                conf[e] = SEGMENT_WEIGHT * share * c
                via_segment[e] = sc
        p_in = max([whole.p_in] + [sc.p_in for _, sc in segs])
        matched = p_in >= thr
        order = sorted(conf, key=lambda e: (-conf[e], -score.get(e, -1e9)))[:k]
        words: dict[str, list[tuple[str, str]]] = {}  # one segmentation per quoted text
        results = []
        for e in order:
            # a result found through a clause quotes that clause and the view it matched
            sc = via_segment.get(e, whole)
            if sc.query.text not in words:
                words[sc.query.text] = self._words(sc.query.norm)
            segment = sc.query.text if e in via_segment else None
            results.append(self._result(e, conf[e], sc, segment, words[sc.query.text]))
        techs = [self.answers.tech_ref(t) for t in sorted(whole.query.techs)]
        if matched:
            names = "、".join(f"{r.id} {r.title}" for r in results[:1])
            message = f"最接近的痛点：{names}"
        else:
            message = "没有找到足够匹配的银行痛点（no good match）。可以换个说法，描述业务上遇到的具体困难。"
        return SearchResponse(
            query=text,
            matched=matched,
            message=message,
            in_scope=round(p_in, 4),
            threshold=round(thr, 4),
            technologies=techs,
            results=results,
            segments=seg_out if len(seg_out) > 1 else [],
            took_ms=round((time.perf_counter() - t0) * 1000, 2),
        )

    # -- assembling answers ------------------------------------------------------------------
    def _words(self, norm: str) -> list[tuple[str, str]]:
        """A normalised text's words that could be evidence, each with its canonical token.

        Computed once per text and shared by every result that quotes it: segmenting the
        query again for each of k results was most of the answer-assembly time.
        """
        tok = self.evidence.tokenizer
        out: list[tuple[str, str]] = []
        for w in tok.words(norm):
            toks = tok.tokens(w)
            if toks and toks[0] not in self._generic and len(w.strip()) > 1:
                out.append((w, toks[0]))
        return out

    def _matched_terms(self, e: int, words: list[tuple[str, str]]) -> list[str]:
        entry_tokens = self._entry_tokens[e]
        return list(dict.fromkeys(w for w, t in words if t in entry_tokens))[:12]

    def _result(
        self, e: int, conf: float, scored: _Scored, segment: str | None, words: list[tuple[str, str]]
    ) -> Result:
        pp = self.corpus.painpoints[e]
        pos = np.flatnonzero(scored.cand.entries == e)
        # results are ranked by confidence; score is its log-odds, so it falls down the list too
        c = min(max(conf, 1e-6), 1 - 1e-6)
        score = float(np.log(c / (1 - c)))
        view_id = int(scored.cand.best_view[pos[0]]) if len(pos) else -1
        if view_id >= 0:
            view = self.evidence.views[view_id]
            ev_text, ev_kind = view.text, PassageKind(view.kind).name.lower()
        else:
            ev_text, ev_kind = pp.pain, "pain"
        return Result(
            **Answers.header(pp),
            score=round(score, 4),
            confidence=round(min(max(conf, 0.0), 1.0), 4),
            evidence=EvidenceOut(
                text=ev_text,
                kind=ev_kind,
                matched_terms=self._matched_terms(e, words),
                segment=segment,
            ),
            approaches=self.answers.approaches[pp.id],
            risks=self.answers.risks[pp.id],
            case=self.answers.cases[pp.id],
        )

    def _entry_centroids(self) -> np.ndarray:
        """Mean example vector per pain point, read back from the vector store."""
        vecs = self.evidence.dense.vectors()
        out = np.zeros((len(self.corpus.painpoints), vecs.shape[1]), dtype=np.float32)
        for e in range(len(out)):
            rows = (self.evidence.view_entry == e) & self.evidence.view_is_example
            m = vecs[rows].mean(0) if rows.any() else vecs[self.evidence.view_entry == e].mean(0)
            out[e] = m / max(float(np.linalg.norm(m)), 1e-9)
        return out

    def neighbours(self, pid: str, n: int = 3) -> list[PainPoint]:
        """Pain points whose example statements sit closest to this one's, for "see also"."""
        e = next(i for i, p in enumerate(self.corpus.painpoints) if p.id == pid)
        sims = self._centroids @ self._centroids[e]
        order = [int(x) for x in np.argsort(-sims) if int(x) != e]
        return [self.corpus.painpoints[x] for x in order[:n]]


