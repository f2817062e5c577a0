"""The knowledge base's pages: sign-in, CSRF, edit forms with field errors, history with
diffs, retire and restore through forms, the feedback form and the review page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.kbsupport import db_url  # noqa: F401  (fixture)
from tongdian.api.app import create_app
from tongdian.core.config import Settings

TOKEN = "page-token-123"


@pytest.fixture()
def kb_client(db_url: str, tiny_corpus: Path, tiny_engine, tmp_path: Path,  # type: ignore[no-untyped-def]  # noqa: F811
           monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("TONGDIAN_DB_URL", db_url)
    monkeypatch.setenv("TONGDIAN_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("TONGDIAN_GATE_SETS", str(Path(__file__).parent / "fixtures" / "gate_tiny.jsonl"))
    with TestClient(create_app(tiny_engine, Settings(corpus=tiny_corpus, data=tmp_path / "d"))) as c:
        yield c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([A-Za-z0-9_-]{20,})"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def sign_in(c: TestClient) -> str:
    r = c.post("/admin/login", data={"name": "李编辑", "token": TOKEN, "next": "/admin/p/P01/edit"})
    assert r.status_code == 200 and "编辑" in r.text  # followed the redirect to the form
    return csrf_of(r.text)


def test_forms_need_a_session_and_its_csrf_token(kb_client: TestClient) -> None:
    r = kb_client.get("/admin/p/P01/edit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
    r = kb_client.post("/admin/login", data={"name": "x", "token": "wrong"})
    assert r.status_code == 401 and "wrong token" in r.text
    csrf = sign_in(kb_client)
    r = kb_client.post("/admin/p/P01/retire", data={"csrf": "0" * 32}, follow_redirects=False)
    assert r.status_code == 401 and "CSRF" in r.text
    r = kb_client.post("/admin/p/P01/retire", data={"csrf": csrf, "message": "过时"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/history/2"
    kb_client.cookies.clear()  # signed out: the same form post is refused
    r = kb_client.post("/admin/p/P02/retire", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 401


def test_edit_form_saves_a_revision_and_names_a_bad_field(kb_client: TestClient) -> None:
    csrf = sign_in(kb_client)
    form_html = kb_client.get("/admin/p/P02/edit").text
    values = dict(re.findall(r'<input name="(\w+)" value="([^"]*)"', form_html))
    areas = dict(re.findall(r'<textarea name="(\w+)"[^>]*>([^<]*)</textarea>', form_html))
    data = {**values, **areas, "csrf": csrf, "message": "改英文标题"}
    data = {k: v.replace("&amp;", "&").replace("&#34;", '"').replace("&#39;", "'") for k, v in data.items()}
    bad = {**data, "approaches": "只有原文没有技术"}
    r = kb_client.post("/admin/p/P02/edit", data=bad)
    assert r.status_code == 422 and "approaches[0]" in r.text and "没有保存" in r.text
    bad = {**data, "risks": "credit: 原因\nweather: 天气"}
    r = kb_client.post("/admin/p/P02/edit", data=bad)
    assert r.status_code == 422 and "unknown risk id" in r.text
    r = kb_client.post("/admin/p/P02/edit", data={**data, "title_en": "Cheap deposits, <b>fast</b>"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    page = kb_client.get(r.headers["location"]).text
    assert "改英文标题" in page and "李编辑" in page
    assert "<ins>+title_en: Cheap deposits, &lt;b&gt;fast&lt;/b&gt;</ins>" in page  # escaped diff
    hist = kb_client.get("/history?entry=P02").text
    assert "#2" in hist and "#1" in hist
    # restore revision 1 through the form: a third revision equal to the first
    r = kb_client.post("/history/1/restore", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/history/3"


def test_feedback_form_on_the_search_page_and_the_review_page(kb_client: TestClient) -> None:
    page = kb_client.get("/search", params={"q": "存款越来越难拉"}).text
    assert 'action="/feedback"' in page and 'name="correction"' in page
    r = kb_client.post("/feedback", data={"query": "柜台排队太久了<script>", "shown": "P01",
                                       "useful": "false", "correction": "none"})
    assert r.status_code == 201 and "<script>" not in r.text
    assert kb_client.post("/feedback", data={"query": "x", "correction": "P7x"}).status_code == 422
    assert kb_client.get("/admin/feedback", follow_redirects=False).status_code == 303
    csrf = sign_in(kb_client)
    review = kb_client.get("/admin/feedback").text
    assert "柜台排队太久了&lt;script&gt;" in review and "不是痛点" in review
    fid = re.search(r'/admin/feedback/(\d+)/accept', review).group(1)  # type: ignore[union-attr]
    r = kb_client.post(f"/admin/feedback/{fid}/accept", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    rev = kb_client.get(r.headers["location"]).text
    assert "calibration/out_of_scope.yaml" in rev and "柜台排队太久了" in rev
    assert "没有待审核的纠正" in kb_client.get("/admin/feedback").text


@pytest.mark.slow  # publishes: builds and gates an index
def test_accepting_on_the_review_page_improves_the_answer_after_republishing(kb_client: TestClient) -> None:
    query = "手机银行老是闪退，客户投诉很多"  # answered with P02 here, but none of the three
    assert kb_client.get("/api/search", params={"q": query}).json()["matched"]
    page = kb_client.get("/search", params={"q": query}).text
    shown = re.search(r'name="shown" value="([^"]*)"', page).group(1)  # type: ignore[union-attr]
    assert kb_client.post("/feedback", data={"query": query, "shown": shown, "useful": "false",
                                          "correction": "不是痛点"}).status_code == 201
    csrf = sign_in(kb_client)
    review = kb_client.get("/admin/feedback").text
    fid = re.search(r'/admin/feedback/(\d+)/accept', review).group(1)  # type: ignore[union-attr]
    r = kb_client.post(f"/admin/feedback/{fid}/accept", data={"csrf": csrf, "publish": "true"})
    assert r.status_code == 200 and "已发布" in r.text, r.text[-800:]
    assert not kb_client.get("/api/search", params={"q": query}).json()["matched"]


def test_the_catalogue_is_named_by_its_true_count(kb_client: TestClient) -> None:
    """The report's name, "二十大痛点", is for twenty pain points; a knowledge base of three
    (or of twenty-one, after a bank adds its own) is named by its count on every page."""
    pid = kb_client.app.state.engine.corpus.painpoints[0].id  # type: ignore[attr-defined]
    for url in ("/", f"/p/{pid}", "/search?q=%E7%BD%91%E7%82%B9", "/no-such-page"):
        html = kb_client.get(url, headers={"accept": "text/html"}).text
        assert "二十大痛点" not in html, url
        assert "3 个痛点" in html, url
