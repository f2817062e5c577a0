"""Every third-party module the code imports comes from a distribution pyproject.toml
declares: the product's code from the core or an extra, the tests and benches from those or
the test extra. An undeclared import works only where something else happened to pull it in."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"tongdian", "tests", "bench"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], set[str]]:
    """(what the product may import: core + feature extras, what tests and benches may add:
    the test and bench extras)."""
    meta = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name = lambda req: _norm(re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0])  # noqa: E731
    extras = meta["optional-dependencies"]
    product = {name(r) for r in meta["dependencies"]}
    product |= {name(r) for k, reqs in extras.items() if k not in ("test", "lock", "bench") for r in reqs}
    return product, {name(r) for r in (*extras["test"], *extras["bench"])}


def _imports(files: list[Path]) -> dict[str, str]:
    """top-level module -> first file importing it (absolute imports only)."""
    out: dict[str, str] = {}
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                    and node.module else [])
            for m in mods:
                out.setdefault(m.split(".")[0], str(f.relative_to(PROJECT_ROOT)))
    return {m: f for m, f in out.items()
            if m not in sys.stdlib_module_names and m not in FIRST_PARTY and m != "__future__"}


@pytest.mark.parametrize("where", ["tongdian", "tests", "bench"])
def test_every_import_is_declared(where: str) -> None:
    product, test = _declared()
    allowed = product if where == "tongdian" else product | test
    dists = packages_distributions()
    undeclared = []
    for mod, f in sorted(_imports(sorted((PROJECT_ROOT / where).rglob("*.py"))).items()):
        provided = {_norm(d) for d in dists.get(mod, [])}
        if not provided & allowed:
            undeclared.append(f"{mod} ({f}; from {sorted(provided) or 'nothing installed'})")
    assert undeclared == []
