"""The corpus is faithful to the report, complete, and malformed edits are named precisely."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import CORPUS, DEV_SET, SEED
from tongdian.core.knowledge.corpus import CorpusError, load_corpus
from tongdian.core.knowledge.report import load_sections
from tongdian.core.knowledge.schema import RISK_IDS
from tongdian.core.reading.text import normalize


@pytest.fixture(scope="module")
def corpus():  # type: ignore[no-untyped-def]
    return load_corpus(CORPUS)


def _edit(corpus_dir: Path, name: str, fn) -> Path:  # type: ignore[no-untyped-def]
    path = corpus_dir / "painpoints" / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# -- faithful and complete ---------------------------------------------------------------
@pytest.mark.shared
def test_every_approach_line_of_the_report_is_in_the_corpus(corpus) -> None:  # type: ignore[no-untyped-def]
    sections = load_sections(SEED)
    assert len(sections) == 20
    for sec, pp in zip(sections, corpus.painpoints, strict=True):
        assert pp.id == sec.id and pp.title == sec.title
        assert pp.pain == sec.pain
        assert [a.text for a in pp.approaches] == list(sec.approaches)


@pytest.mark.shared
def test_risk_texts_are_verbatim_from_the_report(corpus) -> None:  # type: ignore[no-untyped-def]
    report = SEED.read_text(encoding="utf-8")
    for r in corpus.risks.values():
        for para in r.report_text.split("\n"):
            body = para.split("：", 1)[1] if para.startswith(("网络与", "欺诈风险")) else para
            body = re.sub(r"^（[^）]*）", "", body)
            assert body in report, f"{r.id}: report_text not found verbatim"


@pytest.mark.shared
def test_seed_hash_is_recorded(corpus) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    assert hashlib.sha256(SEED.read_bytes()).hexdigest() == corpus.source.seed_sha256


def test_shape_of_the_knowledge(corpus) -> None:  # type: ignore[no-untyped-def]
    assert [p.id for p in corpus.painpoints] == [f"P{i:02d}" for i in range(1, 21)]
    assert set(corpus.risks) == set(RISK_IDS)
    assert len(corpus.cooperation) == 3
    case = corpus.cases["bigdata_marketing"]
    figures = {f.display for f in case.results}
    assert {"1449个", "46.45%", "9.73%", "约4%"} <= figures
    assert set(case.painpoints) == {p.id for p in corpus.painpoints if p.case == case.id}
    for p in corpus.painpoints:
        assert len(p.examples) >= 15
        assert any(not re.search(r"[\u4e00-\u9fff]", e) for e in p.examples), f"{p.id}: no English"
        assert p.title_en and p.summary_en and all(a.tech for a in p.approaches)
    slang = {w for p in corpus.painpoints for w in (*p.keywords, *p.aliases)}
    assert {"薅羊毛", "羊毛党", "拉新", "获客"} <= slang


@pytest.mark.shared
def test_corpus_does_not_contain_dev_queries(corpus) -> None:  # type: ignore[no-untyped-def]
    """The dev set measures us; examples that paraphrase it closely would inflate the score."""

    def grams(s: str) -> set[str]:
        s = re.sub(r"\s", "", normalize(s))
        return {s[i : i + 6] for i in range(len(s) - 5)}

    dev = [json.loads(line)["query"] for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]
    texts = [e for p in corpus.painpoints for e in p.examples] + list(corpus.out_of_scope)
    for q in dev:
        gq = grams(q)
        for t in texts:
            gt = grams(t)
            if gq and gt:
                assert len(gq & gt) / min(len(gq), len(gt)) <= 0.5, f"{t!r} is too close to {q!r}"


# -- malformed input names the file and field ----------------------------------------------
def test_yaml_syntax_error_names_the_file(corpus_copy: Path) -> None:
    bad = corpus_copy / "painpoints" / "P07.yaml"
    bad.write_text("id: P07\ntitle: [unclosed\n", encoding="utf-8")
    with pytest.raises(CorpusError) as e:
        load_corpus(corpus_copy)
    assert "P07.yaml" in str(e.value) and "YAML" in str(e.value)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("pain"), "field pain: Field required"),
        (lambda d: d.update(title="  "), "field title"),
        (lambda d: d["risks"][0].update(id="weather"), "field risks[0].id: unknown risk id 'weather'"),
        (lambda d: d["approaches"][1].update(tech=["telepathy"]), "field approaches[1].tech: unknown technology id 'telepathy'"),
        (lambda d: d.update(examples=d["examples"][:3]), "field examples: List should have at least 15"),
        (lambda d: d.update(id="P09"), "does not match"),
        (lambda d: d.update(colour="blue"), "field colour: Extra inputs are not permitted"),
        (lambda d: d["examples"].append(d["examples"][0]), "duplicate example"),
        (lambda d: d["risks"].append(dict(d["risks"][0])), "listed twice"),
        (lambda d: d["examples"].append("我们的个人客户精准低成本营销做得不好"), "reuses the title's words"),
    ],
)
def test_invalid_painpoint_names_file_and_field(corpus_copy: Path, mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    _edit(corpus_copy, "P04.yaml", mutate)
    with pytest.raises(CorpusError) as e:
        load_corpus(corpus_copy)
    msg = str(e.value)
    assert "P04.yaml" in msg
    assert expected in msg


def test_missing_risk_and_unknown_case_are_reported(corpus_copy: Path) -> None:
    risks = corpus_copy / "risks.yaml"
    data = yaml.safe_load(risks.read_text(encoding="utf-8"))
    data["risks"] = [r for r in data["risks"] if r["id"] != "systemic"]
    risks.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"risks.yaml[\s\S]*missing the traditional risk\(s\) \['systemic'\]"):
        load_corpus(corpus_copy)


def test_duplicate_technology_id(corpus_copy: Path) -> None:
    tech = corpus_copy / "technologies.yaml"
    data = yaml.safe_load(tech.read_text(encoding="utf-8"))
    data["technologies"].append(dict(data["technologies"][0]))
    tech.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"technologies.yaml[\s\S]*duplicate id big_data"):
        load_corpus(corpus_copy)


def test_bad_userdict_line(corpus_copy: Path) -> None:
    d = corpus_copy / "dict" / "finance_userdict.txt"
    d.write_text(d.read_text(encoding="utf-8") + "\n两个 词 在 一行 乱写\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"finance_userdict.txt[\s\S]*两个 词"):
        load_corpus(corpus_copy)


def test_digest_changes_with_content(corpus_copy: Path) -> None:
    before = load_corpus(corpus_copy).digest
    _edit(corpus_copy, "P01.yaml", lambda d: d["examples"].append("新增的一条示例：好项目越来越少了"))
    assert load_corpus(corpus_copy).digest != before
