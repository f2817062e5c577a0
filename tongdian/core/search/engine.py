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

from tongdian.core.answers.answers import Answers
from tongdian.core.answers.ask import Asker
from tongdian.core.answers.models import EvidenceOut, Result, SearchResponse, Segment
from tongdian.core.config import MAX_K, MAX_QUERY_CHARS, Settings
from tongdian.core.errors import QueryError
from tongdian.core.knowledge.corpus import Corpus, load_corpus
from tongdian.core.knowledge.passages import PassageKind
from tongdian.core.knowledge.schema import PainPoint
from tongdian.core.ranking.features import Candidates, Query
from tongdian.core.reading.framing import framing_cue
from tongdian.core.reading.segment import Split, comma_pieces, split_text
from tongdian.core.reading.text import normalize
from tongdian.core.search.build import LoadedIndex, ensure_index
from tongdian.index.embedders import Embedder, make_embedder
from tongdian.index.lru import LRU
from tongdian.index.store import Store

#: A clause's own best match joins the whole text's ranking at this fraction of its confidence.
SEGMENT_WEIGHT = 0.9
#: ...scaled down when the clause is less than this share of the text: in a two-problem
#: briefing each half speaks fully, an aside in a five-clause news paragraph does not
#: (tune half of real_dev P@1 0.675 → 0.725, held-out 0.55 → 0.575, dev unchanged).
SEGMENT_FULL_SHARE = 0.5
#: A text longer than this is a note, not a briefing: each problem passage in it speaks for
#: itself, whatever share of the text it is (a note of six problems has six "asides").
LONG_NOTE_CHARS = 400
#: A problem passage whose own best pain point has at least this share of its probability
#: maps to it confidently: that pain point is answered in full, however far down it ranks.
MAPPED_MIN_SHARE = 0.5
#: A clause is cut at its commas only when two pieces each name a different pain point at
#: least this confidently (and one more confidently than the clause as a whole does). At
#: 0.5 a sub-aspect ("…怎么识别诈骗短信" in a customer-service complaint) split off and cost
#: dev-set P@1 (paraphrase 0.95 → 0.90, English 1.00 → 0.75); at 0.8 both are back.
PIECE_MIN_CONFIDENCE = 0.8
#: Texts up to this long (a one- or two-sentence briefing) have every clause tried at its
#: commas; in longer texts (news excerpts, reports) sub-clauses are aspects of one story more
#: often than separate problems (trying them there cost real-text held-out P@1 0.575 → 0.525).
PIECE_TEXT_MAX = 150
#: A comma piece is embedded only when its BM25 evidence for a pain point other than the
#: clause's own is at least this many times its next best: a distinctive word, not noise.
PIECE_LEX_MARGIN = 1.5
#: A passage counts toward a pain point's text in a long note at this confidence or more.
MASS_MIN_CONFIDENCE = 0.5
#: In a long note, only clauses whose own best pain point is below this confidence are cut
#: at their commas: a clause clearly about one problem keeps its asides as context.
PIECE_WHOLE_MAX = 0.6
#: In a long note, a pain point is answered in full once this many characters of passages
#: name it at least ``MASS_MIN_CONFIDENCE`` confidently (confidence-weighted); below that its
#: confidence is scaled down in proportion. One stray clause is ~15 characters; a problem the
#: note discusses takes a sentence or two. In the two test notes the problems carry 175–592,
#: strays at most 36, and a problem told in one full sentence (a talent passage) 55: at 80 it
#: was lost from the results.
LONG_NOTE_FULL_CHARS = 50
#: A text this short (characters, spaces aside) or of at most ``KEYWORD_MAX_WORDS`` Latin
#: words, without sentence punctuation, is a keyword query ("风控", "小微贷款"): the scope model,
#: fitted on whole statements, turns such a text away, while a search engine would lead to the
#: topic it names. It is answered when it holds a term of the report's vocabulary.
KEYWORD_MAX_CHARS = 8
KEYWORD_MAX_WORDS = 3
#: What a keyword query's answer says before the pain point it leads to.
KEYWORD_MESSAGE = "文字较短，按关键词找到的痛点（a short keyword query; describe the problem in a sentence for a surer answer）："
_SENTENCE_MARKS = re.compile(r"[。！？!?；;，,：:\n]")

