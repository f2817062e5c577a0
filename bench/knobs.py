"""Ablations of module constants, in process: what each knob of the search does to the scores.

A variant sets one or more module constants (``{"tongdian.core.answers.ask:MIN_TYPED": 0.0}``)
for as long as a fresh engine answers every text of the tune sets; the table compares it with
the baseline. Sets: ``dev_queries.jsonl`` (all of it), the tune halves of ``real_dev.jsonl``
and ``real_more.jsonl`` scored together (odd ids; the held-out halves are never run here:
choose on the tune halves only) and the ask sets in ``bench/data/ask_*.jsonl``. Metrics come
from ``tongdian.core.evaluation`` (the functions ``tongdian eval`` uses), so a row means what
``tongdian eval`` would say with that constant.

A constant imported with ``from x import NAME`` is a copy in the importing module: a variant
sets every loaded ``tongdian.*`` module's attribute of that name that is bound to the original
object, and restores all of them afterwards. A constant read only when something is built
(a default argument, a class attribute, another constant computed from it) cannot be changed
in process: the run warns about such bindings, and ranking constants that need the ranker
re-fitted (``REFIT_KNOBS``) are scored on an index built afresh with the fit redone.

Run: ``.venv/bin/python -m bench.knobs [--only NAME] [--set module:NAME=value] [--markdown]
[--json bench/out/knobs.json]``; ``--count`` prints the module constants of ``tongdian/core``.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import json
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
CORE = PROJECT_ROOT / "tongdian" / "core"
ASK_SETS = sorted((PROJECT_ROOT / "bench" / "data").glob("ask_*.jsonl"))
#: Our own whole meeting notes (written for the tests) and the problems each discusses: the
#: long-note knobs act only on texts over ``LONG_NOTE_CHARS``, which the eval sets rarely hold.
NOTES_DIR = PROJECT_ROOT / "tests" / "data"
NOTES = {
    "note six": ("meeting_note_six_problems.txt", ("P02", "P11", "P19", "P14", "P17", "P13")),
    "note indep": ("meeting_note_independent.txt", None),  # its .json lists the problems
}

ASK = "tongdian.core.answers.ask"
SEGMENT = "tongdian.core.reading.segment"
FRAMING = "tongdian.core.reading.framing"
READER = "tongdian.core.reading.reader"
PARTS = "tongdian.core.ranking.parts"
DECIDE = "tongdian.core.ranking.decide"
REFS = "tongdian.core.knowledge.references"


def _knob(module: str, name: str, *values: object) -> list[dict[str, object]]:
    return [{f"{module}:{name}": v} for v in values]


#: Knob → its ablation variants: the simplest behaviour ("off") where there is one, and a
#: value either side of the shipped one (shipped values in the comments, as of this writing).
KNOBS: dict[str, list[dict[str, object]]] = {
    # answers/ask.py: typed answers (questions about the report)
    "NAMED_CONFIDENCE": _knob(ASK, "NAMED_CONFIDENCE", 0.6, 0.8, 1.0),  # 0.95
    "NAMED_NO_CUE": _knob(ASK, "NAMED_NO_CUE", 0.0, 0.25, 0.5),  # 0.35; 0 = never shown
    "DENSE_SCALE": _knob(ASK, "DENSE_SCALE", 0.015, 0.06),  # 0.03
    "MIN_TYPED": _knob(ASK, "MIN_TYPED", 0.0, 0.1, 0.25),  # 0.15; 0 = every item shown
    "TYPED_FIRST": _knob(ASK, "TYPED_FIRST", 1.01, 0.35, 0.7),  # 0.5; 1.01 = never first
    "ASK_MAX_CHARS": _knob(ASK, "ASK_MAX_CHARS", 30, 60),  # 40
    "TERSE_MAX_CHARS": _knob(ASK, "TERSE_MAX_CHARS", 0, 10, 24),  # 16; 0 = no terse queries
    # knowledge/references.py: pain points named by number or title (typed answers)
    "LIST_MARK_MAX_CHARS": _knob(REFS, "LIST_MARK_MAX_CHARS", 0, 20, 80),  # 40; 0 = off
    # reading/segment.py, reading/framing.py: splitting a text, framing
    "MIN_CJK_CHARS": _knob(SEGMENT, "MIN_CJK_CHARS", 4, 8),  # 6
    "MIN_LATIN_WORDS": _knob(SEGMENT, "MIN_LATIN_WORDS", 3, 6),  # 4
    "MENTION_OVERRIDE": _knob(FRAMING, "MENTION_OVERRIDE", 1.01, 0.8),  # 0.9; 1.01 = off
    # reading/reader.py: long notes, keyword queries, acronyms
    "LONG_NOTE_CHARS": _knob(READER, "LONG_NOTE_CHARS", 10**9, 300, 600),  # 400; 10**9 = off
    "KEYWORD_MAX_CHARS": _knob(READER, "KEYWORD_MAX_CHARS", 0, 6, 12),  # 8; 0 = off
    "KEYWORD_MAX_WORDS": _knob(READER, "KEYWORD_MAX_WORDS", 0, 2, 4),  # 3; 0 = off
    "ACRONYM_MAX_CHARS": _knob(READER, "ACRONYM_MAX_CHARS", 0, 20, 80),  # 40; 0 = off
    # ranking/parts.py: comma pieces
    "PIECE_MIN_CONFIDENCE": _knob(PARTS, "PIECE_MIN_CONFIDENCE", 1.01, 0.7, 0.9),  # 0.8; off
    "PIECE_TEXT_MAX": _knob(PARTS, "PIECE_TEXT_MAX", 0, 100, 200),  # 150; 0 = no pieces
    "PIECE_LEX_MARGIN": _knob(PARTS, "PIECE_LEX_MARGIN", 1.0, 2.0),  # 1.5
    # ranking/decide.py: how passages speak for the whole text
    "SEGMENT_WEIGHT": _knob(DECIDE, "SEGMENT_WEIGHT", 0.0, 0.8, 1.0),  # 0.9; 0 = passages mute
    "SEGMENT_FULL_SHARE": _knob(DECIDE, "SEGMENT_FULL_SHARE", 1e-9, 0.33, 0.75),  # 0.5; 1e-9 = off
    "MAPPED_MIN_SHARE": _knob(DECIDE, "MAPPED_MIN_SHARE", 1.01, 0.4, 0.6),  # 0.5; 1.01 = off
    "MASS_MIN_CONFIDENCE": _knob(DECIDE, "MASS_MIN_CONFIDENCE", 0.0, 0.4, 0.6),  # 0.5; 0 = off
    "LONG_NOTE_FULL_CHARS": _knob(DECIDE, "LONG_NOTE_FULL_CHARS", 1e-9, 30, 80),  # 50; 1e-9 = off
}
#: Constants that change what the ranker is fitted on: a variant of one of these is scored
#: on an index built afresh with the fit redone (``build_index(shipped_fit=False)``, seconds).
REFIT = "tongdian.core.ranking.features"
PROBE = "tongdian.core.ranking.probe"
TRAINING = "tongdian.core.ranking.training"
REFIT_KNOBS: dict[str, list[dict[str, object]]] = {
    "REFIT_BASELINE": [{}],  # the shipped constants, refitted: must equal the baseline
    "KNN_K": _knob(REFIT, "KNN_K", 5, 20),  # 10
    "KNN_TEMP": _knob(REFIT, "KNN_TEMP", 0.01, 0.05),  # 0.02
    "FLOOR": _knob(REFIT, "FLOOR", -0.5, 0.0),  # -1.0
    "PROBE_C": _knob(PROBE, "PROBE_C", 0.5, 8.0),  # 2.0
    "PROBE_FOLDS": _knob(PROBE, "PROBE_FOLDS", 3, 10),  # 5
    "N_FOLDS": _knob(TRAINING, "N_FOLDS", 3, 10),  # 5
}
NEEDS_REFIT = tuple(k for vs in REFIT_KNOBS.values() for v in vs for k in v)

_MISSING = object()


class MissingConstant(KeyError):
    """A variant names a constant its module does not have (renamed, moved or gone)."""


def parse_key(key: str) -> tuple[str, str]:
    """``"tongdian.x.y:NAME"`` → (module, name); a clear error for anything else."""
    module, sep, name = key.partition(":")
    if not sep or not module.startswith("tongdian") or not name.isidentifier():
        raise ValueError(f"a knob is 'tongdian.module.path:NAME', not {key!r}")
    return module, name


def parse_set(spec: str) -> dict[str, object]:
    """``--set tongdian.x:NAME=0.5`` → one variant; the value is a Python literal."""
    key, sep, raw = spec.partition("=")
    if not sep:
        raise ValueError(f"--set wants module:NAME=value, not {spec!r}")
    parse_key(key)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise ValueError(f"--set {key}: {raw!r} is not a Python literal") from None
    return {key: value}


def _tongdian_modules() -> dict[str, ModuleType]:
    return {n: m for n, m in list(sys.modules.items())
            if isinstance(m, ModuleType) and (n == "tongdian" or n.startswith("tongdian."))}


@contextmanager
def patched(variant: Mapping[str, object]) -> Iterator[list[str]]:
    """Set each ``module:NAME`` of ``variant`` in every loaded ``tongdian`` module that holds
    the original object under that name; yield the ``module:NAME`` bindings changed. Modules
    first imported inside the block copy the new value: those are put back too on exit."""
    saved: list[tuple[ModuleType, str, object]] = []
    originals: list[tuple[str, object, object]] = []
    before = set(_tongdian_modules())
    try:
        for key, value in variant.items():
            module, name = parse_key(key)
            orig = getattr(importlib.import_module(module), name, _MISSING)
            if orig is _MISSING:
                raise MissingConstant(f"{module} has no constant {name}")
            originals.append((name, orig, value))
            for m in _tongdian_modules().values():
                if m.__dict__.get(name, _MISSING) is orig:
                    saved.append((m, name, orig))
                    setattr(m, name, value)
        yield [f"{m.__name__}:{n}" for m, n, _ in saved]
    finally:
        for m, n, orig in reversed(saved):
            setattr(m, n, orig)
        for mod_name, m in _tongdian_modules().items():
            if mod_name not in before:
                for name, orig, value in originals:
                    if m.__dict__.get(name, _MISSING) is value:
                        setattr(m, name, orig)


def _names_in(node: ast.AST | None) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} if node is not None else set()


@functools.cache
def _tree(path: str) -> ast.Module:
    return ast.parse(Path(path).read_text(encoding="utf-8"))


def early_bindings(name: str) -> list[str]:
    """Places in the loaded ``tongdian`` modules that read ``name`` when the module is
    imported — a default argument, a class attribute, another module constant — and so keep
    the original value whatever a variant sets (``module:line``)."""
    found = []
    for mod_name, m in sorted(_tongdian_modules().items()):
        src = getattr(m, "__file__", None)
        if not src or not src.endswith(".py"):
            continue
        tree = _tree(src)
        spots: list[ast.AST] = []
        for node in tree.body:  # module constants computed from it
            if isinstance(node, ast.Assign | ast.AnnAssign) and name in _names_in(node.value):
                spots.append(node)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]
                if any(name in _names_in(d) for d in defaults):
                    spots.append(node)
            elif isinstance(node, ast.ClassDef):
                spots.extend(b for b in node.body if isinstance(b, ast.Assign | ast.AnnAssign)
                             and name in _names_in(b.value))
        found += [f"{mod_name}:{getattr(s, 'lineno', '?')}" for s in spots]
    return found


# -- the sets -------------------------------------------------------------------------------
def find_eval_dir() -> Path | None:
    """``shared/eval`` beside the checkout, or beside the directory of worktrees it sits in."""
    for parent in PROJECT_ROOT.parents:
        if (parent / "shared" / "eval").is_dir():
            return parent / "shared" / "eval"
    return None


@dataclass
class Sets:
    """The texts a variant is scored on: problem sets (``EvalQuery``) and ask sets."""

    problems: dict[str, list[Any]]
    asks: dict[str, list[Any]]
    notes: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)  # text, problems

    @classmethod
    def load(cls, eval_dir: Path, ask_files: list[Path]) -> Sets:
        from tongdian.core.evaluation.ask_eval import load_ask_set
        from tongdian.core.evaluation.evaluate import load_queries, split_half

        real = [q for f in ("real_dev.jsonl", "real_more.jsonl")
                for q in split_half(load_queries(eval_dir / f), "tune")]  # never the held-out
        return cls({"dev": load_queries(eval_dir / "dev_queries.jsonl"), "real tune": real},
                   {f.stem: load_ask_set(f) for f in ask_files}, load_notes())


def load_notes() -> dict[str, tuple[str, frozenset[str]]]:
    out = {}
    for name, (file, problems) in NOTES.items():
        path = NOTES_DIR / file
        if problems is None:
            problems = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["problems"]
        out[name] = (path.read_text(encoding="utf-8").strip(), frozenset(problems))
    return out


@dataclass
class Run:
    """One variant's scores and what each text got (to count the texts that changed)."""

    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    got: dict[str, tuple] = field(default_factory=dict)  # "set/id" → top-3, matched, answers
    seconds: float = 0.0


