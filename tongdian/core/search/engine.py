"""The search engine: a banker's text in, ranked pain points with remedies and risks out.

A search is four stages, each computed once and passed down (``Engine.search``):
read the text (``reading/reader.py``) → rank each part and the whole (``ranking/parts.py``)
→ decide in scope and which pain points (``ranking/decide.py``) → build the answer
(``answers/respond.py``). The engine holds what they share and caches answers; it knows
nothing of HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tongdian.core.answers.answers import Answers
from tongdian.core.answers.ask import Asker
from tongdian.core.answers.models import SearchResponse
from tongdian.core.answers.respond import Responder
from tongdian.core.config import MAX_QUERY_CHARS, Settings
from tongdian.core.errors import QueryError
from tongdian.core.knowledge.corpus import Corpus, load_corpus
from tongdian.core.knowledge.schema import PainPoint
from tongdian.core.ranking.decide import decide
from tongdian.core.ranking.parts import PartRanker
from tongdian.core.reading.reader import Reader, validate_query
from tongdian.core.reading.text import normalize
from tongdian.core.search.build import LoadedIndex, ensure_index
from tongdian.index.embedders import Embedder, make_embedder
from tongdian.index.lru import LRU
from tongdian.index.store import Store

__all__ = ["Engine", "QueryError", "validate_query"]

#: Answers kept for repeated questions (chat tools ask the same things again soon); ~14 KB
#: each: a limit, not a ranking knob.
ANSWER_CACHE_SIZE = 128


class Engine:
    """Holds the corpus, the embedder, the loaded index and the stages built on them;
    thread-safe for searching (no stage keeps per-search state)."""

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
        self.answers = Answers(corpus)
        # questions about the report (risks, technologies, modes, the case, numbers): ask.py
        self.asker = Asker(corpus, embedder, self.evidence.dense.vectors()[
            self.evidence.view_is_example], self.answers, index.ask_vectors)
        # a technology's short form (AI, NLP) is read as that technology already
        acronyms = {a: v for a, v in self.asker.acronyms.items()
                    if not self.evidence.techs_in(normalize(a))}
        self.reader = Reader(self.asker.vocabulary, corpus.topic_terms(), acronyms, tok)
        self.parts = PartRanker(self.evidence, self.ranker, embedder, compose_segments)
        self.responder = Responder(corpus, self.evidence.views, tok, self.answers, self.asker)
        self._centroids = self._entry_centroids()

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

    def search(self, text: str, k: int = 5, max_chars: int = MAX_QUERY_CHARS) -> SearchResponse:
        """Rank the pain points ``text`` describes; repeated questions come from a cache.

        The index never changes under a running engine, so a cached answer is exactly the
        answer a new search would give (only ``took_ms`` differs). ``max_chars`` is the
        caller's limit: routes that take a body (POST) accept whole meeting notes.
        """
        t0 = time.perf_counter()
        text, k = validate_query(text, k, max_chars)
        key = (text, k, self.compose_segments)
        hit = self._answers.get(key)
        if hit is not None:
            return hit.model_copy(update={"took_ms": _ms_since(t0), "cached": True})
        reading = self.reader.read(text)  # 1. normalise, correct typos, split into clauses
        ranked = self.parts.rank(reading)  # 2. rank each clause and the whole text, once
        verdict = decide(reading, ranked, k, self.ranker.threshold)  # 3. in scope? which?
        answer = self.responder.respond(reading, verdict)  # 4. results, evidence, typed answers
        answer = answer.model_copy(update={"took_ms": _ms_since(t0)})
        self._answers.put(key, answer)
        return answer

    def clear_caches(self) -> None:
        """Forget cached answers, query vectors and tokenisations (benchmarks time cold paths)."""
        self._answers.clear()
        cache = getattr(self.embedder, "cache", None)
        if cache is not None:
            cache.clear()
        self.evidence.tokenizer.clear_cache()

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




def _ms_since(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)
