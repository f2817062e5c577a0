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
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
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
from tongdian.core.corpus import load_corpus

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    long_ms: list[float] = field(default_factory=list)
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


async def run(url: str, pid: int, clients: int, seconds: float, traffic: Traffic) -> Stats:
    st = Stats()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
        (await c.get("/api/health")).raise_for_status()
        t0 = time.perf_counter()
        stop = t0 + seconds
        await asyncio.gather(sample_rss(pid, t0, stop, st),
                             *(client(c, traffic, stop, st) for _ in range(clients)))  # fmt: skip
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
    return {
        "clients": clients, "seconds": seconds, "requests": st.sent, "ok": len(st.latencies_ms),
        "errors": n_err, "error_kinds": st.errors, "rps": len(st.latencies_ms) / seconds,
        "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(np.max(lat)),
        "briefing_p99_ms": float(np.percentile(st.long_ms, 99)) if st.long_ms else None,
        "rss_start_mib": st.rss[0][1], "rss_at_10s_mib": at10, "rss_end_mib": end,
        "rss_max_mib": max(m for _, m in st.rss), "rss_growth_pct": growth,
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
        ("server memory (PSS) at 10 s → end (max)", f"{s['rss_at_10s_mib']:.0f} → {s['rss_end_mib']:.0f} MiB ({s['rss_max_mib']:.0f})"),
        ("memory growth from 10 s", f"{s['rss_growth_pct']:+.2f} % (limit +5 %)"),
        ("result", "pass" if s["passed"] else "FAIL"),
    ]  # fmt: skip
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
    args = ap.parse_args(argv)
    if args.seconds <= 0 or args.clients <= 0:
        ap.error("--clients and --seconds must be positive")
    if args.url and not args.pid:
        ap.error("--url needs --pid: the RSS check is part of the test")

    settings = Settings()
    if args.url:
        counts = [0]  # whatever the running server has
    else:
        from tongdian.core.engine import Engine

        Engine.open(settings)  # build the index first if needed, outside the measured runs
        counts = [int(w) for w in args.workers.split(",")]
    summaries = {}
    for workers in counts:
        st = one_run(args, settings, workers)
        summaries[workers] = summarise(st, args.seconds, args.clients)
    meta = {"date": dt.date.today().isoformat(), "machine": machine(), "commit": git_commit()}
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


def one_run(args: argparse.Namespace, settings: Settings, workers: int) -> Stats:
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
        print(f"{workers or '?'} worker(s): {args.clients} clients × {args.seconds:.0f} s "
              f"against {url} …", file=sys.stderr)
        st = asyncio.run(run(url, pid, args.clients, args.seconds, Traffic(settings.corpus, args.seed)))
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