def score(engine: Any, sets: Sets) -> Run:
    """Score ``engine.search`` on every set with the library's metrics (``k=10``, as
    ``tongdian eval`` asks)."""
    from tongdian.core.evaluation.ask_eval import evaluate_ask
    from tongdian.core.evaluation.evaluate import Prediction, evaluate

    run = Run()
    seen: dict[str, Any] = {}  # text → its answer, to read the signatures from

    def search(text: str) -> Any:
        seen[text] = engine.search(text, k=10)
        return seen[text]

    def predict(text: str) -> Prediction:
        r = search(text)
        return Prediction([x.id for x in r.results], r.matched)

    t0 = time.perf_counter()
    for set_name, qs in sets.problems.items():
        m = evaluate(qs, predict).metrics
        run.metrics[set_name] = {k: m[k] for k in ("p@1", "ok@1", "hit@3", "in_scope_rejected",
                                                   "oos_rejected")}
        run.got.update({f"{set_name}/{q.id}": _signature(seen[q.query]) for q in qs})
    for set_name, (note, want) in sets.notes.items():
        r = engine.search(note, k=5, max_chars=len(note))
        mapped = {x.id for x in r.results if x.mapped}
        # recall: the note's problems answered in full; extra: pain points mapped it never discusses
        run.metrics[set_name] = {"recall": round(len(mapped & want) / len(want), 4),
                                 "extra": float(len(mapped - want))}
        run.got[set_name] = (tuple(sorted(mapped)),)
    for set_name, aqs in sets.asks.items():
        rep = evaluate_ask(aqs, lambda text: search(text).answers)
        run.metrics[set_name] = {"hit@1": rep["metrics"]["hit@1"]}
        run.got.update({f"{set_name}/{q.id}": _signature(seen[q.q]) for q in aqs})
    run.seconds = time.perf_counter() - t0
    return run


