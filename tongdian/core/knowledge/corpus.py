"""Load and validate the reviewed corpus under ``corpus/``.

Validation is all-or-nothing and happens before any index is touched: a corpus edit
that breaks a file must never replace a working index, and the person who made the
edit needs the file, the field and the problem in one line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tongdian.core.knowledge.schema import (
    RISK_IDS,
    USERDICT_LINE,
    Calibration,
    Case,
    CooperationMode,
    PainPoint,
    Risk,
    SourceFile,
    Synonyms,
    Technology,
)

#: A type variable, not a knob: the pydantic model a list file is loaded as.
M = TypeVar("M", bound=BaseModel)


class CorpusError(ValueError):
    """A corpus file is malformed. ``str()`` names the file, the field and the problem."""

    def __init__(self, path: Path | str, problems: Iterable[str]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{self.path}:\n{lines}")


@dataclass(frozen=True)
class Corpus:
    """The whole validated knowledge base, plus a hash that identifies this exact content."""

    root: Path
    painpoints: tuple[PainPoint, ...]
    risks: dict[str, Risk]
    technologies: dict[str, Technology]
    cooperation: tuple[CooperationMode, ...]
    cases: dict[str, Case]
    source: SourceFile
    synonyms: tuple[tuple[str, ...], ...]
    userdict: tuple[str, ...]
    out_of_scope: tuple[str, ...]  # everything that is not a pain point, bank-related included
    bank_related: tuple[str, ...]  # the bank-related part of it
    digest: str
    by_id: dict[str, PainPoint] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {p.id: p for p in self.painpoints})

    def painpoint(self, pid: str) -> PainPoint:
        return self.by_id[pid]

    def topic_terms(self) -> list[str]:
        """The report's vocabulary: the finance dictionary, the synonym groups, each pain
        point's keywords and aliases, and the technologies' names (a keyword query names one)."""
        words = [line.split()[0] for line in self.userdict if line.split()]
        words += [w for g in self.synonyms for w in g]
        words += [w for pp in self.painpoints for w in (*pp.keywords, *pp.aliases)]
        words += [w for t in self.technologies.values() for w in (t.name, *t.aliases, t.name_en)]
        return words


#: libyaml's C parser when PyYAML has it (ten times faster: server start-up reads 27 files).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorpusError(path, ["file is missing"]) from None
    except UnicodeDecodeError as e:
        raise CorpusError(path, [f"not UTF-8: {e}"]) from None
    try:
        return yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as e:
        raise CorpusError(path, [f"not valid YAML: {e}"]) from None


def _fmt_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _validate(model: type[M], data: Any, path: Path, prefix: tuple[Any, ...] = ()) -> M:
    if not isinstance(data, dict):
        raise CorpusError(path, [f"{_fmt_loc(prefix)}: expected a mapping, got {type(data).__name__}"])
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise CorpusError(
            path, [f"field {_fmt_loc(prefix + tuple(err['loc']))}: {err['msg']}" for err in e.errors()]
        ) from None


def load_file(model: type[M], path: Path) -> M:
    """One YAML file of the corpus checked against its schema: the public door for files
    other modules own (``ask.yaml``), with the loader's errors (file and field named)."""
    return _validate(model, _read_yaml(path), path)


def _validate_list(model: type[M], data: Any, key: str, path: Path) -> list[M]:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise CorpusError(path, [f"field {key}: expected a list under the top-level key '{key}'"])
    items = [_validate(model, item, path, (key, i)) for i, item in enumerate(data[key])]
    ids = [getattr(it, "id", None) for it in items]
    dup = sorted({i for i in ids if i is not None and ids.count(i) > 1})
    if dup:
        raise CorpusError(path, [f"field {key}: duplicate id {d}" for d in dup])
    return items