#: Answers kept for repeated questions (chat tools ask the same things again soon); ~14 KB each.
ANSWER_CACHE_SIZE = 128


#: The "no good match" message (Chinese first: the interface is Chinese; chat tools and
#: tests look for the English gloss).
NO_MATCH_MESSAGE = "没有找到足够匹配的银行痛点（no good match）。可以换个说法，描述业务上遇到的具体困难。"

_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass
class _Scored:
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


@dataclass
class _Passage:
    text: str
    scored: _Scored
    problem: bool  # False: framing or out of scope, kept out of the ranking
    reason: str | None = None  # why it is not a problem: "framing: <cue>" or "out_of_scope"
    piece: bool = False  # cut from a clause at its commas (see ``_split_runs``)


def validate_query(text: object, k: object = 5, max_chars: int = MAX_QUERY_CHARS) -> tuple[str, int]:
    """The query as searched: stripped, line ends unified (a form posts CRLF, JSON sends LF:
    the same text must score the same by every route), within ``max_chars``."""
    if not isinstance(text, str):
        raise QueryError("the query must be text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", " ")
    # lone surrogates (undecodable bytes from a shell, broken JSON escapes) cannot be encoded
    # for the embedder; they carry no meaning, so they go
    text = _SURROGATES.sub("", text)
    stripped = text.strip()
    if not stripped or not normalize(stripped):
        raise QueryError("the query is empty: describe the bank's problem in a sentence or two")
    if len(stripped) > max_chars:
        raise QueryError(
            f"the query is {len(stripped)} characters long; the maximum is {max_chars}"
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
        self._tech_aliases = self._tech_alias_forms(corpus)
        self._topic_terms = self._vocabulary(corpus)
        self.answers = Answers(corpus)
        # questions about the report (risks, technologies, modes, the case, numbers): ask.py
        self.asker = Asker(corpus, embedder, tok, self.evidence.dense.vectors()[
            self.evidence.view_is_example], self.answers, index.ask_vectors)

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

    def _rank(self, text: str) -> tuple[_Scored, list[_Passage], Split]:
        """Score the text and each of its passages; passages that frame the note or lie out
        of scope are marked and left out of the whole text's ranking."""
        split = split_text(text)
        segments = split.segments
        long_note = len(text) > LONG_NOTE_CHARS
        texts = [text] if len(segments) == 1 else list(segments)
        vecs = self.embedder.embed_queries(texts)
        seg_scored = [self._score(t, v) for t, v in zip(texts, vecs, strict=True)]
        # comma pieces of the clauses that may hold several problems: every clause of a short
        # briefing; in a long note, only clauses not clearly about one problem (the others'
        # asides stay context, and embedding every piece of a note would triple its cost);
        # none in between (see PIECE_TEXT_MAX)
        pieces: dict[int, list[str]] = {}
        for i, seg in enumerate(segments):
            ps = comma_pieces(seg)
            if len(ps) > 1 and not framing_cue(seg) and (
                    (len(text) <= PIECE_TEXT_MAX and self._lexically_several(ps, seg_scored[i]))
                    or (long_note and seg_scored[i].top[1] < PIECE_WHOLE_MAX)):
                pieces[i] = ps
        flat = [p for ps in pieces.values() for p in ps]
        piece_vecs = self.embedder.embed_queries(flat) if flat else np.zeros((0, vecs.shape[1]))
        piece_scored = [self._score(t, v) for t, v in zip(flat, piece_vecs, strict=True)]
        units: list[tuple[str, _Scored, np.ndarray, bool]] = []
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
        thr = self.ranker.threshold
        passages = []
        for t, sc, _, piece in units:
            cue = framing_cue(t, sc.top[1]) if len(units) > 1 else None
            if cue:
                passages.append(_Passage(t, sc, False, f"framing: {cue}", piece))
            elif sc.p_in < thr and len(units) > 1:
                passages.append(_Passage(t, sc, False, "out_of_scope", piece))
            else:
                passages.append(_Passage(t, sc, True, None, piece))
        if len(units) == 1:
            return seg_scored[0], [], split
        if len(segments) == 1:
            # one clause cut at its commas: the text as a whole is still scored as written
            return seg_scored[0], passages, split
        keep = [j for j, p in enumerate(passages) if p.problem] or list(range(len(units)))
        whole_text = text if len(keep) == len(units) else "\n".join(units[j][0] for j in keep)
        if self.compose_segments:
            # e5 mean-pools its tokens, so the token-weighted mean of the clause vectors
            # stands in for the whole text: one pass over the text instead of two.
            w = np.array([max(len(units[j][0]), 1) for j in keep], dtype=np.float32)
            whole_vec = (w[:, None] * np.stack([units[j][2] for j in keep])).sum(0)
            whole_vec /= max(float(np.linalg.norm(whole_vec)), 1e-9)
        else:
            whole_vec = self.embedder.embed_queries([whole_text])[0]
        return self._score(whole_text, whole_vec), passages, split

    def _lexically_several(self, pieces: list[str], whole: _Scored) -> bool:
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
        self, whole: _Scored, pieces: list[str], scored: list[_Scored]
    ) -> list[tuple[str, _Scored, int]] | None:
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

    # -- public API -------------------------------------------------------------------------
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
            return hit.model_copy(update={"took_ms": round((time.perf_counter() - t0) * 1000, 2),
                                          "cached": True})
        # `results` rank the text as written (existing clients see exactly what they saw);
        # typos read as domain words and spelled-out acronyms feed only the typed answers
        rw = self.asker.rewrite(text)
        answer = self._search(text, k, t0)
        # a long note is never a question about the report: its typed answers follow its own
        # ranking, and ranking a 20,000-character note a second time for a typo would double its cost
        same = rw.text == text or len(text) > LONG_NOTE_CHARS
        ranked = answer if same else self._search(rw.text, k, t0)
        intent, typed = self.asker.answer(rw.text, ranked.results, ranked.matched)
        update: dict[str, object] = {"intent": intent, "answers": typed,
                                     "corrections": rw.corrections}
        if intent != "problem" and typed:  # a question about the report: say what answers it
            update["message"] = f"报告中的答案：{typed[0].title}"
        update["took_ms"] = round((time.perf_counter() - t0) * 1000, 2)
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
        whole, passages, split = self._rank(text)
        thr = self.ranker.threshold

        conf: dict[int, float] = {}
        score: dict[int, float] = {}
        via_segment: dict[int, _Scored] = {}  # entries a clause evidences better than the whole
        # a keyword query: the scope model cannot judge two words, so its pain points are
        # ranked and shown by their share alone (see KEYWORD_MAX_CHARS)
        keyword = len(passages) == 0 and whole.p_in < thr and self._is_keyword_query(text)
        for j, e in enumerate(whole.cand.entries):
            c = float(whole.dist[j] * (1.0 if keyword else whole.p_in))
            conf[int(e)] = c
            score[int(e)] = float(whole.scores[j])
        seg_out: list[Segment] = []
        mapped: set[int] = set()
        problems = [p for p in passages if p.problem]
        # a comma piece adds its pain point but does not overtake what the whole text names
        # best (on short real texts, a vivid aside outranked the story: held-out P@1 -0.05)
        whole_top = whole.top[0]
        piece_cap = conf.get(whole_top, 0.0) * (1 - 1e-3)
        total = max(sum(len(p.text) for p in problems), 1)
        long_note = len(text) > LONG_NOTE_CHARS
        # in a long note, how much confident text names each pain point (see LONG_NOTE_FULL_CHARS)
        mass: dict[int, float] = {}
        for p in problems:
            e, c, _ = p.scored.top
            if c >= MASS_MIN_CONFIDENCE:
                mass[e] = mass.get(e, 0.0) + c * len(p.text)
        for p in passages:
            sc = p.scored
            e, c, top_share = sc.top
            seg_out.append(
                Segment(
                    text=p.text,
                    matched=p.problem,
                    id=self.corpus.painpoints[e].id if p.problem else None,
                    title=self.corpus.painpoints[e].title if p.problem else None,
                    confidence=round(c, 4),
                    problem=p.problem,
                    reason=p.reason,
                )
            )
            if not p.problem:
                continue
            # a clause speaks for the whole text in proportion to how much of it it is: one
            # aside among five clauses must not outrank what the text as a whole is about;
            # in a long note, a pain point speaks in proportion to the text that names it
            if long_note:
                share = min(1.0, mass.get(e, 0.0) / LONG_NOTE_FULL_CHARS)
                if share >= 1.0:
                    mapped.add(e)
            else:
                share = min(1.0, len(p.text) / total / SEGMENT_FULL_SHARE)
                if top_share >= MAPPED_MIN_SHARE:
                    mapped.add(e)
            weight = SEGMENT_WEIGHT * share * c
            if p.piece and e != whole_top:
                weight = min(weight, piece_cap)
            if weight > conf.get(e, 0.0):
                conf[e] = weight
                via_segment[e] = sc
        p_in = max([whole.p_in] + [p.scored.p_in for p in problems])
        matched = p_in >= thr or keyword
        ranked = sorted(conf, key=lambda e: (-conf[e], -score.get(e, -1e9)))
        order = ranked[:k]
        # every pain point a passage maps to confidently is answered, however many there are
        order += [e for e in ranked[k:] if e in mapped and matched]
        words: dict[str, list[tuple[str, str]]] = {}  # one segmentation per quoted text
        results = []
        for e in order:
            # a result found through a clause quotes that clause and the view it matched
            sc = via_segment.get(e, whole)
            if sc.query.text not in words:
                words[sc.query.text] = self._words(sc.query.norm)
            segment = sc.query.text if e in via_segment else None
            r = self._result(e, conf[e], sc, segment, words[sc.query.text])
            results.append(r.model_copy(update={"mapped": e in mapped and matched}))
        techs = [self.answers.tech_ref(t)
                 for t in sorted(self._named_techs(whole.query.text, whole.query.techs))]
        if matched:
            names = "、".join(f"{r.id} {r.title}" for r in results[:1])
            message = (KEYWORD_MESSAGE if keyword else "最接近的痛点：") + names
        else:
            message = NO_MATCH_MESSAGE
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
            chars=len(text),
            analysed_chars=split.analysed_chars if split.truncated else len(text),
            truncated=split.truncated,
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

    @staticmethod
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

    @staticmethod
    def _vocabulary(corpus: Corpus) -> frozenset[str]:
        """The report's vocabulary, normalised: the finance dictionary, synonym groups, each
        pain point's keywords and aliases, and the technologies' names (two characters up)."""
        words = [line.split()[0] for line in corpus.userdict if line.split()]
        words += [w for g in corpus.synonyms for w in g]
        words += [w for pp in corpus.painpoints for w in (*pp.keywords, *pp.aliases)]
        words += [w for t in corpus.technologies.values() for w in (t.name, *t.aliases, t.name_en)]
        return frozenset(n for n in (normalize(w) for w in words) if len(n) >= 2)

    def _is_keyword_query(self, text: str) -> bool:
        """A short text without sentence punctuation that holds a term of the vocabulary."""
        if _SENTENCE_MARKS.search(text):
            return False
        norm = normalize(text)
        latin = re.findall(r"[a-z]+", norm)
        if latin and len(latin) > KEYWORD_MAX_WORDS:
            return False
        if not latin and len(norm.replace(" ", "")) > KEYWORD_MAX_CHARS:
            return False
        padded = f" {norm} "
        return any((f" {t} " in padded) if t.isascii() else (t in norm) for t in self._topic_terms)

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


