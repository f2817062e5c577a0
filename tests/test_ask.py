"""Questions about the report: references, typos, acronyms, routing, and the ask dev set.

Unit tests run on the three-entry ``tiny_engine`` (P01–P03 with every risk, technology,
mode and the case); the floor on the public ask set needs the full ``engine`` (slow tier).
"""

from __future__ import annotations

import pytest

from tests.conftest import CORPUS, PROJECT_ROOT
from tongdian.core.evaluation.ask_eval import evaluate_ask, hit_at, is_ask_set, load_ask_set
from tongdian.core.knowledge.corpus import load_corpus
from tongdian.core.knowledge.references import find_mode_ordinal, find_references, zh_number
from tongdian.core.ranking.decide import decide
from tongdian.core.reading.spelling import Speller, confusable
from tongdian.core.reading.text import Tokenizer

IDS = [f"P{i:02d}" for i in range(1, 21)]
ASK_DEV = PROJECT_ROOT / "bench" / "data" / "ask_dev.jsonl"
#: Written by a session that saw only the report and the issue, never the code or corpus.
ASK_INDEP = PROJECT_ROOT / "bench" / "data" / "ask_indep.jsonl"
#: A second set (80), written later by another session that saw only the report and the
#: issue; scored as it came: hit@3 0.975. Eight of our corpus questions, written before it,
#: turned out to sit within the copy guard's cosine of its questions by chance; reworded, the
#: unseen score is 0.963 (three misses: a risk question in a bank's own voice, "第三种合作模式",
#: a mis-selling question).
ASK_INDEP2 = PROJECT_ROOT / "bench" / "data" / "ask_indep2.jsonl"
#: A third (60), written by a third session after the fixes the second set pointed to, and
#: scored as it came on that code: hit@3 0.950 (misses: "合作有几种模式", an English question
#: about the case, an English question about co-investing with VCs the writer marked arguable).
ASK_INDEP3 = PROJECT_ROOT / "bench" / "data" / "ask_indep3.jsonl"
#: The acceptance line of issue 10: the right typed item among the first three answers.
ASK_HIT3_FLOOR = 0.95


# -- references ------------------------------------------------------------------------------
@pytest.mark.parametrize("text,want", [
    ("p7", ("P07",)), ("P07讲什么", ("P07",)), ("p 12 的对策", ("P12",)),
    ("第七个痛点", ("P07",)), ("第7个是啥", ("P07",)), ("报告的第二十条痛点", ("P20",)),
    ("痛点七", ("P07",)), ("痛点 13 的风险", ("P13",)), ("七、那一条", ("P07",)),
    ("the seventh pain point", ("P07",)), ("pain point 7", ("P07",)), ("the 7th one", ("P07",)),
    ("「十二、」这条讲什么", ("P12",)), ("第三个和第十一个痛点差在哪", ("P03", "P11")),
    ("第4条与第15条有什么不同", ("P04", "P15")),
])
def test_a_pain_point_is_named_by_number_in_any_form(text: str, want: tuple[str, ...]) -> None:
    assert find_references(text, IDS).ids == want


@pytest.mark.parametrize("text", [
    "p2p平台的坏账", "第一步做什么", "第二种合作方式", "第二个原因是审批慢",
    "一、网点冷清；二、审批太慢", "我们app5月份的活跃度", "p21是什么",
    "我们有两件事，第一个和第二个都跟网点有关",
])
def test_numbers_that_are_not_references_are_left_alone(text: str) -> None:
    assert find_references(text, IDS).ids == ()


def test_two_numbers_with_a_comparison_word_are_a_comparison() -> None:
    r = find_references("p03跟p09差在哪里，对比一下", IDS)
    assert r.ids == ("P03", "P09") and r.compare
    assert find_references("pain points 4 vs 11", IDS).ids == ("P04", "P11")


def test_titles_and_short_titles_name_pain_points() -> None:
    titles = {"P10": ["农业金融的低效益与高风险", "农业金融"], "P11": ["个人金融服务中的反欺诈", "反欺诈"]}
    assert find_references("农业金融的低效益与高风险怎么破", IDS, titles).ids == ("P10",)
    assert find_references("反欺诈那一条的技术", IDS, titles).ids == ("P11",)
    # a short title without a word pointing at the report is a problem to rank, not a name
    assert find_references("反欺诈压力很大", IDS, titles).ids == ()


@pytest.mark.parametrize(("text", "place"), [
    ("第二种合作模式讲的是什么", 2), ("模式三怎么落地", 3), ("第1种方式", 1),
    ("what is the third cooperation mode", 3), ("the second way", 2),
    ("第二个痛点", None), ("模式12", None), ("第三步是什么", None),
])
def test_cooperation_modes_by_their_place(text: str, place: int | None) -> None:
    assert find_mode_ordinal(text) == place


