"""Limits and manners under abuse (issue 24), in process on the three-entry index.

Each test names the defect it pins; each failed on the code before the fix:

- anonymous feedback grew the database without limit (any ``shown`` text, unknown ids,
  revision 2**62, unknown fields all stored), no rate limit, no cap per query;
- deeply nested JSON in knowledge-base writes was a 500 (``json.loads`` recursion);
- an edit of ``risks`` in the GET shape was dropped (``risks_detail`` won);
- HEAD was a 405 on every GET route;
- ``/retrieval`` answered 413 in the house format, not Dify's;
- links in replies were built from the ``Host`` header;
- ``/admin/logout`` took no CSRF token; ``/mcp`` accepted any ``Origin``.

The crash and slow-client halves (kill -9 mid-publish, a body that never finishes) are in
``test_crash.py``: they need processes and sockets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.kbsupport import db_url  # noqa: F401  (fixture)
from tongdian.api.app import create_app
from tongdian.core.config import (
    FEEDBACK_PER_QUERY,
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    MAX_QUERY_CHARS,
    Settings,
)
from tongdian.core.stewardship import feedback as fb
from tongdian.index.revstore import open_store

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOCAL = {"base_url": "http://127.0.0.1", "client": ("127.0.0.1", 50123)}
DEPOSITS = "存款越来越难拉，利率一降客户就跑了"  # P02 of the three-entry index


@pytest.fixture()
def kb_env(db_url: str, tiny_corpus: Path, tmp_path: Path,  # noqa: F811
           monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("TONGDIAN_DB_URL", db_url)
    monkeypatch.setenv("TONGDIAN_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("TONGDIAN_GATE_SETS", str(Path(__file__).parent / "fixtures" / "gate_tiny.jsonl"))
    return Settings(corpus=tiny_corpus, data=tmp_path / "data")


@pytest.fixture()
def kb(kb_env: Settings, tiny_engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(tiny_engine, kb_env), **LOCAL) as c:  # type: ignore[arg-type]
        yield c


@pytest.fixture(scope="module")
def ro(tiny_corpus: Path, tiny_engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """One app for the tests that write nothing (every refusal, HEAD, links, origins)."""
    data = tmp_path_factory.mktemp("ro")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TONGDIAN_DB_URL", f"sqlite:///{data / 'kb.sqlite'}")
        mp.setenv("TONGDIAN_ADMIN_TOKEN", TOKEN)
        app = create_app(tiny_engine, Settings(corpus=tiny_corpus, data=data))
    with TestClient(app, **LOCAL) as c:  # type: ignore[arg-type]
        yield c


@pytest.fixture()
def unlimited(kb_env: Settings, tiny_engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The rate limit out of the way, to reach the caps behind it."""
    s = kb_env.model_copy(update={"feedback_rate": "100000/minute"})
    with TestClient(create_app(tiny_engine, s), **LOCAL) as c:  # type: ignore[arg-type]
        yield c


# -- feedback: strictly validated, rate-limited, capped ------------------------------------------


def _fb(**kw: Any) -> dict[str, Any]:
    return {"query": DEPOSITS, "shown": ["P02", "P01"], "useful": False, **kw}


@pytest.mark.parametrize(("change", "field"), [
    ({"shown": ["P02" + "网" * 12_000]}, "shown"),  # any text was stored as an id
    ({"shown": ["P99"]}, "shown"),  # well-formed, but no pain point of this knowledge base
    ({"shown": ["P02", "P02"]}, "shown"),
    ({"shown": [f"P{i:02d}" for i in range(1, 30)]}, "shown"),
    ({"correction": "p999"}, "correction"),  # a correction naming no pain point
    ({"correction": "P7x"}, "correction"),
    ({"revision": 2**62}, "revision"),  # a revision that was never made
    ({"revision": 99}, "revision"),
    ({"query": "网" * (MAX_QUERY_CHARS + 1)}, "query"),
    ({"source": "admin"}, "source"),
])
def test_feedback_is_validated_strictly(kb: TestClient, change: dict[str, Any], field: str) -> None:
    r = kb.post("/api/feedback", json=_fb(**change))
    assert r.status_code == 422, r.text
    assert field in r.json()["error"] + json.dumps(r.json()["detail"])
    assert kb.get("/api/feedback", headers=AUTH).json()["feedback"] == []