def _signature(r: Any) -> tuple:
    """What a reader sees first: the top three pain points, "no good match", the top three
    typed answers. A text whose signature differs from the baseline's counts as changed."""
    return (tuple(x.id for x in r.results[:3]), r.matched,
            tuple(f"{a.kind}:{a.id}" for a in r.answers[:3]))


def changed(base: Run, run: Run) -> list[str]:
    return sorted(k for k, v in run.got.items() if base.got.get(k) != v)


# -- running -----------------------------------------------------------------------------------
def _gist(e: Exception) -> str:
    """The line of an error that says what went wrong (pydantic ends with a help link)."""
    lines = [x.strip() for x in str(e).splitlines() if x.strip()
             and not x.strip().startswith("For further information")]
    return lines[-1][:120] if lines else ""


def label(variant: Mapping[str, object]) -> str:
    return ", ".join(f"{k.rpartition(':')[2]}={v!r}" for k, v in variant.items())


def run_variants(open_engine: Callable[[], Any], sets: Sets,
                 variants: list[tuple[str, dict[str, object]]],
                 log: Callable[[str], None] = lambda s: None,
                 open_refit: Callable[[], Any] | None = None) -> dict[str, Any]:
    """The baseline, then each (knob, variant) with a fresh engine: every number as JSON.
    A variant of a constant the fit reads (``NEEDS_REFIT``) opens ``open_refit()``: an index
    built and fitted anew under the variant."""
    base = score(open_engine(), sets)
    log(f"baseline: {base.seconds:.0f} s")
    rows = []
    for knob, variant in variants:
        row: dict[str, Any] = {"knob": knob, "variant": {k: repr(v) for k, v in variant.items()},
                               "label": label(variant)}
        try:
            refit = knob in REFIT_KNOBS or any(k in NEEDS_REFIT for k in variant)
            with patched(variant) as where:
                if refit and open_refit is None:
                    raise RuntimeError("needs a refit: no open_refit given")
                run = score((open_refit if refit and open_refit else open_engine)(), sets)
        except Exception as e:  # say so and go on with the others
            row["error"] = (str(e.args[0]) if isinstance(e, MissingConstant)
                            # a value the code cannot take is a finding too
                            else f"fails: {type(e).__name__}: {_gist(e)}")
            log(f"{row['label']}: {row['error']}")
            rows.append(row)
            continue
        diff = changed(base, run)
        early = sorted({p for k in variant for p in early_bindings(parse_key(k)[1])})
        row.update(patched=where, early_bindings=early, metrics=run.metrics,
                   changed=len(diff), changed_ids=diff, seconds=round(run.seconds, 1))
        log(f"{row['label']}: {len(diff)} texts changed, {run.seconds:.0f} s")
        rows.append(row)
    return {"baseline": {"metrics": base.metrics, "seconds": round(base.seconds, 1)},
            "variants": rows}


