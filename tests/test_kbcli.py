"""``tongdian revisions list/export/import/show`` and ``tongdian feedback export``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.kbsupport import db_url  # noqa: F401  (fixture)
from tongdian.cli import app
from tongdian.core.config import Settings
from tongdian.core.evaluation.evaluate import load_queries
from tongdian.core.stewardship.kb import KnowledgeBase


def test_export_edit_import_and_feedback_export(db_url: str, tiny_corpus: Path, tmp_path: Path,  # noqa: F811
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGDIAN_DB_URL", db_url)
    monkeypatch.setenv("TONGDIAN_CORPUS", str(tiny_corpus))
    monkeypatch.setenv("TONGDIAN_DATA", str(tmp_path / "data"))
    run = CliRunner().invoke
    r = run(app, ["revisions", "export", "head", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    f = tmp_path / "out" / "painpoints" / "P02.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("keywords:\n", "keywords:\n- 揽储难\n", 1),
                 encoding="utf-8")
    r = run(app, ["revisions", "import", str(tmp_path / "out"), "--message", "keyword", "--author", "hu"])
    assert r.exit_code == 0, r.output
    r = run(app, ["revisions", "list"])
    assert r.exit_code == 0 and "hu" in r.output and "keyword" in r.output
    r = run(app, ["revisions", "show", "2"])
    assert "+- 揽储难" in r.output
    r = run(app, ["revisions", "export", "2", str(tmp_path / "out")])  # exists: refused
    assert r.exit_code == 2 and "not empty" in r.output
    r = run(app, ["revisions", "import", str(tmp_path / "out")])  # same content: no revision
    assert r.exit_code == 2 and "nothing changed" in r.output

    kb = KnowledgeBase.open(Settings(), source=tiny_corpus)
    kb.store.add_feedback("理财经理人手不够", ["P03"], 2, False, "none", "page")
    kb.store.add_feedback("理财经理人手不够", ["P03"], 2, False, "none", "api")
    kb.store.add_feedback("吸存太贵了", ["P01"], 2, False, "P02", "api")
    kb.store.add_feedback("很好用", ["P01"], 2, True, None, "api")
    r = run(app, ["feedback", "export", str(tmp_path / "fb.jsonl")])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in (tmp_path / "fb.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(x["query"], x["primary"]) for x in lines] == [("理财经理人手不够", []), ("吸存太贵了", ["P02"])]
    qs = load_queries(tmp_path / "fb.jsonl")  # what `tongdian eval` reads
    assert [q.in_scope for q in qs] == [False, True]


@pytest.mark.slow  # builds and gates an index
def test_import_and_publish_from_the_shell(db_url: str, tiny_corpus: Path, tmp_path: Path,  # noqa: F811
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGDIAN_DB_URL", db_url)
    monkeypatch.setenv("TONGDIAN_CORPUS", str(tiny_corpus))
    monkeypatch.setenv("TONGDIAN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TONGDIAN_GATE_SETS", str(Path(__file__).parent / "fixtures" / "gate_tiny.jsonl"))
    run = CliRunner().invoke
    assert run(app, ["revisions", "export", "head", str(tmp_path / "out")]).exit_code == 0
    (tmp_path / "out" / "painpoints" / "P01.yaml").unlink()  # retiring P01 breaks G001/G002
    r = run(app, ["revisions", "import", str(tmp_path / "out"), "--publish"])
    assert r.exit_code == 1 and "broke G001" in r.output and "refused" in r.output
    r = run(app, ["revisions", "publish", "head", "--override", "--author", "ops"])
    assert r.exit_code == 0 and "despite the gate" in r.output
    kb = KnowledgeBase.open(Settings(), source=tiny_corpus)
    row = kb.store.revision(2)
    assert row is not None and row.publish_info and row.publish_info["override"] is True
    assert row.publish_info["by"] == "ops"
