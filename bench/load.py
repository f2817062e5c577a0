"""Load test: many concurrent clients against ``/api/search`` for a fixed time, on loopback.

Chat tools call the API all day; what matters is that nothing fails under concurrency,
that the tail latency stays bounded, and that memory does not creep (caches are bounded,
nothing leaks per request). The script starts ``tongdian serve`` itself (or uses ``--url``),
runs ``--clients`` asyncio clients for ``--seconds``, samples the server's RSS every second
and stops by itself.

Traffic mix: 70% single-problem texts from the corpus's own example statements (GET;
they repeat, as real questions do, so some are answered from the query cache) and 30%
freshly composed three-problem briefings (POST; all distinct, so never cached).

Pass/fail: zero errors and RSS growth ≤ 5% from second 10 to the end. Exit status 1 otherwise.
Run: ``.venv/bin/python bench/load.py [--clients 32] [--seconds 60] [--json out.json]``.

With ``--briefs K`` (issue 24: heavy rendering must not starve searches), K of the clients
download meeting briefs instead (POST ``/api/brief`` of a fresh three-problem briefing,
PDF and DOCX in turn, each checked to be a PDF or a Word file; each briefing is searched
first, as the result page does), and each worker count is
run twice on a fresh server: the other clients searching alone, then the same search
clients beside the K brief clients. Pass/fail then: zero errors (a 503 "busy" counts
as one), server memory (PSS of the server and every child, render workers included) at
most ``--rss-limit`` MiB, and search p99 beside the briefs within 2x of search-only.
Run: ``.venv/bin/python -m bench.load --clients 16 --briefs 4 --workers 1``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from bench.perf import JOINS, _free_port, start_server
from bench.quality import git_commit, machine
from tongdian.core.config import Settings
from tongdian.core.knowledge.corpus import load_corpus

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)  # searches only
    long_ms: list[float] = field(default_factory=list)
    brief_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MiB)
    sent: int = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Traffic:
    """Draws requests: repeated short texts and never-repeated briefings."""

    def __init__(self, corpus_dir: Path, seed: int) -> None:
        corpus = load_corpus(corpus_dir)
        self.examples = [ex for pp in corpus.painpoints for ex in pp.examples]
        self.by_pp = [list(pp.examples) for pp in corpus.painpoints]
        self.rng = random.Random(seed)

    def next(self) -> tuple[str, dict[str, Any]]:
        if self.rng.random() < 0.7:
            return "GET", {"params": {"q": self.rng.choice(self.examples), "k": 5}}
        return self.briefing()

    def briefing(self) -> tuple[str, dict[str, Any]]:
        a, b, c = self.rng.sample(self.by_pp, 3)
        text = self.rng.choice(JOINS).join(self.rng.choice(x).rstrip("。") for x in (a, b, c))
        return "POST", {"json": {"q": text + "。", "k": 5}}


async def client(c: httpx.AsyncClient, traffic: Traffic, stop: float, st: Stats) -> None:
    while time.perf_counter() < stop:
        method, kw = traffic.next()
        st.sent += 1
        t0 = time.perf_counter()
        try:
            r = await c.request(method, "/api/search", **kw)
            dt_ms = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                st.error(f"HTTP {r.status_code}")
                continue
            body = r.json()
            if not isinstance(body.get("results"), list):
                st.error("malformed body")
                continue
        except (httpx.HTTPError, ValueError) as e:
            st.error(type(e).__name__)
            continue
        st.latencies_ms.append(dt_ms)
        if method == "POST":
            st.long_ms.append(dt_ms)


#: What a brief client asks for, in turn.
BRIEF_FORMATS = (("pdf", b"%PDF"), ("docx", b"PK"))


async def brief_client(c: httpx.AsyncClient, traffic: Traffic, stop: float, st: Stats) -> None:
    """A consultant as the result page serves one, back to back: a fresh three-problem
    briefing is searched, then its brief downloaded (the button re-sends the text, whose
    answer the engine has cached), PDF and DOCX in turn. The search loads the server like
    any other but is kept out of the search latencies, which stay those of the searching
    clients alone, so the comparison with the search-only run is like for like."""
    i = traffic.rng.randrange(len(BRIEF_FORMATS))
    while time.perf_counter() < stop:
        fmt, magic = BRIEF_FORMATS[i % len(BRIEF_FORMATS)]
        i += 1
        _, kw = traffic.briefing()
        st.sent += 1
        try:
            r = await c.post("/api/search", json=kw["json"])
            if r.status_code != 200:
                st.error(f"brief's search HTTP {r.status_code}")
                continue
        except httpx.HTTPError as e:
            st.error(f"brief's search {type(e).__name__}")
            continue
        t0 = time.perf_counter()
        try:
            r = await c.post("/api/brief", json={**kw["json"], "format": fmt, "client": "某城市商业银行"})
            dt_ms = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                st.error(f"brief HTTP {r.status_code}")
                continue
            if not r.content.startswith(magic):
                st.error(f"brief: not a {fmt}")
                continue
        except httpx.HTTPError as e:
            st.error(f"brief {type(e).__name__}")
            continue
        st.brief_ms.append(dt_ms)


def server_memory_mib(pid: int) -> float:
    """The server's memory: its own and its workers' proportional set size (PSS), so pages
    the workers share (the memory-mapped index, the model) are counted once, not per worker."""
    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    total = 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except psutil.Error:
            continue
    return total / 2**20


async def sample_rss(pid: int, t0: float, stop: float, st: Stats) -> None:
    while time.perf_counter() < stop:
        st.rss.append((time.perf_counter() - t0, server_memory_mib(pid)))
        await asyncio.sleep(1.0)
    st.rss.append((time.perf_counter() - t0, server_memory_mib(pid)))


async def run(url: str, pid: int, clients: int, seconds: float, traffic: Traffic,
              briefs: int = 0) -> Stats:
    """``clients`` searching clients and ``briefs`` brief-downloading ones, together."""
    st = Stats()
    n = clients + briefs
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
        (await c.get("/api/health")).raise_for_status()
        t0 = time.perf_counter()
        stop = t0 + seconds
        await asyncio.gather(sample_rss(pid, t0, stop, st),
                             *(client(c, traffic, stop, st) for _ in range(clients)),
                             *(brief_client(c, traffic, stop, st) for _ in range(briefs)))  # fmt: skip
    return st


def wait_ready(url: str, proc: Any, timeout: float = 300) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server at {url} not ready after {timeout:.0f} s")


def summarise(st: Stats, seconds: float, clients: int) -> dict[str, Any]:
    lat = np.asarray(st.latencies_ms) if st.latencies_ms else np.asarray([np.nan])
    at10 = next((m for t, m in st.rss if t >= 10), st.rss[0][1])
    end = st.rss[-1][1]
    growth = (end - at10) / at10 * 100
    n_err = sum(st.errors.values())
    briefs = np.asarray(st.brief_ms) if st.brief_ms else None
    return {
        "clients": clients, "seconds": seconds, "requests": st.sent, "ok": len(st.latencies_ms),
        "errors": n_err, "error_kinds": st.errors, "rps": len(st.latencies_ms) / seconds,
        "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(np.max(lat)),
        "briefing_p99_ms": float(np.percentile(st.long_ms, 99)) if st.long_ms else None,
        "rss_start_mib": st.rss[0][1], "rss_at_10s_mib": at10, "rss_end_mib": end,
        "rss_max_mib": max(m for _, m in st.rss), "rss_growth_pct": growth,
        "status_5xx": sum(n for k, n in st.errors.items() if re.search(r"HTTP 5\d\d", k)),
        "briefs_ok": len(st.brief_ms),
        "brief_p50_ms": float(np.percentile(briefs, 50)) if briefs is not None else None,
        "brief_p99_ms": float(np.percentile(briefs, 99)) if briefs is not None else None,
        "passed": n_err == 0 and growth <= 5.0,
    }  # fmt: skip


def markdown(s: dict[str, Any], meta: dict[str, Any], workers: int = 1) -> str:
    m = meta["machine"]
    rows = [
        ("clients × duration", f"{s['clients']} × {s['seconds']:.0f} s"),
        ("requests answered / errors", f"{s['ok']:,} / {s['errors']}"),
        ("throughput", f"{s['rps']:.1f} req/s"),
        ("latency p50 / p95 / p99 / max", f"{s['p50_ms']:.0f} / {s['p95_ms']:.0f} / {s['p99_ms']:.0f} / {s['max_ms']:.0f} ms"),
        ("briefings (POST) p99", f"{s['briefing_p99_ms']:.0f} ms" if s["briefing_p99_ms"] else "–"),
        *([("brief downloads (PDF/DOCX) / p50 / p99", f"{s['briefs_ok']:,} / {s['brief_p50_ms']:.0f} / {s['brief_p99_ms']:.0f} ms")]
          if s.get("briefs_ok") else []),
        ("5xx answers", f"{s.get('status_5xx', 0)}"),
        ("server memory (PSS) at 10 s → end (max)", f"{s['rss_at_10s_mib']:.0f} → {s['rss_end_mib']:.0f} MiB ({s['rss_max_mib']:.0f})"),
        ("memory growth from 10 s", f"{s['rss_growth_pct']:+.2f} % (limit +5 %)"),
        ("result", "pass" if s["passed"] else "FAIL"),
    ]  # fmt: skip
    if s.get("briefs_ok"):  # render workers start and recycle: the ceiling is the check
        rows = [r for r in rows if r[0] not in ("memory growth from 10 s", "result")]
    head = (f"Load test, {workers or '?'} worker(s), {meta['date']} · {m['cpu']} · nproc {m['nproc']}"
            f" · commit {meta['commit']}")
    return "\n".join([head, "", "| | |", "|:---|---:|", *(f"| {a} | {b} |" for a, b in rows)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--url", help="an already running server (its pid via --pid for RSS)")
    ap.add_argument("--pid", type=int, help="pid of the --url server, to sample its RSS")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--workers", default="1,2",
                    help="worker counts to compare, one run each, same traffic (e.g. 1,2)")
    ap.add_argument("--briefs", type=int, default=0,
                    help="of --clients, how many download PDF/DOCX briefs; each worker count "
                    "then runs search-only and mixed, and the two are compared")
    ap.add_argument("--rss-limit", type=float, default=1024.0,
                    help="with --briefs: the server's memory ceiling to pass, MiB")
    args = ap.parse_args(argv)
    if not 0 <= args.briefs < args.clients:
        ap.error("--briefs must leave at least one searching client")
    if args.seconds <= 0 or args.clients <= 0:
        ap.error("--clients and --seconds must be positive")
    if args.url and not args.pid:
        ap.error("--url needs --pid: the RSS check is part of the test")

    settings = Settings()
    if args.url:
        counts = [0]  # whatever the running server has
    else:
        from tongdian.core.search.engine import Engine

        Engine.open(settings)  # build the index first if needed, outside the measured runs
        counts = [int(w) for w in args.workers.split(",")]
    meta = {"date": dt.date.today().isoformat(), "machine": machine(), "commit": git_commit()}
    if args.briefs:
        return with_briefs(args, settings, counts, meta)
    summaries = {}
    for workers in counts:
        st = one_run(args, settings, workers)
        summaries[workers] = summarise(st, args.seconds, args.clients)
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps({"meta": meta, "runs": summaries}, indent=1), "utf-8")
        tmp.replace(args.json)
    for workers, s in summaries.items():
        print(markdown(s, meta, workers) + "\n")
    if len(summaries) > 1:
        base = summaries[counts[0]]
        for w in counts[1:]:
            s = summaries[w]
            print(f"{w} vs {counts[0]} worker(s), same traffic in one run: throughput "
                  f"{s['rps'] / base['rps']:.2f}×, p50 {s['p50_ms'] / base['p50_ms']:.2f}×, "
                  f"p99 {s['p99_ms'] / base['p99_ms']:.2f}×")
    return 0 if all(s["passed"] for s in summaries.values()) else 1


def compare(alone: dict[str, Any], mixed: dict[str, Any], rss_limit: float) -> dict[str, Any]:
    """Searches beside briefs against searches alone: the p99 ratio, the memory ceiling,
    the errors, and whether all three meet the targets of issue 24."""
    ratio = mixed["p99_ms"] / alone["p99_ms"]
    errors = alone["errors"] + mixed["errors"]
    rss = max(alone["rss_max_mib"], mixed["rss_max_mib"])
    return {"search_p99_ratio": ratio, "rss_max_mib": rss, "rss_limit_mib": rss_limit,
            "errors": errors, "status_5xx": alone["status_5xx"] + mixed["status_5xx"],
            "passed": errors == 0 and rss <= rss_limit and ratio <= 2.0}


def with_briefs(args: argparse.Namespace, settings: Settings, counts: list[int],
                meta: dict[str, Any]) -> int:
    searchers = args.clients - args.briefs
    out: dict[str, Any] = {}
    for workers in counts:
        alone = summarise(one_run(args, settings, workers, searchers, 0), args.seconds, searchers)
        mixed = summarise(one_run(args, settings, workers, searchers, args.briefs),
                          args.seconds, args.clients)
        out[workers] = {"search_only": alone, "mixed": mixed,
                        "compare": compare(alone, mixed, args.rss_limit)}
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps({"meta": meta, "briefs": args.briefs, "runs": out}, indent=1), "utf-8")
        tmp.replace(args.json)
    for workers, r in out.items():
        print(f"### {searchers} searching clients alone\n")
        print(markdown(r["search_only"], meta, workers) + "\n")
        print(f"### the same {searchers} searching clients + {args.briefs} brief clients (PDF/DOCX)\n")
        print(markdown(r["mixed"], meta, workers) + "\n")
        c = r["compare"]
        print(f"search p99 beside briefs / alone: {c['search_p99_ratio']:.2f}× (target ≤ 2×) · "
              f"server memory max {c['rss_max_mib']:.0f} MiB (limit {c['rss_limit_mib']:.0f}) · "
              f"errors {c['errors']} (5xx: {c['status_5xx']}) · "
              f"{'pass' if c['passed'] else 'FAIL'}\n")
    return 0 if all(r["compare"]["passed"] for r in out.values()) else 1


def one_run(args: argparse.Namespace, settings: Settings, workers: int,
            clients: int | None = None, briefs: int = 0) -> Stats:
    clients = args.clients if clients is None else clients
    proc = None
    if args.url:
        url, pid = args.url.rstrip("/"), args.pid
    else:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(settings.data, port, workers)
        pid = proc.pid
    try:
        wait_ready(url, proc)
        print(f"{workers or '?'} worker(s): {clients} clients"
              f"{f' + {briefs} brief clients' if briefs else ''} × {args.seconds:.0f} s "
              f"against {url} …", file=sys.stderr)
        st = asyncio.run(run(url, pid, clients, args.seconds, Traffic(settings.corpus, args.seed),
                             briefs))
        # the server still answers normally afterwards
        after = httpx.get(f"{url}/api/search", params={"q": "网点太多，运营成本高"}, timeout=30)
        if after.status_code != 200:
            st.error(f"after the run: HTTP {after.status_code}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return st


if __name__ == "__main__":
    sys.exit(main())
