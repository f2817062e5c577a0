"""The gate's own query set ships in the package, so every install is gated, not only a
checkout that has ../shared beside it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import CORPUS
from tests.kbsupport import db_url  # noqa: F401  (fixture)
from tongdian.core.evaluation.evaluate import load_queries, split_half
from tongdian.core.knowledge.corpus import load_corpus
from tongdian.core.stewardship import kb as kbmod
from tongdian.core.stewardship.kb import BUILTIN_GATE_SET, KBSettings


def test_the_shipped_set_covers_every_pain_point_in_several_styles() -> None:
    qs = load_queries(BUILTIN_GATE_SET)
    ids = {p.id for p in load_corpus(CORPUS).painpoints}
    assert 60 <= len(qs) <= 120 and len({q.id for q in qs}) == len(qs)
    per = Counter(p for q in qs for p in q.primary)
    assert set(per) == ids and min(per.values()) >= 3, per
    oos = [q for q in qs if not q.in_scope]
    assert len(oos) >= 8
    assert len({q.style for q in qs if q.in_scope}) >= 4 and len({q.lang for q in qs}) >= 3
    assert split_half(qs, "tune") and split_half(qs, "held-out")  # every id has a number


def test_an_installed_wheel_gates_with_the_shipped_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TONGDIAN_GATE_SETS", raising=False)
    monkeypatch.setattr(kbmod, "source_checkout", lambda: None)  # as in a wheel
    assert KBSettings().resolved_gate_sets() == [str(BUILTIN_GATE_SET)]
    monkeypatch.setenv("TONGDIAN_GATE_SETS", "builtin, /x/own.jsonl#tune")
    assert KBSettings().resolved_gate_sets() == [str(BUILTIN_GATE_SET), "/x/own.jsonl#tune"]


def test_a_checkout_adds_the_shared_sets_where_they_are(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TONGDIAN_GATE_SETS", raising=False)
    (tmp_path / "shared" / "eval").mkdir(parents=True)
    (tmp_path / "shared" / "eval" / "real_dev.jsonl").write_text("", encoding="utf-8")
    monkeypatch.setattr(kbmod, "source_checkout", lambda: tmp_path / "checkout")
    got = KBSettings().resolved_gate_sets()
    assert got == [str(BUILTIN_GATE_SET), f"{tmp_path / 'shared' / 'eval' / 'real_dev.jsonl'}#tune"]


@pytest.mark.slow  # builds and gates an index
def test_a_harmful_publish_is_refused_without_any_configured_set(
        db_url: str, tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from tongdian.cli import app

    monkeypatch.setenv("TONGDIAN_DB_URL", db_url)
    monkeypatch.setenv("TONGDIAN_CORPUS", str(tiny_corpus))
    monkeypatch.setenv("TONGDIAN_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("TONGDIAN_GATE_SETS", raising=False)
    monkeypatch.setattr(kbmod, "source_checkout", lambda: None)  # an installed wheel
    run = CliRunner().invoke
    assert run(app, ["revisions", "export", "head", str(tmp_path / "out")]).exit_code == 0
    (tmp_path / "out" / "painpoints" / "P01.yaml").unlink()  # its four queries break
    r = run(app, ["revisions", "import", str(tmp_path / "out"), "--publish"])
    assert r.exit_code == 1 and "refused" in r.output and "gate.jsonl" in r.output, r.output
