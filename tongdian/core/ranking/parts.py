"""Stage 2 of a search: rank each part of the text and the text as a whole, once.

The clauses of a ``Reading`` are embedded in one batch and scored; a clause that may list
several problems is tried at its commas; clauses that frame a note or lie out of scope are
marked and left out; what remains is ranked as a whole. Each text is scored exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tongdian.core.ranking.features import Candidates, Evidence, Query
from tongdian.core.ranking.ranker import Ranker
from tongdian.core.reading.framing import framing_cue
from tongdian.core.reading.reader import Reading
from tongdian.core.reading.segment import comma_pieces
from tongdian.index.embedders import Embedder

#: A clause is cut at its commas only when two pieces each name a different pain point at
#: least this confidently (and one more confidently than the clause as a whole does). Off:
#: real tune P@1 -0.026; 0.7 and 0.9 change one text (``bench.knobs --only PIECE_MIN_CONFIDENCE``).
PIECE_MIN_CONFIDENCE = 0.8
#: Texts up to this long (a one- or two-sentence briefing) have every clause tried at its
#: commas; in longer texts (news excerpts, reports) sub-clauses are aspects of one story.
#: 0 (no pieces): real tune P@1 -0.026; 100: -0.017; 200: no change (``--only PIECE_TEXT_MAX``).
PIECE_TEXT_MAX = 150
#: A comma piece is embedded only when its BM25 evidence for a pain point other than the
#: clause's own is at least this many times its next best: a distinctive word, not noise.
#: 2.0: real tune P@1 -0.009; 1.0: two texts change, no metric, more pieces embedded.
PIECE_LEX_MARGIN = 1.5
@dataclass(frozen=True)
class Scored:
    """One text scored: its prepared query, the candidates' features and what the ranker
    made of them."""

    query: Query  # normalised text, tokens and technologies, prepared once
    cand: Candidates
    scores: np.ndarray
    p_in: float
    dist: np.ndarray  # P(entry | in scope) over cand.entries

    @property
    def top(self) -> tuple[int, float, float]:
        """The best pain point (entry position), its confidence (P(it) × P(in scope)) and its
        share of the in-scope probability: what every passage decision reads."""
        j = int(np.argmax(self.scores))
        share = float(self.dist[j])
        return int(self.cand.entries[j]), share * self.p_in, share


@dataclass(frozen=True)
class ScoredPart:
    """A clause (or a run of comma pieces) of a longer text, scored on its own."""

    text: str
    scored: Scored
    problem: bool  # False: framing or out of scope, kept out of the whole text's ranking
    reason: str | None = None  # why it is not a problem: "framing: <cue>" or "out_of_scope"
    piece: bool = False  # cut from a clause at its commas


@dataclass(frozen=True)
class Ranked:
    """The text's ranking as a whole, and its passages' (empty for a one-clause text)."""

    whole: Scored
    passages: list[ScoredPart]
    whole_text: str  # the text ranked as a whole, as shown: all of it, or a note's problem passages


class PartRanker:
    """Scores texts against the index; thread-safe (holds no per-search state)."""

    def __init__(self, evidence: Evidence, ranker: Ranker, embedder: Embedder,
                 compose_segments: bool = True) -> None:
        self.evidence = evidence
        self.ranker = ranker
        self.embedder = embedder
        #: e5 mean-pools its tokens, so the length-weighted mean of the clause vectors stands
        #: in for the whole text's vector: one pass of the embedder over the text, not two
        self.compose_segments = compose_segments

    def score(self, text: str, vec: np.ndarray) -> Scored:
        q = self.evidence.prepare(text, vec)
        cand = self.evidence.candidates(q)
        s = self.ranker.scores(cand)
        return Scored(q, cand, s, self.ranker.in_scope(cand, s), self.ranker.distribution(s))

    def rank(self, reading: Reading) -> Ranked:
        """Score the text and each of its passages; passages that frame the note or lie out
        of scope are marked and left out of the whole text's ranking."""
        segments = reading.split.segments
        # the acronyms spelled out are scored with the text (its last clause), never shown
        texts = ([reading.read + reading.expansion] if len(segments) == 1
                 else [*segments[:-1], segments[-1] + reading.expansion])
        vecs = self.embedder.embed_queries(texts)
        seg_scored = [self.score(t, v) for t, v in zip(texts, vecs, strict=True)]
        # comma pieces of the clauses of a short briefing that may hold several problems (in
        # longer texts sub-clauses are aspects of one story: see PIECE_TEXT_MAX)
        pieces: dict[int, list[str]] = {}
        for i, seg in enumerate(segments):
            ps = comma_pieces(seg) if len(reading.read) <= PIECE_TEXT_MAX else [seg]
            if len(ps) > 1 and not framing_cue(seg) and self._lexically_several(ps, seg_scored[i]):
                pieces[i] = ps
        flat = [p for ps in pieces.values() for p in ps]
        piece_vecs = self.embedder.embed_queries(flat) if flat else np.zeros((0, vecs.shape[1]))
        piece_scored = [self.score(t, v) for t, v in zip(flat, piece_vecs, strict=True)]
        units: list[tuple[str, Scored, np.ndarray, bool]] = []  # (shown text, its scores, …)
        at = 0
        for i, seg in enumerate(segments):
            ps = pieces.get(i, [])
            if ps:
                runs = self._split_runs(seg_scored[i], ps, piece_scored[at:at + len(ps)])
                pv = piece_vecs[at:at + len(ps)]
                at += len(ps)
                if runs is not None:
                    units.extend((t, sc, pv[j], True) for t, sc, j in runs)
                    continue
            units.append((seg, seg_scored[i], vecs[i], False))
        if len(units) == 1:
            return Ranked(seg_scored[0], [], reading.read)
        thr = self.ranker.threshold
        passages = []
        for t, sc, _, piece in units:
            cue = framing_cue(t, sc.top[1])
            if cue:
                passages.append(ScoredPart(t, sc, False, f"framing: {cue}", piece))
            elif sc.p_in < thr:
                passages.append(ScoredPart(t, sc, False, "out_of_scope", piece))
            else:
                passages.append(ScoredPart(t, sc, True, None, piece))
        if len(segments) == 1:
            # one clause cut at its commas: the text as a whole is still scored as written
            return Ranked(seg_scored[0], passages, reading.read)
        keep = [j for j, p in enumerate(passages) if p.problem] or list(range(len(units)))
        if len(keep) == len(units):
            shown, whole_text = reading.read, reading.read + reading.expansion
        else:
            shown = whole_text = "\n".join(units[j][0] for j in keep)
        if self.compose_segments:
            w = np.array([max(len(units[j][0]), 1) for j in keep], dtype=np.float32)
            whole_vec = (w[:, None] * np.stack([units[j][2] for j in keep])).sum(0)
            whole_vec /= max(float(np.linalg.norm(whole_vec)), 1e-9)
        else:
            whole_vec = self.embedder.embed_queries([whole_text])[0]
        return Ranked(self.score(whole_text, whole_vec), passages, shown)

    def _lexically_several(self, pieces: list[str], whole: Scored) -> bool:
        """Whether a comma piece's words point clearly to a pain point other than the one
        the clause as a whole names: the cheap test that decides if the pieces are worth
        embedding. Most short texts are about one problem, and embedding every piece doubled
        a query's cost (bench/perf.py search/raw p50 1.08× → 2.36×); a piece that names
        another problem does so in words.
        """
        tok = self.evidence.tokenizer
        whole_top = whole.top[0]
        for p in pieces:
            s = self.evidence.lex_entries.scores(tok.tokens(p))
            top = int(np.argmax(s))
            if top == whole_top or float(s[top]) <= 0:
                continue
            second = float(np.partition(s, -2)[-2]) if len(s) > 1 else 0.0
            if float(s[top]) >= PIECE_LEX_MARGIN * second:
                return True
        return False

    def _split_runs(
        self, whole: Scored, pieces: list[str], scored: list[Scored]
    ) -> list[tuple[str, Scored, int]] | None:
        """A clause's comma pieces grouped into one run per pain point, or None to keep the
        clause whole: it is cut only where two pieces name different pain points, each more
        confidently than the clause names its own best one."""
        thr = self.ranker.threshold
        tops: list[int | None] = []
        confs: list[float] = []
        for sc in scored:
            e, c, _ = sc.top
            confs.append(c)
            ok = sc.p_in >= thr and c >= PIECE_MIN_CONFIDENCE
            tops.append(e if ok else None)
        whole_e, whole_c, _ = whole.top
        distinct = {t for t in tops if t is not None}
        if len(distinct) < 2:
            return None
        if not any(t is not None and t != whole_e and c > whole_c
                   for t, c in zip(tops, confs, strict=True)):
            # no part names another pain point more surely than the clause names its own
            return None
        runs: list[list[int]] = []
        run_top: list[int | None] = []
        for i, t in enumerate(tops):
            if runs and (t is None or t == run_top[-1]):
                runs[-1].append(i)
            elif runs and run_top[-1] is None:
                runs[-1].append(i)
                run_top[-1] = t
            else:
                runs.append([i])
                run_top.append(t)
        if len(runs) < 2:
            return None
        out = []
        for r in runs:
            best = max(r, key=lambda i: confs[i] if tops[i] is not None else -1.0)
            out.append(("，".join(pieces[i] for i in r), scored[best], best))
        return out