def test_feedback_refuses_unknown_fields_in_plain_words(kb: TestClient) -> None:
    r = kb.post("/api/feedback", json=_fb(note="x" * 5000, admin=True))
    assert r.status_code == 422
    error = r.json()["error"]
    assert error.startswith("unknown fields note, admin") or error.startswith("unknown fields admin, note")
    assert "query, shown, revision, useful, correction, source" in error
    # the page's form too, with its own words
    r = kb.post("/feedback", data={"query": DEPOSITS, "shown": "P02", "bogus": "1"})
    assert r.status_code == 422 and "bogus" in r.text


def test_feedback_that_is_fine_is_stored(kb: TestClient) -> None:
    r = kb.post("/api/feedback", json=_fb(correction="should be p1", revision=1))
    assert r.status_code == 201 and r.json()["correction"] == "P01", r.text
    r = kb.post("/feedback", data={"query": DEPOSITS, "shown": "p02,P01", "correction": "不是痛点"})
    assert r.status_code == 201
    rows = kb.get("/api/feedback", headers=AUTH).json()["feedback"]
    assert [(x["shown"], x["correction"]) for x in rows] == [(["P02", "P01"], "none"),
                                                            (["P02", "P01"], "P01")]


def test_feedback_is_rate_limited_per_client(kb: TestClient, kb_env: Settings, tiny_engine) -> None:  # type: ignore[no-untyped-def]
    for i in range(10):  # the default: 10 a minute
        assert kb.post("/api/feedback", json=_fb(query=f"{DEPOSITS}{i}")).status_code == 201
    r = kb.post("/api/feedback", json=_fb(query="再来一条"))
    assert r.status_code == 429 and "too many writes" in r.json()["error"]
    assert 1 <= int(r.headers["retry-after"]) <= 60
    r = kb.post("/feedback", data={"query": "再来一条"})  # the form shares the budget
    assert r.status_code == 429 and "请求太频繁" in r.text
    # another address has its own budget
    with TestClient(kb.app, base_url="http://127.0.0.1", client=("10.9.8.7", 1)) as other:
        assert other.post("/api/feedback", json=_fb()).status_code == 201


def test_feedback_per_query_is_capped(unlimited: TestClient) -> None:
    for _ in range(FEEDBACK_PER_QUERY):
        assert unlimited.post("/api/feedback", json=_fb()).status_code == 201
    r = unlimited.post("/api/feedback", json=_fb(query=f"  {DEPOSITS} "))  # the same query
    assert r.status_code == 429 and "waiting for review" in r.json()["error"]
    assert unlimited.post("/api/feedback", json=_fb(query="另一个问题")).status_code == 201


def test_open_feedback_in_all_is_capped(unlimited: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fb, "MAX_OPEN_FEEDBACK", 5)
    for i in range(5):
        assert unlimited.post("/api/feedback", json=_fb(query=f"问题{i}")).status_code == 201
    r = unlimited.post("/api/feedback", json=_fb(query="问题x"))
    assert r.status_code == 429 and "review queue is full" in r.json()["error"]


def _db_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.glob("kb.sqlite*"))


#: What 1,000 anonymous feedback posts of maximal size may add to the database: from one
#: client address (the rate limit stores 10 of them; measured +60 KB), and from as many
#: addresses as posts (every one stored, each at most ~6.3 KB; measured +6.1 MB). Before the
#: fix 50 such posts added 12 MB (20 ids of 12,000 characters each), 1,000 would add 240 MB.
ONE_CLIENT_BOUND = 256 * 1024
MANY_CLIENTS_BOUND = 8 * 1024 * 1024


