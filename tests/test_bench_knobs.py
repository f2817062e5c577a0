"""The knob harness measures what it claims: a variant changes exactly what the patched modules
see while it runs, everything is restored afterwards, and a variant with no effect reports no
changed text. Fake modules and a fake engine: no index is built."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from tongdian.core.evaluation.ask_eval import AskQuery
from tongdian.core.evaluation.evaluate import EvalQuery

bk = importlib.import_module("bench.knobs")

FAKE = "tongdian._knobs_fake"


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType, ModuleType]:
    """A module with constants, one that copied one of them (``from fake import LEAD``), and
    one whose constant of the same name is another object."""
    lead = ["P01"]  # a list: identity, not equality, decides what is a copy
    src, user, other = ModuleType(FAKE), ModuleType(FAKE + "_user"), ModuleType(FAKE + "_other")
    src.LEAD, src.UNUSED = lead, 7
    user.LEAD = lead
    other.LEAD = ["P01"]
    for m in (src, user, other):
        monkeypatch.setitem(sys.modules, m.__name__, m)
    return src, user, other


def test_patched_sets_every_copy_and_restores(fake: tuple[ModuleType, ...]) -> None:
    src, user, other = fake
    orig, others = src.LEAD, other.LEAD
    with bk.patched({f"{FAKE}:LEAD": ["P02"]}) as where:
        assert src.LEAD == user.LEAD == ["P02"]
        assert other.LEAD is others  # same name, another object: not this constant
        assert sorted(where) == [f"{FAKE}:LEAD", f"{FAKE}_user:LEAD"]
    assert src.LEAD is orig and user.LEAD is orig


def test_patched_restores_after_an_error_and_modules_imported_inside(
        fake: tuple[ModuleType, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    src = fake[0]
    orig = src.LEAD
    late = ModuleType(FAKE + "_late")
    with pytest.raises(RuntimeError), bk.patched({f"{FAKE}:LEAD": ["P03"]}):
        late.LEAD = src.LEAD  # a module first imported inside the block copies the new value
        monkeypatch.setitem(sys.modules, late.__name__, late)
        raise RuntimeError("a failing run")
    assert src.LEAD is orig and late.LEAD is orig


def test_patched_refuses_a_constant_that_does_not_exist(fake: tuple[ModuleType, ...]) -> None:
    with pytest.raises(KeyError, match="NOPE"), bk.patched({f"{FAKE}:NOPE": 1}):
        pass


class FakeEngine:
    """Answers every text with the pain point the fake module's ``LEAD`` names at call time."""

    def search(self, text: str, k: int = 10) -> Any:
        lead = sys.modules[FAKE].LEAD
        if not lead:
            raise ValueError("no pain point to lead with\n\nFor further information visit …")
        return SimpleNamespace(results=[SimpleNamespace(id=p) for p in lead], matched=True,
                               answers=[SimpleNamespace(kind="painpoint", id=lead[0])])


def _sets() -> Any:
    return bk.Sets(
        problems={"dev": [EvalQuery(id="t1", query="柜台排队太久", primary=["P01"],
                                    style="colloquial"),
                          EvalQuery(id="t2", query="贷款审批很慢", primary=["P01"],
                                    style="colloquial"),
                          EvalQuery(id="t3", query="周末去爬山", style="out_of_scope")]},
        asks={"ask_x": [AskQuery(id="a1", q="第一个痛点是什么", kind="painpoint",
                                 expected_id="P01")]})