def test_chinese_numerals() -> None:
    assert [zh_number(s) for s in ("七", "十", "十四", "二十", "一百零三", "18")] == [7, 10, 14, 20, 103, 18]
    assert zh_number("七八九x") is None


# -- spelling -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def speller() -> Speller:
    c = load_corpus(CORPUS)
    tok = Tokenizer(c.userdict, c.synonyms)
    vocab = ["风控", "风险", "供应链", "供应链金融", "区块链", "反洗钱", "系统性风险", "网点"]
    return Speller(vocab, tok)


@pytest.mark.parametrize("typed,word", [
    ("小微贷款的风空做不好", "风控"), ("供应连上的核心企业", "供应链"),
    ("区块连技术", "区块链"), ("反洗前系统太老", "反洗钱"),
])
def test_a_one_character_typo_that_sounds_right_is_corrected(speller: Speller, typed: str, word: str) -> None:
    fixes = speller.fixes(typed)
    assert [f.word for f in fixes] == [word]
    assert f"按「{word}」理解" in fixes[0].message
    assert word in Speller.apply(typed, fixes)


@pytest.mark.parametrize("text", [
    "网店的流量越来越贵",   # 网店 is a word of its own, not a typo of 网点
    "风控做得不错",          # already right
    "今天天气很好，风很大",  # no domain word near
])
def test_correct_or_unrelated_text_is_left_alone(speller: Speller, text: str) -> None:
    assert speller.fixes(text) == []


def test_confusable_characters() -> None:
    assert confusable("空", "控") and confusable("连", "链") and confusable("贷", "货")
    assert not confusable("风", "雨") and not confusable("控", "控")


