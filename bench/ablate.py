"""Corpus ablations on real text: what the written examples and the bank-related
calibration each add, measured on both halves of a query set and on the dev set.

Each variant is a copy of the corpus with one part taken out, indexed from scratch into a
temporary directory and scored by ``tongdian eval`` (the same code path a user runs).
About two minutes per variant on two cores.

Run: ``.venv/bin/python -m bench.ablate [--real ../shared/eval/real_dev.jsonl] [--markdown]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from tongdian.core.config import Settings

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
EVAL = PROJECT_ROOT.parent / "shared" / "eval"


def _drop_written(corpus: Path) -> None:
    for f in (corpus / "painpoints").glob("*.yaml"):
        d = yaml.safe_load(f.read_text(encoding="utf-8"))
        d.pop("written_examples", None)
        f.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _drop_bank(corpus: Path) -> None:
    f = corpus / "calibration" / "out_of_scope.yaml"
    d = yaml.safe_load(f.read_text(encoding="utf-8"))
    d.pop("bank_related", None)
    f.write_text(yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")


VARIANTS: dict[str, list[Callable[[Path], None]]] = {
    "full": [],
    "no written examples": [_drop_written],
    "no bank-related calibration": [_drop_bank],
    "neither (the corpus before real-text work)": [_drop_written, _drop_bank],
}


def evaluate(corpus: Path, data: Path, queries: Path, half: str) -> dict:
    cmd = [sys.executable, "-m", "tongdian.cli", "eval", str(queries), "--json", "--half", half,
           "--corpus", str(corpus), "--data", str(data)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=EVAL / "real_dev.jsonl")
    ap.add_argument("--dev", type=Path, default=EVAL / "dev_queries.jsonl")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    source = Settings().corpus
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, edits in VARIANTS.items():
            corpus = Path(tmp) / f"corpus-{len(results)}"
            shutil.copytree(source, corpus, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
            for edit in edits:
                edit(corpus)
            data = Path(tmp) / f"index-{len(results)}"
            print(f"{name}: building and scoring…", file=sys.stderr)
            results[name] = {
                "real tune": evaluate(corpus, data, args.real, "tune"),
                "real held-out": evaluate(corpus, data, args.real, "held-out"),
                "dev": evaluate(corpus, data, args.dev, "all"),
            }
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    cols = ("p@1", "hit@3", "oos_rejected", "in_scope_rejected")
    header = ["variant", "set", *cols, "English P@1"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, sets in results.items():
        for set_name, rep in sets.items():
            en = rep["per_style"].get("real_en", rep["per_style"].get("english", {})).get("p@1")
            cells = [f"{rep['metrics'][c]:.3f}" for c in cols] + ["" if en is None else f"{en:.2f}"]
            lines.append(f"| {name} | {set_name} (n={rep['n']}) | " + " | ".join(cells) + " |")
    print("\n".join(lines) if args.markdown else "\n".join(lines).replace("|", " "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