def test_a_variant_with_an_effect_is_measured_and_one_without_counts_no_change(
        fake: tuple[ModuleType, ...]) -> None:
    result = bk.run_variants(FakeEngine, _sets(), [
        ("LEAD", {f"{FAKE}:LEAD": ["P02"]}),
        ("UNUSED", {f"{FAKE}:UNUSED": 8}),
        ("gone", {f"{FAKE}:GONE": 1}),
        ("breaks", {f"{FAKE}:LEAD": []}),
    ])
    base = result["baseline"]["metrics"]
    assert base["dev"]["p@1"] == 1.0 and base["ask_x"]["hit@1"] == 1.0
    assert base["dev"]["oos_rejected"] == 0.0  # the fake always matches
    lead, unused, gone, breaks = result["variants"]
    assert lead["metrics"]["dev"]["p@1"] == 0.0 and lead["metrics"]["ask_x"]["hit@1"] == 0.0
    assert lead["changed"] == 4  # three texts of dev and the ask question
    assert lead["changed_ids"] == ["ask_x/a1", "dev/t1", "dev/t2", "dev/t3"]
    assert unused["changed"] == 0 and unused["metrics"] == base
    assert "GONE" in gone["error"]
    assert breaks["error"] == "fails: ValueError: no pain point to lead with"  # and the run went on
    assert fake[0].LEAD == ["P01"]  # the last variant ran and nothing leaked
    head, rows = bk.table_rows(result, ["ask_x"])
    assert head[-1] == "changed" and len(rows) == 5
    assert rows[0][2] == "1.000" and rows[1][2] == "-1.000" and rows[1][-1] == "4"
    assert set(rows[2][2:-1]) == {"·"}  # no difference anywhere
    assert rows[3][-1] == gone["error"]
    assert bk.markdown(head, rows).count("\n") == len(rows) + 1


def test_a_constant_the_fit_reads_is_scored_on_an_engine_fitted_anew(
        fake: tuple[ModuleType, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    refits: list[object] = []

    def open_refit() -> FakeEngine:
        refits.append(sys.modules[FAKE].LEAD)  # built under the variant
        return FakeEngine()

    monkeypatch.setattr(bk, "NEEDS_REFIT", (f"{FAKE}:LEAD",))
    result = bk.run_variants(FakeEngine, _sets(), [("LEAD", {f"{FAKE}:LEAD": ["P02"]}),
                                                   ("UNUSED", {f"{FAKE}:UNUSED": 8})],
                             open_refit=open_refit)
    assert refits == [["P02"]]  # the refit variant alone, with its value in place
    assert result["variants"][0]["changed"] == 4
    no_refit = bk.run_variants(FakeEngine, _sets(), [("LEAD", {f"{FAKE}:LEAD": ["P02"]})])
    assert "needs a refit" in no_refit["variants"][0]["error"]


def test_early_bindings_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "early.py"
    f.write_text("LIMIT = 3\nTWICE = LIMIT * 2\n\n\ndef cut(x, n=LIMIT):\n    return x[:n]\n\n\n"
                 "class Box:\n    size = LIMIT\n\n\ndef late(x):\n    return x[:LIMIT]\n",
                 encoding="utf-8")
    m = ModuleType("tongdian._knobs_early")
    m.__file__ = str(f)
    monkeypatch.setitem(sys.modules, m.__name__, m)
    assert [p for p in bk.early_bindings("LIMIT") if p.startswith(m.__name__)] == [
        f"{m.__name__}:2", f"{m.__name__}:5", f"{m.__name__}:10"]  # the read in late() is live


def test_parse_set() -> None:
    assert bk.parse_set("tongdian.core.answers.ask:MIN_TYPED=0.25") == {
        "tongdian.core.answers.ask:MIN_TYPED": 0.25}
    for bad in ("tongdian.core.answers.ask:MIN_TYPED", "os:SEP=1", "tongdian.x:Y=not python"):
        with pytest.raises(ValueError):
            bk.parse_set(bad)


def test_registry_names_constants_that_exist() -> None:
    """The registry follows the code: a renamed or removed knob fails here, not mid-run."""
    for knob, variants in {**bk.KNOBS, **bk.REFIT_KNOBS}.items():
        assert variants, knob
        for v in variants:
            for key, value in v.items():
                module, name = bk.parse_key(key)
                current = getattr(importlib.import_module(module), name)
                assert type(current) in (int, float) and value != current, key
    assert not {bk.parse_key(k)[1] for k in bk.NEEDS_REFIT} & set(bk.KNOBS)  # fit knobs apart


def test_count_reads_module_level_upper_case_assignments(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("A = 1\n#: documented\n_B: int = 2\nlower = 3\nC, D = 4, 5\n\n\n"
                 "def f():\n    E = 6\n", encoding="utf-8")
    assert bk.module_constants(f) == ["A", "_B", "C", "D"]
    assert bk.count(tmp_path) == {"m.py": (4, 3, 3)}  # only _B has a #: line above it