# -- the engine's routing (tiny corpus: P01–P03) --------------------------------------------
def test_a_number_lookup_answers_with_that_pain_point(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = tiny_engine.search("第二个痛点讲的是什么")
    assert r.intent == "painpoint"
    assert (r.answers[0].kind, r.answers[0].id) == ("painpoint", "P02")
    assert r.answers[0].approaches and r.answers[0].risks


def test_a_comparison_puts_both_pain_points_first(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = tiny_engine.search("P01和P03有什么区别")
    assert r.intent == "compare"
    assert [(a.kind, a.id) for a in r.answers[:2]] == [("painpoint", "P01"), ("painpoint", "P03")]


def test_a_risk_question_answers_with_the_risk(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = tiny_engine.search("报告怎么看系统性风险")
    assert r.intent == "risk" and r.answers[0].id == "systemic"
    assert r.answers[0].controls  # its link is the web layer's (tests/test_links.py)
    assert r.message == "报告中的答案：系统性风险"


def test_a_cooperation_question_answers_with_all_three_modes(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = tiny_engine.search("银行可以用哪些合作模式引入金融科技")
    assert r.intent == "cooperation"
    assert {a.id for a in r.answers[:3]} == {"in_house", "partnership", "invest_and_lend"}
    assert [a.order for a in r.answers[:3]] == [1, 2, 3]


def test_a_case_question_answers_with_steps_and_figures(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = tiny_engine.search("那个案例最后效果怎么样")
    assert r.intent == "case"
    head = r.answers[0]
    assert head.kind == "case" and len(head.steps) == 3 and any("1449" in f.display for f in head.figures)


def test_a_technology_risk_question_answers_with_the_technology(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = tiny_engine.search("区块链有什么风险")
    assert r.intent == "technology" and r.answers[0].id == "blockchain"


def test_a_problem_description_keeps_pain_points_first_and_results_unchanged(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    text = "存款越拉越贵，揽储的成本压不下来"
    r = tiny_engine.search(text)
    assert r.intent == "problem"
    assert r.answers[0].kind == "painpoint" and r.answers[0].id == r.results[0].id
    # the ranking alone, before any typed answer: stages 1-3 of the pipeline
    reading = tiny_engine.reader.read(text)
    verdict = decide(reading, tiny_engine.parts.rank(reading), 5, tiny_engine.ranker.threshold)
    assert [x.id for x in r.results] == [tiny_engine.corpus.painpoints[p.entry].id for p in verdict.picks]
    assert [x.confidence for x in r.results] == [round(p.confidence, 4) for p in verdict.picks]


@pytest.mark.parametrize(("text", "kind", "iid"), [
    ("报告里的第二种合作模式怎么理解", "cooperation", "partnership"),  # a mode by its place
    ("我们的产品创新走在监管前面，会踩到什么风险", "risk", "legal_compliance"),  # bank's voice
    ("知识图谱到底干嘛的", "technology", "knowledge_graph"),  # 干嘛 asks
    ("流动性风险 变化", "risk", "liquidity"),  # a terse search-box query naming a risk
    ("区块链 应用场景", "technology", "blockchain"),  # ...a technology, with a word that asks
    ("生物识别对柜面有什么好处", "technology", "biometrics"),  # what good a technology does
    ("what are the benefits of biometrics for a bank", "technology", "biometrics"),
])
def test_questions_lead_with_the_item_they_ask_about(tiny_engine, text: str, kind: str, iid: str) -> None:  # type: ignore[no-untyped-def]
    head = tiny_engine.search(text).answers[0]
    assert (head.kind, head.id) == (kind, iid)


def test_a_terse_technology_name_alone_is_still_a_problem(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = tiny_engine.search("大数据风控")  # names a technology, asks nothing about it
    assert r.intent == "problem" and r.answers[0].kind == "painpoint"


def test_a_typo_is_corrected_and_said(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = tiny_engine.search("信用风线是什么意思")
    assert [c.word for c in r.corrections] == ["信用风险"]
    assert r.corrections[0].message == "「信用风线」按「信用风险」理解"
    assert r.intent == "risk" and r.answers[0].id == "credit"
    assert r.query == "信用风线是什么意思"  # the user's own text is echoed, not the correction


def test_every_text_is_read_once_and_ranked_once_with_its_typos_corrected(tiny_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tongdian.core.config import MAX_NOTE_CHARS
    from tongdian.core.reading.reader import LONG_NOTE_CHARS

    calls: list[str] = []
    inner = tiny_engine.parts.rank
    monkeypatch.setattr(tiny_engine.parts, "rank", lambda reading: calls.append(reading.read) or inner(reading))
    para = "县里网点的客流一年比一年少，房租和人工却一分没降。"
    note = para * (LONG_NOTE_CHARS // len(para) + 1) + "另外小微企业的信用风线也越来越难判断。"
    r = tiny_engine.search(note, 5, MAX_NOTE_CHARS)
    assert calls == [note.replace("信用风线", "信用风险")]  # the note as written, typo corrected
    assert [c.word for c in r.corrections] == ["信用风险"]
    short = tiny_engine.search("小微企业的信用风线越来越难判断")
    assert [c.word for c in short.corrections] == ["信用风险"]
    assert calls[1:] == ["小微企业的信用风险越来越难判断"]
    assert short.query == "小微企业的信用风线越来越难判断"  # the user's own text is echoed


def test_a_typo_is_corrected_where_it_was_written_and_the_rest_kept_verbatim(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    read = tiny_engine.reader.read("我們的ＢＩ團隊說：信用風線越來越難判斷").read
    assert read == "我們的ＢＩ團隊說：信用风险越來越難判斷"  # Traditional and full width kept


def test_an_acronym_is_spelled_out_for_the_typed_answers_not_the_ranking(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    reading = tiny_engine.reader.read("KYC流程太长")
    assert "客户身份识别" in reading.expansion and reading.read == "KYC流程太长"  # neither ranked nor shown
    assert tiny_engine.reader.read("我们的kycx系统").expansion == ""
    r = tiny_engine.search("NLP在报告里用在哪")
    assert r.intent == "technology" and r.answers[0].id == "nlp"


# -- the ask set and its scorer -------------------------------------------------------------
def test_the_ask_set_is_recognised_and_covers_every_kind() -> None:
    assert is_ask_set(ASK_DEV)
    qs = load_ask_set(ASK_DEV)
    assert len(qs) >= 60
    assert {q.kind for q in qs} == {"painpoint", "risk", "technology", "cooperation", "case"}
    assert {"typo", "acronym", "compare", "number", "en"} <= {q.form for q in qs}
    assert len({q.id for q in qs}) == len(qs)


def test_hit_at_k_needs_every_expected_item() -> None:
    from tongdian.core.answers.models import TypedAnswer
    from tongdian.core.evaluation.ask_eval import AskQuery

    def a(kind: str, i: str) -> TypedAnswer:
        return TypedAnswer(kind=kind, id=i, title=i, title_en=i, url="/", score=0, confidence=0.5,
                           matched="")

    q = AskQuery(id="X1", q="x", kind="painpoint", expected_id=["P05", "P12"])
    assert hit_at(q, [a("painpoint", "P05"), a("risk", "credit"), a("painpoint", "P12")], 3)
    assert not hit_at(q, [a("painpoint", "P05"), a("risk", "credit"), a("painpoint", "P12")], 2)
    assert not hit_at(q, [a("risk", "P05"), a("painpoint", "P12")], 3)  # the kind must match too
    rep = evaluate_ask([q], lambda text: [a("painpoint", "P12")])
    assert rep["metrics"]["hit@3"] == 0.0 and rep["failures"][0]["id"] == "X1"


def test_ask_set_floor(engine) -> None:  # type: ignore[no-untyped-def]
    rep = evaluate_ask(load_ask_set(ASK_DEV), lambda text: engine.search(text, k=10).answers)
    assert rep["metrics"]["hit@3"] >= ASK_HIT3_FLOOR, rep["failures"]
    for kind, m in rep["per_kind"].items():
        assert m["hit@3"] >= 0.85, (kind, rep["failures"])


@pytest.mark.parametrize("half,floor", [
    # scored 0.943 never tuned on (two misses of 35: an AML question the writer marked as
    # arguable, "第几种模式"); the floor leaves one more miss
    ("held-out", 0.91),
    # 0.914 on first sight; 1.000 after the quoted "九、", "第六个和第十七个" and English-length fixes
    ("tune", 0.94),
])
def test_independent_ask_set_floor(engine, half: str, floor: float) -> None:  # type: ignore[no-untyped-def]
    """The set written independently of the corpus, split by id like real_dev (odd ids tune)."""
    qs = [q for q in load_ask_set(ASK_INDEP) if (int(q.id[1:]) % 2 == 1) == (half == "tune")]
    rep = evaluate_ask(qs, lambda text: engine.search(text, k=10).answers)
    assert len(qs) == 35 and rep["metrics"]["hit@3"] >= floor, rep["failures"]


def test_second_independent_ask_set_floor(engine) -> None:  # type: ignore[no-untyped-def]
    """0.963 unseen; 0.988 after general fixes its misses pointed to (cooperation modes by
    their place, "什么风险" asked in a bank's voice, "干嘛/怎么回事" as question words, terse
    "知识图谱 应用"). The floor leaves one more miss than today."""
    rep = evaluate_ask(load_ask_set(ASK_INDEP2), lambda text: engine.search(text, k=10).answers)
    assert rep["metrics"]["n"] == 80 and rep["metrics"]["hit@3"] >= 0.975, rep["failures"]
    for kind, m in rep["per_kind"].items():
        assert m["hit@3"] >= 0.9, (kind, rep["failures"])


def test_third_independent_ask_set_floor(engine) -> None:  # type: ignore[no-untyped-def]
    """0.950 unseen; 0.983 with "几种模式" and "marketing case" as names of their items."""
    rep = evaluate_ask(load_ask_set(ASK_INDEP3), lambda text: engine.search(text, k=10).answers)
    assert rep["metrics"]["n"] == 60 and rep["metrics"]["hit@3"] >= 0.966, rep["failures"]


def test_a_broken_ask_file_names_the_file_and_field(corpus_copy) -> None:  # type: ignore[no-untyped-def]
    from tongdian.core.answers.ask import load_ask
    from tongdian.core.knowledge.corpus import CorpusError

    f = corpus_copy / "ask.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("  credit:\n", "  credti:\n", 1), encoding="utf-8")
    with pytest.raises(CorpusError) as e:
        load_ask(load_corpus(corpus_copy))
    assert "ask.yaml" in str(e.value) and "risks.credti" in str(e.value)


def test_every_item_of_the_corpus_has_example_questions() -> None:
    from tongdian.core.answers.ask import load_ask

    c = load_corpus(CORPUS)
    f = load_ask(c)
    assert set(f.risks) == set(c.risks) and set(f.technologies) == set(c.technologies)
    assert set(f.cooperation) == {m.id for m in c.cooperation} | {"overview"}
    assert set(f.cases) == set(c.cases)
    for section in (f.risks, f.technologies, f.cooperation, f.cases):
        for iid, item in section.items():
            assert len(item.questions) >= 3, iid


class _Counting:
    """An embedder that counts the texts it is asked to embed."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.n = inner, 0
        self.spec, self.dim, self.version = inner.spec, inner.dim, inner.version

    def embed_queries(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.n += len(texts)
        return self.inner.embed_queries(texts)


def test_the_index_stores_the_example_questions_so_opening_embeds_none(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from tongdian.core.answers.ask import Asker, example_questions

    e = tiny_engine
    questions = example_questions(e.corpus)
    assert set(e.index.ask_vectors) == set(questions) and len(questions) > 100
    problems = e.evidence.dense.vectors()[e.evidence.view_is_example]
    counting = _Counting(e.embedder)
    stored = Asker(e.corpus, counting, problems, e.answers, e.index.ask_vectors)  # type: ignore[arg-type]
    assert counting.n == 0
    # an index built before the vectors were stored (or an ask file edited since): embedded here
    fresh = Asker(e.corpus, counting, problems, e.answers, {})  # type: ignore[arg-type]
    assert counting.n == len(set(questions))
    assert np.allclose(stored.q_vecs, fresh.q_vecs, atol=1e-5)
