"""``tongdian revisions …`` and ``tongdian feedback …``: the knowledge base from a shell.

Whoever can run these can read the data directory (or the database URL), so they need no
token; every write still names its author (``--author``, default the login name) and is
audited. A publish from here builds and gates the revision; running servers pick it up
within seconds (they follow the published revision).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tongdian.core.config import Settings
from tongdian.core.stewardship.kb import KBSettings, KnowledgeBase
from tongdian.core.stewardship.kbedit import EditError, EntryMissing
from tongdian.index.revstore import RevisionStoreError

revisions_app = typer.Typer(help="History of the knowledge base: list, show, export, import, "
                            "publish.", no_args_is_help=True)
feedback_app = typer.Typer(help="Feedback on answers: export corrections as an eval file.",
                           no_args_is_help=True)
out = Console()
err = Console(stderr=True)

#: The login name: who ran the command is who made the change, unless --author says otherwise.
USER = getpass.getuser()
Author = Annotated[str, typer.Option(help="who makes the change (recorded in the history)")]


def _kb() -> tuple[Settings, KnowledgeBase]:
    s = Settings()
    return s, KnowledgeBase.open(s)


def _fail(e: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {e}")
    return typer.Exit(2)


def _rid(kb: KnowledgeBase, which: str) -> int:
    if which in ("head", "latest"):
        return kb.ensure_initial()
    if which == "published":
        pub = kb.store.published()
        if pub is None:
            raise EntryMissing("no revision has been published yet")
        return pub
    if not which.isdigit():
        raise EntryMissing(f"{which!r} is not a revision number, 'head' or 'published'")
    return int(which)


@revisions_app.command("list")
def list_(limit: Annotated[int, typer.Option(min=1)] = 30,
          as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Revisions, newest first: who, when, what, and whether it was published."""
    try:
        _, kb = _kb()
        rows = kb.history(limit)
    except (RevisionStoreError, EditError) as e:
        raise _fail(e) from None
    if as_json:
        out.print_json(json.dumps([r.__dict__ for r in rows], ensure_ascii=False))
        return
    for r in rows:
        mark = "published" if r.published_at else "draft"
        if r.publish_info and r.publish_info.get("override"):
            mark += " (gate overridden)"
        out.print(f"{r.id:>5}  {r.created_at}  {r.author:<16} {r.action:<8} {mark:<12} {r.message}",
                  markup=False, highlight=False)


@revisions_app.command()
def show(revision: Annotated[str, typer.Argument(help="number, 'head' or 'published'")]) -> None:
    """One revision's diff against the revision before it."""
    try:
        _, kb = _kb()
        view = kb.revision(_rid(kb, revision))
    except (RevisionStoreError, EntryMissing) as e:
        raise _fail(e) from None
    r = view.row
    out.print(f"revision {r.id} by {r.author} at {r.created_at}: {r.message}", markup=False)
    for f in view.files:
        out.print(f.diff, markup=False, highlight=False)


@revisions_app.command("export")
def export(revision: Annotated[str, typer.Argument(help="number, 'head' or 'published'")],
           directory: Annotated[Path, typer.Argument(help="a new corpus directory")]) -> None:
    """Write a revision as a corpus/ directory (the canonical, git-friendly form)."""
    try:
        _, kb = _kb()
        rid = _rid(kb, revision)
        kb.export(rid, directory)
    except (RevisionStoreError, EditError, EntryMissing) as e:
        raise _fail(e) from None
    err.print(f"revision {rid} written to {directory}")


@revisions_app.command("import")
def import_(directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
            message: Annotated[str, typer.Option(help="why")] = "import",
            author: Author = USER,
            publish: Annotated[bool, typer.Option(help="publish it now (through the gate)")] = False,
            override: Annotated[bool, typer.Option(help="publish even if the gate refuses")] = False) -> None:
    """Import a corpus directory as a new revision (validated first)."""
    try:
        s, kb = _kb()
        kb.ensure_initial()
        rid = kb.import_dir(directory, author, message)
    except (RevisionStoreError, EditError) as e:
        raise _fail(e) from None
    err.print(f"imported {directory} as revision {rid}")
    if publish:
        _publish(s, kb, rid, author, override)


@revisions_app.command()
def publish(revision: Annotated[str, typer.Argument(help="number or 'head'")] = "head",
            author: Author = USER,
            override: Annotated[bool, typer.Option(help="publish even if the gate refuses; "
                                                   "recorded in the history")] = False) -> None:
    """Build, gate and publish a revision; servers follow within seconds."""
    try:
        s, kb = _kb()
        rid = _rid(kb, revision)
    except (RevisionStoreError, EntryMissing) as e:
        raise _fail(e) from None
    _publish(s, kb, rid, author, override)


def _publish(s: Settings, kb: KnowledgeBase, rid: int, author: str, override: bool) -> None:
    from tongdian.core.stewardship.publish import Publisher, open_served_engine

    engine, _ = open_served_engine(s, on_step=lambda m: err.print(f"[dim]{m}[/dim]"))
    holder = {"engine": engine}
    pub = Publisher(s, kb, KBSettings(), lambda: holder["engine"],
                    lambda e, _r: holder.__setitem__("engine", e))
    try:
        outcome = pub.publish(rid, author, override)
    except EditError as e:
        raise _fail(e) from None
    for res in outcome.gate.sets if outcome.gate else []:
        out.print(f"gate {res.name}: " + ", ".join(
            f"{k} {res.before[k]:.3f} → {res.after[k]:.3f}" for k in res.before), markup=False)
        for b in res.broken:
            out.print(f"  broke {b['id']}: {b['query'][:60]} (expected {b['expected']}, got "
                      f"{b['got'][:3]})", markup=False, highlight=False)
    out.print(f"{outcome.message} (embedded {outcome.embedded} texts, reused {outcome.reused}, "
              f"{outcome.seconds} s)", markup=False)
    if not outcome.published:
        raise typer.Exit(1)


@feedback_app.command("export")
def feedback_export(file: Annotated[Path, typer.Argument(help="the eval .jsonl to write")],
                    status: Annotated[str | None, typer.Option(
                        help="only 'open' or 'accepted' corrections (default: all but rejected)")] = None) -> None:
    """Corrections as an eval file: score any revision with `tongdian eval FILE`."""
    from tongdian.core.stewardship.feedback import export_eval

    try:
        _, kb = _kb()
        n = export_eval(kb, file, status)
    except RevisionStoreError as e:
        raise _fail(e) from None
    err.print(f"{n} queries written to {file}")