COLUMNS = [("dev", "p@1", "dev P@1"), ("dev", "ok@1", "ok@1"), ("dev", "hit@3", "hit@3"),
           ("dev", "in_scope_rejected", "no-match"), ("dev", "oos_rejected", "OOS rej."),
           ("real tune", "p@1", "real P@1"), ("real tune", "ok@1", "ok@1"),
           ("real tune", "hit@3", "hit@3"), ("real tune", "in_scope_rejected", "no-match"),
           ("real tune", "oos_rejected", "OOS rej."),
           ("note six", "recall", "note6 recall"), ("note six", "extra", "extra"),
           ("note indep", "recall", "note-i recall"), ("note indep", "extra", "extra")]


def table_rows(result: dict[str, Any], asks: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the baseline's figures, each variant's as a signed difference."""
    base = result["baseline"]["metrics"]
    shown = [c for c in COLUMNS if c[0] in base]
    head = ["knob", "variant", *(c for _, _, c in shown), *(f"{a} hit@1" for a in asks),
            "changed"]
    cols = [*((s, m) for s, m, _ in shown), *((a, "hit@1") for a in asks)]
    rows = [["baseline", "", *(_fmt(base[s][m]) for s, m in cols), "0"]]
    for r in result["variants"]:
        if "error" in r:
            rows.append([r["knob"], r["label"], *(["n/a"] * len(cols)), r["error"]])
            continue
        cells = []
        for s, m in cols:
            d = r["metrics"][s][m] - base[s][m]
            cells.append("–" if d != d else "·" if abs(d) < 5e-5 else f"{d:+.3f}")
        rows.append([r["knob"], r["label"], *cells, str(r["changed"])])
    return head, rows


def _fmt(x: float) -> str:
    return "–" if x != x else f"{x:.3f}"  # NaN: a set with no text of that kind


def markdown(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -- counting module constants -------------------------------------------------------------------
def module_constants(path: Path) -> list[str]:
    """Names of the module-level assignments to an upper-case name (``_PRIVATE`` included)."""
    return [n for n, _ in _constants(path)]


def _constants(path: Path) -> list[tuple[str, bool]]:
    """(name, documented) of each module constant: documented when a ``#:`` comment line
    sits right above its assignment (or above the first line of a tuple assignment)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for node in ast.parse("\n".join(lines)).body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        names = [n.id for t in targets for n in ast.walk(t)
                 if isinstance(n, ast.Name) and n.id.isupper()]
        above = lines[node.lineno - 2].lstrip() if node.lineno > 1 else ""
        out += [(n, above.startswith("#:")) for n in names]
    return out


def count(root: Path = CORE) -> dict[str, tuple[int, int, int]]:
    """File (relative to ``root``) → (upper-case constants, public ones, without a ``#:``)."""
    out = {}
    for f in sorted(root.rglob("*.py")):
        cs = _constants(f)
        if cs:
            out[str(f.relative_to(root))] = (len(cs), sum(not n.startswith("_") for n, _ in cs),
                                             sum(not doc for _, doc in cs))
    return out


def _print_count() -> None:
    counts = count()
    width = max(map(len, counts))
    print(f"{'file (tongdian/core/)':{width}}  all  public  no #:")
    for f, (n, pub, bare) in counts.items():
        print(f"{f:{width}}  {n:3}  {pub:6}  {bare:5}")
    totals = [sum(c[i] for c in counts.values()) for i in range(3)]
    print(f"{'total':{width}}  {totals[0]:3}  {totals[1]:6}  {totals[2]:5}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="a knob of KNOBS (repeatable); default all")
    ap.add_argument("--set", action="append", default=[], metavar="module:NAME=value",
                    dest="sets", help="an ad-hoc variant (repeatable; each is its own row)")
    ap.add_argument("--markdown", action="store_true", help="a Markdown table")
    ap.add_argument("--json", type=Path, help="write every number (and the changed ids) here")
    ap.add_argument("--eval-dir", type=Path, help="the shared eval sets (default: found above)")
    ap.add_argument("--data", type=Path, help="index directory (default: Settings().data)")
    ap.add_argument("--count", action="store_true", help="count tongdian/core's constants, exit")
    args = ap.parse_args(argv)
    if args.count:
        _print_count()
        return 0
    unknown = [n for n in args.only if n not in KNOBS and n not in REFIT_KNOBS]
    if unknown:
        ap.error(f"unknown knob(s) {', '.join(unknown)}; known: "
                 f"{', '.join([*KNOBS, *REFIT_KNOBS])}")
    try:
        ad_hoc = [("--set", parse_set(s)) for s in args.sets]
    except ValueError as e:
        ap.error(str(e))
    registry = {**KNOBS, **REFIT_KNOBS}
    chosen = args.only or ([] if ad_hoc else list(KNOBS))
    variants = [(k, v) for k in chosen for v in registry[k]] + ad_hoc
    eval_dir = args.eval_dir or find_eval_dir()
    if eval_dir is None or not (eval_dir / "dev_queries.jsonl").is_file():
        ap.error("the eval sets were not found: pass --eval-dir DIR (with dev_queries.jsonl)")

    from rich.console import Console
    from rich.table import Table

    from tongdian.core.config import Settings
    from tongdian.core.search.engine import Engine
    from tongdian.index.embedders import make_embedder
    from tongdian.index.lru import LRU

    settings = Settings(data=args.data) if args.data else Settings()
    emb = make_embedder(settings.embedder, settings.query_prefix, settings.passage_prefix,
                        settings.embed_threads)
    # vectors depend on the text alone, never on a core constant: every variant reuses them
    emb.cache = LRU(1_000_000)  # type: ignore[attr-defined]
    sets = Sets.load(eval_dir, ASK_SETS)
    command = shlex.join([".venv/bin/python", "-m", "bench.knobs", *argv])
    sizes = ", ".join(f"{k} {len(v)}" for k, v in {**sets.problems, **sets.asks}.items())
    header = (f"bench.knobs · {command}\n{len(variants)} variants against the baseline · "
              f"{sizes} texts · {emb.spec} · eval sets {eval_dir}")
    err = Console(stderr=True)
    err.print(header)
    import tempfile

    from tongdian.core.knowledge.corpus import load_corpus
    from tongdian.core.search.build import build_index
    from tongdian.index.store import Store

    refits = tempfile.TemporaryDirectory(prefix="knobs-refit-")  # removed when the run ends

    def open_refit() -> Engine:
        """An index built into a fresh directory with the fit redone (the vectors come from
        the shipped cache: a few seconds), as ``make vectors`` fits."""
        corpus = load_corpus(Path(settings.corpus))
        store = Store(Path(tempfile.mkdtemp(dir=refits.name)))
        index = build_index(corpus, emb, store, shipped_fit=False)
        return Engine(corpus, emb, index, compose_segments=settings.compose_segments)

    result = run_variants(lambda: Engine.open(settings, embedder=emb), sets, variants,
                          log=lambda s: err.print(s), open_refit=open_refit)
    result = {"command": command, "sizes": {k: len(v) for k, v in {**sets.problems,
                                                                    **sets.asks}.items()},
              "needs_refit": list(NEEDS_REFIT), **result}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(args.json)
    head, rows = table_rows(result, list(sets.asks))
    early = sorted({p for r in result["variants"] for p in r.get("early_bindings", [])})
    notes = ["Baseline row: the figures; variant rows: the difference (· = none). `changed`: texts "
             "whose top-3 pain points, no-match flag or top-3 typed answers differ.",
             "Knobs the fit reads (REFIT_KNOBS) are scored on an index fitted anew; "
             "REFIT_BASELINE is the shipped constants refitted."]
    if early:
        notes.append(f"Warning: read at import, not changed by a variant: {', '.join(early)}.")
    if args.markdown:
        print(f"`{command}`\n\n{header.splitlines()[1]}\n\n{markdown(head, rows)}\n")
        print("\n".join(notes))
    else:
        t = Table(title=header)
        for c in head:
            t.add_column(c, justify="left" if c in ("knob", "variant") else "right")
        for row in rows:
            t.add_row(*row)
        out = Console()
        out.print(t)
        for n in notes:
            out.print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