def _digest(paths: Iterable[Path], root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def load_painpoint(path: Path) -> PainPoint:
    return _validate(PainPoint, _read_yaml(path), path)


def _check_links(
    pp: PainPoint, path: Path, risks: set[str], techs: set[str], cases: set[str]
) -> list[str]:
    problems: list[str] = []
    if path.stem != pp.id:
        problems.append(f"field id: {pp.id} does not match the file name {path.name}")
    for i, a in enumerate(pp.approaches):
        for t in a.tech:
            if t not in techs:
                problems.append(f"field approaches[{i}].tech: unknown technology id '{t}'")
    seen: set[str] = set()
    for i, r in enumerate(pp.risks):
        if r.id not in risks:
            problems.append(f"field risks[{i}].id: unknown risk id '{r.id}'")
        if r.id in seen:
            problems.append(f"field risks[{i}].id: risk '{r.id}' listed twice")
        seen.add(r.id)
    if pp.case is not None and pp.case not in cases:
        problems.append(f"field case: unknown case id '{pp.case}'")
    grams = {pp.title[i : i + 4] for i in range(len(pp.title) - 3)}
    grams = {g for g in grams if not re.search(r"[、，,与的]", g)}
    for i, ex in enumerate(pp.examples):
        hit = next((g for g in sorted(grams) if g in ex), None)
        if hit:
            problems.append(f"field examples[{i}]: reuses the title's words '{hit}': {ex!r}")
    return problems


def load_corpus(root: Path) -> Corpus:
    """Read every file under ``root``, validate it, and check the ids that link files."""
    root = Path(root)
    risks_path = root / "risks.yaml"
    tech_path = root / "technologies.yaml"
    coop_path = root / "cooperation.yaml"
    cases_path = root / "cases.yaml"
    source_path = root / "source.yaml"
    syn_path = root / "dict" / "synonyms.yaml"
    dict_path = root / "dict" / "finance_userdict.txt"
    oos_path = root / "calibration" / "out_of_scope.yaml"

    risks = {r.id: r for r in _validate_list(Risk, _read_yaml(risks_path), "risks", risks_path)}
    missing = sorted(set(RISK_IDS) - set(risks))
    if missing:
        raise CorpusError(risks_path, [f"field risks: missing the traditional risk(s) {missing}"])
    techs = {
        t.id: t
        for t in _validate_list(Technology, _read_yaml(tech_path), "technologies", tech_path)
    }
    coop = tuple(
        _validate_list(CooperationMode, _read_yaml(coop_path), "cooperation", coop_path)
    )
    cases = {c.id: c for c in _validate_list(Case, _read_yaml(cases_path), "cases", cases_path)}
    source = _validate(SourceFile, _read_yaml(source_path), source_path)
    synonyms = _validate(Synonyms, _read_yaml(syn_path), syn_path)
    calibration = _validate(Calibration, _read_yaml(oos_path), oos_path)

    try:
        dict_lines = [ln.strip() for ln in dict_path.read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError:
        raise CorpusError(dict_path, ["file is missing"]) from None
    dict_lines = [ln for ln in dict_lines if ln and not ln.startswith("#")]
    bad = [f"line {ln!r}: expected 'word [freq] [tag]'" for ln in dict_lines if not USERDICT_LINE.match(ln)]
    if bad:
        raise CorpusError(dict_path, bad)

    pp_paths = sorted((root / "painpoints").glob("*.yaml"), key=lambda p: (len(p.stem), p.stem))
    painpoints: list[PainPoint] = []
    for path in pp_paths:
        pp = load_painpoint(path)
        problems = _check_links(pp, path, set(risks), set(techs), set(cases))
        if problems:
            raise CorpusError(path, problems)
        painpoints.append(pp)
    ids = [p.id for p in painpoints]
    # a bank adds P21 and beyond and retires what is outdated: gaps are allowed, one entry
    # per number is not negotiable (P7.yaml beside P07.yaml would be two files, one id)
    numbers = [p.number for p in painpoints]
    if not ids:
        raise CorpusError(root / "painpoints", ["no pain points: expected files P01.yaml …"])
    if len(set(numbers)) != len(numbers):
        dup = sorted({i for i, n in zip(ids, numbers, strict=True) if numbers.count(n) > 1})
        raise CorpusError(root / "painpoints", [f"two files for one pain-point number: {dup}"])
    painpoints.sort(key=lambda p: p.number)
    ids = [p.id for p in painpoints]
    for c in cases.values():
        for pid in c.painpoints:
            if pid not in ids:
                raise CorpusError(cases_path, [f"field cases.{c.id}.painpoints: unknown id {pid}"])

    files = [risks_path, tech_path, coop_path, cases_path, source_path, syn_path, dict_path, oos_path]
    return Corpus(
        root=root,
        painpoints=tuple(painpoints),
        risks=risks,
        technologies=techs,
        cooperation=coop,
        cases=cases,
        source=source,
        synonyms=tuple(tuple(g) for g in synonyms.groups),
        userdict=tuple(dict_lines),
        out_of_scope=(*calibration.out_of_scope, *calibration.bank_related),
        bank_related=tuple(calibration.bank_related),
        digest=_digest([*files, *pp_paths], root),
    )


if __name__ == "__main__":  # a quick check for corpus authors: python -m tongdian.core.knowledge.corpus FILE…
    import sys

    rc = 0
    for arg in sys.argv[1:]:
        p = Path(arg)
        try:
            pp = load_painpoint(p)
            techs = {t["id"] for t in _read_yaml(p.parent.parent / "technologies.yaml")["technologies"]}
            problems = _check_links(pp, p, set(RISK_IDS), techs, {"bigdata_marketing"})
            if problems:
                raise CorpusError(p, problems)
            print(f"{p}: ok ({len(pp.examples)} examples)")
        except CorpusError as e:
            print(e)
            rc = 1
    sys.exit(rc)