@pytest.mark.parametrize("clients", ["one", pytest.param("many", marks=pytest.mark.slow)])
def test_a_thousand_maximal_anonymous_posts_grow_the_database_by_a_small_bound(
        kb_env: Settings, tiny_engine, monkeypatch: pytest.MonkeyPatch, clients: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TONGDIAN_DB_URL", f"sqlite:///{kb_env.data}/kb.sqlite")
    if clients == "many":  # one post per address: the rate limit never bites, the caps do
        kb_env = kb_env.model_copy(update={"feedback_rate": "100000/minute"})
    with TestClient(create_app(tiny_engine, kb_env), **LOCAL) as c:  # type: ignore[arg-type]
        c.get("/api/revisions")  # the database exists, with revision 1
        before = _db_bytes(Path(str(kb_env.data)))
        statuses: dict[int, int] = {}
        for i in range(1000):
            body = {"query": (f"{i:04d}" + "网点成本高" * MAX_QUERY_CHARS)[:MAX_QUERY_CHARS],
                    "shown": ["P01", "P02", "P03"], "useful": False, "correction": "P03",
                    "revision": 1, "source": "api"}
            r = c.post("/api/feedback", json=body)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        grown = _db_bytes(Path(str(kb_env.data))) - before
        listed = c.get("/api/feedback", headers=AUTH, params={"limit": 5000})
    bound = ONE_CLIENT_BOUND if clients == "one" else MANY_CLIENTS_BOUND
    assert statuses == ({201: 10, 429: 990} if clients == "one" else {201: 1000})
    assert grown <= bound, f"1,000 posts grew the database by {grown} bytes"
    print(f"\n1,000 maximal anonymous feedback posts, {clients} client(s): {statuses}, "
          f"database +{grown} bytes, listing {len(listed.content)} bytes")


# -- no body produces a 500 -----------------------------------------------------------------------

DEEP = b"[" * 10_000 + b"]" * 10_000


DEEP_BODIES = [DEEP, b'{"title": ' + DEEP + b"}", b'{"a":' * 5000 + b"1" + b"}" * 5000,
               b'{"examples": ' + b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1) + b"}"]


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/api/painpoints/P01"), ("POST", "/api/painpoints"), ("PUT", "/api/risks/credit"),
    ("POST", "/api/technologies"), ("PUT", "/api/technologies/big_data"), ("POST", "/api/cases"),
])
def test_deep_json_in_admin_writes_is_a_400_not_a_500(ro: TestClient, method: str, path: str) -> None:
    for body in DEEP_BODIES:
        r = ro.request(method, path, content=body,
                       headers={**AUTH, "content-type": "application/json"})
        assert r.status_code == 400, r.text[:300]
        assert r.json()["error"] == f"JSON body nested deeper than {MAX_JSON_DEPTH} levels"
        assert len(r.content) < 500  # no traceback


def test_depth_is_counted_outside_strings(ro: TestClient) -> None:
    text = "[" * 100 + "网点成本高" + "{" * 100
    r = ro.post("/api/search", json={"q": text})
    assert r.status_code == 200, r.text[:200]


def test_deep_json_on_every_json_route_is_a_4xx(ro: TestClient) -> None:
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    for path in ("/api/search", "/api/chat", "/api/feedback", "/api/brief", "/v1/chat/completions",
                 "/retrieval", "/mcp"):
        r = ro.post(path, content=DEEP, headers=headers)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])


def test_malformed_json_in_admin_writes_is_a_400(ro: TestClient) -> None:
    for raw in (b"{", b"NaN", b'{"title": "\\ud800"}', b"\xff\xfe", b"   "):
        r = ro.put("/api/painpoints/P01", content=raw, headers={**AUTH, "content-type": "application/json"})
        assert r.status_code == 400, (raw, r.status_code, r.text[:200])


# -- GET-shape round trips: what GET returns, PUT accepts and applies in full ---------------------


def _stored(kb: TestClient, rid: int, path: str) -> dict[str, Any]:
    """An entry as a revision stored it (the YAML file, read through the diff's new side)."""
    files = kb.get(f"/api/revisions/{rid}").json()["files"]
    assert [f["path"] for f in files] == [path], files
    return {"diff": files[0]["diff"]}


