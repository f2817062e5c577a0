"""Typed answers on every surface: ``/api/search`` (GET, POST), the page, ``/api/chat``, the CLI.

Fast tier: the app over ``tiny_engine`` (P01–P03, every risk, technology, mode and the case).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tongdian.api.app import create_app

RISK_Q = "报告怎么看系统性风险"
MODES_Q = "银行可以用哪些合作模式引入金融科技"
CASE_Q = "那个案例最后效果怎么样"
COMPARE_Q = "P01和P03有什么区别"
TECH_Q = "区块链有什么风险"
PROBLEM_Q = "存款越拉越贵，揽储的成本压不下来"


@pytest.fixture(scope="module")
def tclient(tiny_engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(tiny_engine)) as c:
        yield c


def test_get_and_post_carry_typed_answers(tclient: TestClient) -> None:
    g = tclient.get("/api/search", params={"q": RISK_Q})
    p = tclient.post("/api/search", json={"q": RISK_Q})
    assert g.status_code == p.status_code == 200
    for body in (g.json(), p.json()):
        assert body["intent"] == "risk"
        head = body["answers"][0]
        assert {"kind", "id", "title", "url", "score", "confidence"} <= set(head)
        assert (head["kind"], head["id"]) == ("risk", "systemic")
        assert head["controls"] and 0 <= head["confidence"] <= 1
        assert "results" in body  # the pain-point ranking is still there for old clients
    assert g.json()["answers"] == p.json()["answers"]


def test_a_problem_description_keeps_results_and_leads_with_its_pain_point(tclient: TestClient) -> None:
    body = tclient.get("/api/search", params={"q": PROBLEM_Q}).json()
    assert body["intent"] == "problem"
    assert body["answers"][0]["kind"] == "painpoint"
    assert body["answers"][0]["id"] == body["results"][0]["id"]


def test_kinds_filter(tclient: TestClient) -> None:
    body = tclient.get("/api/search", params={"q": TECH_Q, "kinds": "technology"}).json()
    assert body["answers"] and {a["kind"] for a in body["answers"]} == {"technology"}
    body = tclient.post("/api/search", json={"q": TECH_Q, "kinds": "risk,painpoint"}).json()
    assert {a["kind"] for a in body["answers"]} <= {"risk", "painpoint"}


@pytest.mark.parametrize("kinds", ["risky", "risk,nope", "<script>"])
def test_unknown_kind_is_422_with_a_message(tclient: TestClient, kinds: str) -> None:
    for r in (tclient.get("/api/search", params={"q": TECH_Q, "kinds": kinds}),
              tclient.post("/api/search", json={"q": TECH_Q, "kinds": kinds})):
        assert r.status_code == 422, r.text
        body = r.json()
        assert set(body) == {"error", "detail"} and "kinds are painpoint" in body["error"]


@pytest.mark.parametrize("payload,status", [
    ({"q": TECH_Q, "kinds": 5}, 422),
    ({"q": TECH_Q, "kinds": ["risk"]}, 422),
    ({"q": TECH_Q, "kinds": "x" * 201}, 422),
    ({"q": "", "kinds": "risk"}, 400),
])
def test_bad_new_fields_are_4xx(tclient: TestClient, payload: dict, status: int) -> None:  # type: ignore[type-arg]
    r = tclient.post("/api/search", json=payload)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error", "detail"}


def test_corrections_are_reported(tclient: TestClient) -> None:
    body = tclient.get("/api/search", params={"q": "信用风线是什么意思"}).json()
    assert body["corrections"][0]["word"] == "信用风险"
    page = tclient.get("/search", params={"q": "信用风线是什么意思"}).text
    assert "按「信用风险」理解" in page


@pytest.mark.parametrize("q,css,words", [
    (RISK_Q, "typed-risk", ["报告提出的管控", "带有此风险的痛点"]),
    (MODES_Q, "typed-cooperation", ["自主研发", "与金融科技公司合作", "投贷联动"]),
    (CASE_Q, "typed-case", ["步骤", "1449", "目标用户画像"]),
    (COMPARE_Q, "typed-compare", ["compare-table", "P01", "P03", "应对思路"]),
    (TECH_Q, "typed-technology", ["用到它的痛点与应对思路", "这些痛点带来的风险"]),
    ("第二个痛点讲的是什么", "typed-painpoint", ["P02", "应对思路"]),
])
def test_the_page_shows_each_kind_in_its_own_form(tclient: TestClient, q: str, css: str,
                                                  words: list[str]) -> None:
    html = tclient.get("/search", params={"q": q}).text
    assert f"typed-answer {css}" in html
    for w in words:
        assert w in html, w


def test_the_page_shows_no_typed_block_for_a_problem(tclient: TestClient) -> None:
    html = tclient.get("/search", params={"q": PROBLEM_Q}).text
    assert "typed-answer" not in html and 'class="results"' in html


def test_user_text_stays_escaped_in_the_typed_block(tclient: TestClient) -> None:
    html = tclient.get("/search", params={"q": "<b>P01</b>讲的是什么"}).text
    assert "typed-painpoint" in html and "<b>P01</b>" not in html


def test_chat_says_the_typed_answer_in_markdown(tclient: TestClient) -> None:
    r = tclient.post("/api/chat", json={"message": MODES_Q})
    assert r.status_code == 200
    reply = r.json()["reply"]
    assert "**报告中的答案（合作模式）**" in reply
    for name in ("自主研发", "与金融科技公司合作", "投贷联动"):
        assert name in reply
    assert "没有找到足够匹配" not in reply


def test_cli_prints_the_typed_answer(tiny_engine, capsys) -> None:  # type: ignore[no-untyped-def]
    from tongdian.cli import print_response

    print_response(tiny_engine.search(CASE_Q))
    out = capsys.readouterr().out
    assert "报告中的答案（案例）" in out and "第一步" in out and "1449" in out
