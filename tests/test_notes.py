"""Whole meeting notes on the full index: every problem found and detailed, framing marked,
nothing cut silently, one score whatever the route; multi-problem sentences split.

The 5,000-character note (``tests/data/meeting_note_six_problems.txt``) was written for
this test: a city commercial bank's meeting with six problems (deposits leaking away, a
fraud incident, an old core system, empty branches, slow small-business loans, AML alerts)
between a title, attendance, background, agenda, small talk and next steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tongdian.api.app import create_app
from tongdian.core.config import MAX_NOTE_CHARS, Settings

NOTE = (Path(__file__).parent / "data" / "meeting_note_six_problems.txt").read_text(encoding="utf-8")
SIX = {"P02", "P11", "P19", "P14", "P17", "P13"}
FRAMING_STARTS = ["会议时间", "参会人员", "会谈背景", "议程", "下一步", "会议最后"]


@pytest.fixture(scope="module")
def client(engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    s = Settings(home=tmp_path_factory.mktemp("home"))
    with TestClient(create_app(engine, s)) as c:
        yield c


def test_the_note_is_what_the_issue_asks_for() -> None:
    assert len(NOTE) >= 5000


def test_six_problems_mapped_and_detailed_framing_marked(engine) -> None:  # type: ignore[no-untyped-def]
    r = engine.search(NOTE, 5, MAX_NOTE_CHARS)
    assert r.matched and not r.truncated and r.analysed_chars == r.chars == len(NOTE.strip())
    mapped = {x.id for x in r.results if x.mapped}
    assert mapped >= SIX, f"missing {SIX - mapped}"
    for x in r.results:
        if x.id in SIX:
            assert x.approaches and x.risks and x.confidence >= 0.5, x.id
    # the framing passages are marked and map to nothing
    for start in FRAMING_STARTS:
        segs = [s for s in r.segments if s.text.startswith(start)]
        assert segs, start
        assert all(not s.problem and s.id is None and s.reason for s in segs), segs
    # and no problem passage starts with a separator
    assert not [s.text for s in r.segments if re.match(r"[，,。；;、：:]", s.text)]


def test_page_details_all_six_and_lists_framing(client: TestClient) -> None:
    resp = client.post("/search", data={"q": NOTE, "k": "5"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/r/")
    page = client.get(resp.headers["location"]).text
    detailed = re.findall(r'<li class="result[^"]*" id="r-(P\d\d)">', page)
    assert set(detailed) >= SIX
    assert "不是问题" in page
    # the short permalink, its JSON twin, and the brief from the stored result
    key = resp.headers["location"].rsplit("/", 1)[-1]
    assert client.get(f"/api/r/{key}").json()["chars"] == len(NOTE.strip())
    md = client.get("/api/brief", params={"key": key, "format": "md"}).text
    for pid in SIX:
        assert re.search(rf"^## \d+\. {pid} ", md, re.M), pid


def test_one_text_one_score_by_every_route(client: TestClient) -> None:
    text = "县域网点越来越冷清，运营成本降不下来；\n同时小微企业贷款审批要两周，客户都流失了"
    crlf = text.replace("\n", "\r\n")
    answers = [
        client.get("/api/search", params={"q": text}).json(),
        client.post("/api/search", json={"q": text}).json(),
        client.post("/api/search", data={"q": crlf}).json(),
        client.get("/api/search", params={"q": crlf}).json(),
    ]
    key = [[(x["id"], x["confidence"]) for x in a["results"]] for a in answers]
    assert all(k == key[0] for k in key), key
    # the page shows the same percentages
    page = client.post("/search", data={"q": crlf}, follow_redirects=True).text
    top = answers[0]["results"][0]
    assert f"置信度 {round(top['confidence'] * 100)}%" in page


@pytest.mark.parametrize(("text", "want"), [
    ("我们的存款都流到余额宝了，跨境汇款到账要好几天，网点客流也越来越少", {"P02", "P08", "P14"}),
    ("我們的存款都流到餘額寶了，跨境匯款到帳要好幾天，網點客流也越來越少", {"P02", "P08", "P14"}),
    ("Our deposits keep leaking to money market funds and cross-border payments take days to arrive",
     {"P02", "P08"}),
])
def test_one_sentence_several_problems(engine, text: str, want: set[str]) -> None:  # type: ignore[no-untyped-def]
    r = engine.search(text, 5)
    assert {s.id for s in r.segments if s.problem} == want
    top = {x.id for x in r.results[: len(want)]}
    assert top == want
    assert all(x.confidence >= 0.4 for x in r.results if x.id in want)


#: A second note, written by a session that saw only the report and the issue (never the code,
#: the corpus or the note above), with its six problems and three framing passages as that
#: session labelled them. It was scored once as it came and nothing was tuned on it.
INDEPENDENT = Path(__file__).parent / "data" / "meeting_note_independent.txt"


def test_an_independently_written_note(engine) -> None:  # type: ignore[no-untyped-def]
    import json

    note = INDEPENDENT.read_text(encoding="utf-8")
    label = json.loads(INDEPENDENT.with_suffix(".json").read_text(encoding="utf-8"))
    r = engine.search(note, 5, MAX_NOTE_CHARS)
    assert not r.truncated
    mapped = {x.id for x in r.results if x.mapped}
    assert mapped == set(label["problems"]), mapped
    for frag in label["framing_examples"]:
        segs = [s for s in r.segments if frag.rstrip("。")[:12] in s.text]
        assert segs and all(not s.problem for s in segs), (frag, segs)


#: A short note (425 characters) with four problems told in two or three sentences each, a
#: fifth in one sentence, and framing; written for this test.
NOTE_FOUR = ("会议时间：周二下午。参会人员：零售部、运营部、科技部负责人。"
    "零售部说县域网点的客流一年比一年少，很多网点一天只有十几个客户，房租和人工却一分没少，"
    "几个支行已经连续亏损两年，总行在考虑撤并，但又担心影响当地的服务。"
    "运营部反映反洗钱的可疑交易预警太多，九成以上是误报，每一条都要人工核查，"
    "客户身份资料更新不及时，监管检查时经常被指出问题，合规团队压力很大。"
    "存款方面，定期存款到期后越来越多地流向互联网理财和货币基金，揽储成本一路上涨，"
    "负债成本压不下来，息差越来越薄。"
    "信用卡中心补充说，今年新户活动的预算大半被羊毛党薅走，有团伙用批量注册的手机号和虚假身份申请，"
    "风控规则一调严，正常客户的通过率又掉下来，欺诈损失和客户体验两头都顾不上。"
    "另外科技部提到，全行二十多年积累下来的信贷档案和合同大多还是纸质的，查一份旧合同常常要花上大半天。"
    "会议最后，双方约定下周再碰一次，由零售部牵头整理各部门的数据。"
    "下一步：请咨询团队两周内提交方案，先从网点和反洗钱两块入手。")


def test_a_problem_the_note_discusses_in_two_sentences_is_answered_in_full(engine) -> None:  # type: ignore[no-untyped-def]
    """What ``decide.LONG_NOTE_FULL_CHARS`` (50) is for: at 80, three of these four lose their
    mapping and drop out at k=3; far lower, stray clauses of the test notes get mapped."""
    from tongdian.core.reading.reader import LONG_NOTE_CHARS

    assert len(NOTE_FOUR) > LONG_NOTE_CHARS
    r = engine.search(NOTE_FOUR, 3, MAX_NOTE_CHARS)
    assert {"P13", "P11", "P14", "P02"} <= {x.id for x in r.results if x.mapped}