def test_an_edit_of_risks_in_the_get_shape_is_applied(kb: TestClient) -> None:
    body = kb.get("/api/painpoints/P02").json()
    assert body["risks"] and [r["id"] for r in body["risks"]] == [r["id"] for r in body["risks_detail"]]
    dropped = body["risks"][-1]["id"]
    body["risks"] = body["risks"][:-1]  # edit risks; risks_detail still lists the old ones
    r = kb.put("/api/painpoints/P02", json=body, headers=AUTH)
    assert r.status_code == 200, r.text  # before: 409 "nothing changed"
    diff = _stored(kb, r.json()["revision"], "painpoints/P02.yaml")["diff"]
    assert f"-- id: {dropped}" in diff


def test_an_edit_of_risks_detail_reasons_is_applied(kb: TestClient) -> None:
    body = kb.get("/api/painpoints/P02").json()
    body["risks_detail"][0]["reason"] = "利率下行时存款搬家，流动性缺口扩大"
    r = kb.put("/api/painpoints/P02", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert "+  reason: 利率下行时存款搬家，流动性缺口扩大" in _stored(kb, 2, "painpoints/P02.yaml")["diff"]


def test_risks_and_risks_detail_that_disagree_are_a_422(kb: TestClient) -> None:
    body = kb.get("/api/painpoints/P02").json()
    body["risks"] = body["risks"][:1]
    body["risks_detail"] = body["risks_detail"][1:]
    r = kb.put("/api/painpoints/P02", json=body, headers=AUTH)
    assert r.status_code == 422 and "risks and risks_detail name different risks" in r.json()["error"]


@pytest.mark.parametrize("pid", ["P01", "P02", "P03"])
def test_the_get_shape_round_trips_unchanged_and_every_field_edit_applies(kb: TestClient, pid: str) -> None:
    body = kb.get(f"/api/painpoints/{pid}").json()
    r = kb.put(f"/api/painpoints/{pid}", json=body, headers=AUTH)
    assert r.status_code == 409 and "nothing changed" in r.json()["error"], r.text  # accepted as is
    techs = [t["id"] for t in kb.get("/api/technologies").json()["technologies"]]
    unused = next(t for t in techs if t not in {x["id"] for x in body["approaches"][0]["tech"]})
    body.update(title="改过的标题", title_en="Edited title", summary_en="Edited summary.",
                pain="改过的痛点描述，足够长的一句话。", keywords=[*body["keywords"], "新关键词"],
                source="第九节")
    body["approaches"][0]["text"] = "改过的应对思路"
    body["approaches"][0]["tech"].append({"id": unused, "name": "x", "name_en": "x"})
    r = kb.put(f"/api/painpoints/{pid}", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    diff = _stored(kb, r.json()["revision"], f"painpoints/{pid}.yaml")["diff"]
    for line in ("+title: 改过的标题", "+title_en: Edited title", "+summary_en: Edited summary.",
                 "+pain: 改过的痛点描述，足够长的一句话。", "+- 新关键词", "+  section: 第九节",
                 "+- text: 改过的应对思路", f"+  - {unused}"):
        assert line in diff, (line, diff)


# -- protocol manners -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/health", "/", "/p/P01", "/api/painpoints", "/api/painpoints/P01",
                                  "/api/search?q=" + DEPOSITS, "/search?q=" + DEPOSITS, "/risks",
                                  "/technologies", "/api/risks", "/history", "/openapi.json",
                                  "/static/site.css", "/v1/models", "/docs"])
def test_head_answers_every_get_route(ro: TestClient, path: str) -> None:
    get = ro.get(path)
    head = ro.head(path)
    assert head.status_code == get.status_code == 200, (head.status_code, get.status_code)
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert "default-src 'none'" in head.headers["content-security-policy"]


