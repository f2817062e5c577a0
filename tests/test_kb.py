"""The knowledge base's revisions on both backends: edits validated by the corpus loader,
history with diffs, retire and restore, export and import; and P21 on the real corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CORPUS
from tests.kbsupport import db_url  # noqa: F401  (fixture)
from tongdian.core.knowledge.corpus import load_corpus
from tongdian.core.stewardship import kbedit
from tongdian.core.stewardship.kb import KnowledgeBase
from tongdian.core.stewardship.kbedit import EditError
from tongdian.index.revstore import RevisionConflict, open_store


@pytest.fixture()
def kb(db_url: str, tiny_corpus: Path, tmp_path: Path) -> KnowledgeBase:  # noqa: F811
    return KnowledgeBase(open_store(db_url, tmp_path / "kb.sqlite"), tiny_corpus)


def detail(kb: KnowledgeBase, pid: str) -> dict:
    """The entry as GET /api/painpoints/{id} shapes it (approaches' tech as objects, …)."""
    d = kbedit.painpoint_data(kb.head()[1], pid)
    return {"id": d["id"], "number": d["number"], "title": d["title"], "title_en": d["title_en"],
            "summary_en": d["summary_en"], "pain": d["pain"],
            "approaches": [{"text": a["text"], "text_en": a["note_en"],
                            "tech": [{"id": t, "name": t, "name_en": t} for t in a["tech"]]}
                           for a in d["approaches"]],
            "technologies": [], "risks": [{"id": r["id"], "name": "x", "name_en": "x"} for r in d["risks"]],
            "case": d.get("case"), "url": f"/p/{pid}",
            "risks_detail": [{"id": r["id"], "name": "x", "name_en": "x", "reason": r["reason"],
                              "fintech_change": "x", "controls": []} for r in d["risks"]],
            "keywords": d["keywords"], "case_detail": None, "neighbours": [],
            "source": d["source"]["section"]}


def test_first_use_imports_the_corpus_as_revision_1(kb: KnowledgeBase, tiny_corpus: Path) -> None:
    assert kb.ensure_initial() == 1
    row = kb.store.revision(1)
    assert row is not None and row.action == "import"
    assert row.meta["digest"] == load_corpus(tiny_corpus).digest
    assert kb.ensure_initial() == 1  # idempotent


def test_put_accepts_the_get_shape_and_records_a_diff(kb: KnowledgeBase) -> None:
    body = detail(kb, "P01")
    body["title"] = "高收益资产越来越少"
    rid = kb.put_painpoint("P01", body, "alice", "shorter title")
    assert rid == 2
    d = kbedit.painpoint_data(kb.files(2), "P01")
    assert d["title"] == "高收益资产越来越少"
    assert d["examples"] == kbedit.painpoint_data(kb.files(1), "P01")["examples"]  # kept
    view = kb.revision(2)
    assert view.row.author == "alice" and view.row.message == "shorter title"
    assert [f.path for f in view.files] == ["painpoints/P01.yaml"]
    assert "+title: 高收益资产越来越少" in view.files[0].diff
    with pytest.raises(EditError, match="nothing changed"):
        kb.put_painpoint("P01", body, "alice")


@pytest.mark.parametrize("change, field", [
    (lambda b: b["approaches"][0].update(tech=[]), "approaches[0].tech"),
    (lambda b: b.update(title="  "), "title"),
    (lambda b: b.update(colour="red"), "colour"),
    (lambda b: b["approaches"][0].update(tech=[{"id": "teleportation"}]), "approaches[0].tech"),
    (lambda b: b.update(case="no_such_case"), "field case"),
])
def test_a_bad_edit_names_the_field(kb: KnowledgeBase, change, field: str) -> None:  # type: ignore[no-untyped-def]
    body = detail(kb, "P02")
    change(body)
    with pytest.raises(EditError) as e:
        kb.put_painpoint("P02", body, "bob")
    assert any(field in f or field in m for f, m in e.value.problems), e.value.problems
    assert kb.store.head() == 1  # nothing stored


def test_add_retire_restore_and_entry_history(kb: KnowledgeBase) -> None:
    body = detail(kb, "P03")
    body.pop("id"), body.pop("number")
    body["title"] = "网点外拓获客效率低"
    body["examples"] = [f"外拓扫楼一整天，第{i}次只加到两个微信" for i in range(15)]
    rid, pid = kb.add_painpoint(body, "carol")
    assert pid == "P04" and rid == 2
    r_retire = kb.retire("painpoints", "P02", "carol", "merged into P01")
    assert "painpoints/P02.yaml" not in kb.files(r_retire)
    assert [p.id for p in kbedit.validate(kb.files(r_retire)).painpoints] == ["P01", "P03", "P04"]
    # a retired id is never handed out again
    _rid5, pid5 = kb.add_painpoint({**body, "title": "另一个新痛点"}, "carol")
    assert pid5 == "P05"
    r_back = kb.restore_entry("painpoints", "P02", 1, "dave")
    assert kbedit.painpoint_data(kb.files(r_back), "P02") == kbedit.painpoint_data(kb.files(1), "P02")
    hist = kb.entry_history("painpoints", "P02")
    assert [(r.id, d.status) for r, d in hist] == [(r_back, "added"), (r_retire, "removed"), (1, "added")]
    whole = kb.restore(1, "erin", "back to the import")
    assert kb.files(whole) == kb.files(1) and kb.store.revision(whole).meta["restored"] == 1  # type: ignore[union-attr]


def test_list_entries_edit_and_validation(kb: KnowledgeBase) -> None:
    techs = kbedit.list_entries(kb.head()[1], "technologies")
    t = dict(techs[0], aliases=[*techs[0]["aliases"], "数据湖"])
    rid = kb.put_entry("technologies", t["id"], t, "frank")
    assert "数据湖" in kb.files(rid)["technologies.yaml"].decode()
    with pytest.raises(EditError) as e:  # a technology still used by approaches
        kb.retire("technologies", t["id"], "frank")
    assert any("unknown technology" in m for _, m in e.value.problems)


def test_export_and_import_round_trip(kb: KnowledgeBase, tmp_path: Path) -> None:
    body = detail(kb, "P01")
    body["keywords"] = [*body["keywords"], "高收益"]
    kb.put_painpoint("P01", body, "gina")
    out = kb.export(2, tmp_path / "exported")
    assert load_corpus(out).digest == kb.store.revision(2).meta["digest"]  # type: ignore[union-attr]
    with pytest.raises(EditError, match="nothing changed"):  # the same content is no revision
        kb.import_dir(out, "gina", "round trip")
    f = out / "painpoints" / "P03.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("title_en:", "title_en: Reaching", 1)
                 .replace("Reaching ", "Reaching ", 1), encoding="utf-8")
    rid = kb.import_dir(out, "gina", "edited in git")
    assert [d.path for d in kb.revision(rid).files] == ["painpoints/P03.yaml"]
    assert kb.store.revision(rid).action == "import"  # type: ignore[union-attr]


def test_concurrent_edits_conflict_instead_of_overwriting(kb: KnowledgeBase) -> None:
    head, files = kb.head()
    kb.put_painpoint("P01", {**detail(kb, "P01"), "title_en": "Harder to find yield"}, "a")
    new = kbedit.put_painpoint(files, "P02", {**detail(kb, "P02"), "title_en": "Deposits"})
    with pytest.raises(RevisionConflict):
        kb.commit(head, new, "b", "stale", "edit")


def test_nothing_assumes_twenty_a_new_entry_on_the_real_corpus_is_p21() -> None:
    files = kbedit.read_dir(CORPUS)
    assert kbedit.next_painpoint_id(files, set()) == "P21"
    body = kbedit.painpoint_data(files, "P05")
    body.pop("id"), body.pop("number")
    body["examples"] = [f"{x}（新）" for x in body["examples"]]
    new = kbedit.put_painpoint(files, "P21", body, create=True)
    corpus = kbedit.validate(new)
    assert corpus.painpoints[-1].id == "P21" and len(corpus.painpoints) == 21
    retired = kbedit.retire_painpoint(new, "P07")
    assert "P07" not in kbedit.validate(retired).by_id