def test_head_on_a_post_only_route_is_a_405_naming_the_methods(ro: TestClient) -> None:
    r = ro.head("/api/chat")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert "HEAD" in ro.put("/api/health").headers["allow"]


def test_retrieval_speaks_difys_error_format_for_every_error(ro: TestClient) -> None:
    ok = {"knowledge_id": "tongdian", "query": DEPOSITS,
          "retrieval_setting": {"top_k": 2, "score_threshold": 0.0}}
    big = json.dumps({**ok, "query": "x" * MAX_BODY_BYTES}).encode()
    cases = [
        ro.post("/retrieval", content=big, headers={"content-type": "application/json"}),  # 413
        ro.post("/retrieval", content=iter([b" " * 1024] * 300),
                headers={"content-type": "application/json"}),  # 413, chunked
        ro.get("/retrieval"),  # 405
        ro.head("/retrieval"),  # 405, no body
        ro.post("/retrieval", content=DEEP, headers={"content-type": "application/json"}),
        ro.post("/retrieval", json={**ok, "knowledge_id": "x"}),
    ]
    assert [r.status_code for r in cases] == [413, 413, 405, 405, 400, 404]
    for r in cases:
        if r.request.method != "HEAD":
            assert set(r.json()) == {"error_code", "error_msg"}, r.text
            assert isinstance(r.json()["error_code"], int) and r.json()["error_msg"]


EVIL = {"host": "evil.example"}


def test_links_never_come_from_the_host_header(ro: TestClient) -> None:
    chat = ro.post("/api/chat", json={"message": DEPOSITS}, headers=EVIL).json()
    assert chat["url"] == "/p/P02" and "evil" not in chat["reply"]
    assert "/p/P02" in chat["reply"]
    v1 = ro.post("/v1/chat/completions", headers={**EVIL},
                 json={"model": "tongdian", "messages": [{"role": "user", "content": DEPOSITS}]})
    assert v1.status_code in (200, 403)  # a foreign Host is not a local call: refused, or relative
    records = ro.post("/retrieval", json={"knowledge_id": "tongdian", "query": DEPOSITS,
                                          "retrieval_setting": {"top_k": 2, "score_threshold": 0}})
    assert "evil" not in records.text and "/p/P02" in records.text
    brief = ro.get("/api/brief", params={"q": DEPOSITS, "format": "md"}, headers=EVIL)
    assert brief.status_code == 200 and "evil.example" not in brief.text


def test_mcp_links_never_come_from_the_host_header(ro: TestClient) -> None:
    accept = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18"}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "get_painpoint", "arguments": {"id": "P02"}}}
    r = ro.post("/mcp", json=call, headers={**accept, "host": "localhost:9999"})
    assert r.status_code == 200, r.text
    text = r.json()["result"]["content"][0]["text"]
    assert "localhost:9999" not in text and "/p/P02" in text


def test_public_url_still_makes_absolute_links(kb_env: Settings, tiny_engine) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(tiny_engine, kb_env, public_url="https://td.bank.example/")) as c:
        chat = c.post("/api/chat", json={"message": DEPOSITS}, headers=EVIL).json()
    assert chat["url"] == "https://td.bank.example/p/P02" and "evil" not in chat["reply"]


def _sign_in(c: TestClient) -> str:
    r = c.post("/admin/login", data={"name": "李编辑", "token": TOKEN, "next": "/history"})
    assert r.status_code == 200
    m = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert m, "the history page carries the logout form's token"
    return m.group(1)


def test_logout_needs_the_csrf_token(kb: TestClient) -> None:
    csrf = _sign_in(kb)
    r = kb.post("/admin/logout", follow_redirects=False)  # a page elsewhere posting the form
    assert r.status_code == 401 and "CSRF" in r.text
    assert "已登录" in kb.get("/history").text  # still signed in
    r = kb.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    kb.cookies.clear()  # what the browser does with the expired cookie
    assert "已登录" not in kb.get("/history").text
    r = kb.post("/admin/logout", follow_redirects=False)  # signed out already: nothing to do
    assert r.status_code == 303


MCP_CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
MCP_ACCEPT = {"accept": "application/json, text/event-stream"}


@pytest.mark.parametrize(("origin", "ok"), [
    (None, True),  # not a browser
    ("http://localhost:8000", True), ("http://127.0.0.1:3000", True), ("http://[::1]", True),
    ("http://evil.example", False), ("https://localhost.evil.example", False), ("null", False),
    ("file://", False),
])
def test_mcp_checks_origin(ro: TestClient, origin: str | None, ok: bool) -> None:
    headers = {**MCP_ACCEPT, **({"origin": origin} if origin else {})}
    r = ro.post("/mcp", json=MCP_CALL, headers=headers)
    assert (r.status_code == 200) is ok, (origin, r.status_code, r.text[:200])
    if not ok:
        assert r.status_code == 403 and "Origin" in r.json()["error"]


def test_mcp_origins_with_keys_are_the_configured_ones(kb_env: Settings, tiny_engine) -> None:  # type: ignore[no-untyped-def]
    s = kb_env.model_copy(update={"api_keys": ["k1"], "mcp_origins": ["https://chat.bank.example"]})
    app = create_app(tiny_engine, s, public_url="https://td.bank.example/x")
    auth = {**MCP_ACCEPT, "authorization": "Bearer k1"}
    with TestClient(app, **LOCAL) as c:  # type: ignore[arg-type]
        assert c.post("/mcp", json=MCP_CALL, headers=auth).status_code == 200
        for origin, want in (("https://chat.bank.example", 200), ("https://td.bank.example", 200),
                             ("HTTPS://TD.bank.example", 200), ("http://localhost:8000", 403),
                             ("https://chat.bank.example.evil", 403)):
            r = c.post("/mcp", json=MCP_CALL, headers={**auth, "origin": origin})
            assert r.status_code == want, (origin, r.status_code)


def test_feedback_rows_are_bounded_in_size(db_url: str) -> None:  # noqa: F811
    """What one stored row can hold at most, as the docs state it (~6.3 KB)."""
    store = open_store(db_url, Path("/nonexistent"))
    body = fb.FeedbackIn(query="网" * MAX_QUERY_CHARS, shown=[f"P{i:02d}" for i in range(1, 21)],
                         correction="none", useful=True, source="api")
    store.add_revision(None, {"a.txt": b"x"}, "t", "m", "import")
    fid = fb.record(store, body, 1, {f"P{i:02d}" for i in range(1, 21)})
    row = store.feedback_item(fid)
    assert row is not None
    size = len(row.query.encode()) + len(json.dumps(row.shown)) + len(row.correction or "")
    assert size <= 6_300


def test_head_refusals_carry_no_body_either(tiny_engine, tiny_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """A refusal made before routing (auth, body cap) answers HEAD without a body too."""
    with TestClient(create_app(tiny_engine, tiny_settings), client=("10.1.2.3", 1)) as c:
        for path in ("/v1/models", "/retrieval"):
            r = c.head(path)
            assert r.status_code == 403 and r.content == b"", (path, r.status_code, r.content[:80])
        r = c.head("/api/health", headers={"content-length": str(10 * MAX_BODY_BYTES)})
        assert r.status_code == 413 and r.content == b""


@pytest.mark.parametrize("kind", ["risks", "technologies"])
def test_list_entries_round_trip_in_their_get_shape(kb: TestClient, kind: str) -> None:
    entry = kb.get(f"/api/{kind}").json()[kind][0]
    url = f"/api/{kind}/{entry['id']}"
    r = kb.put(url, json=entry, headers=AUTH)
    assert r.status_code == 409 and "nothing changed" in r.json()["error"], r.text
    r = kb.put(url, json={**entry, "name_en": "Edited name"}, headers=AUTH)
    assert r.status_code == 200, r.text
    diff = kb.get(f"/api/revisions/{r.json()['revision']}").json()["files"][0]["diff"]
    assert "+  name_en: Edited name" in diff and diff.count("\n+") == 2, diff  # that line only
