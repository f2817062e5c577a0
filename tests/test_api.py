"""The JSON API: every route's status, shape and errors, against the real session index.

Outside tools rely on ``results[].id`` and ``results[].score`` of ``/api/search`` and chat
bots forward ``/api/chat``'s Markdown verbatim, so these tests pin the contract, the error
statuses (never a 500 for user input) and the neutralising of user text in Markdown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tongdian.api.app import MAX_BODY_BYTES, create_app
from tongdian.api.chat import chat_markdown, neutralise
from tongdian.core.config import MAX_K, MAX_NOTE_CHARS, MAX_QUERY_CHARS
from tongdian.core.knowledge.schema import RISK_IDS

IDS = [f"P{i:02d}" for i in range(1, 21)]
BRANCHES = "网点太多，运营成本高"  # unambiguously P14
BRIEFING = (
    "我们行在县域的网点越来越冷清，运营成本降不下来；同时小微企业贷款审批要两周，"
    "客户都跑到互联网银行去了。另外下周三要和分管行长开会，预算由总行审批。"
)
NOISE = "今天天气不错，我们去爬山吧"


@pytest.fixture(scope="module")
def client(engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(engine)) as c:
        yield c


def assert_error(r, status: int) -> dict:  # type: ignore[no-untyped-def]
    """Every error is JSON ``{"error": str, "detail": …}`` with the expected status."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error", "detail"}
    assert isinstance(body["error"], str) and body["error"]
    return body


# -- health and OpenAPI --------------------------------------------------------------------


def test_health(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/health")
    assert r.status_code == 200
    h = r.json()
    assert h["status"] == "ok" and h["index_loaded"] is True
    assert h["embedder"] == engine.embedder.spec
    assert re.fullmatch(r"[0-9a-f]{12}", h["corpus_version"])
    assert h["corpus_digest"].startswith(h["corpus_version"])
    assert h["painpoints"] == 20 and h["views"] > 20


def test_openapi_documents_every_json_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths["/api/search"]) == {"get", "post"}
    for p in ("/api/chat", "/api/painpoints", "/api/painpoints/{pid}", "/api/risks",
              "/api/technologies", "/api/health"):
        assert p in paths
    body = paths["/api/search"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"q", "k", "kinds"}  # kinds: which typed answers
    assert "/" not in paths  # pages are not part of the API description


# -- search ------------------------------------------------------------------------------------


def test_search_get_contract(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": BRANCHES, "k": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == BRANCHES and body["matched"] is True
    res = body["results"]
    assert 1 <= len(res) <= 5
    assert res[0]["id"] == "P14"
    for x in res:
        assert x["id"] in IDS
        assert isinstance(x["score"], float)
        assert 0.0 <= x["confidence"] <= 1.0
        assert {"title", "title_en", "evidence", "approaches", "risks", "case"} <= set(x)
        assert {"text", "kind", "matched_terms"} <= set(x["evidence"])
    conf = [x["confidence"] for x in res]
    assert conf == sorted(conf, reverse=True), "results are best first"
    assert res[0]["approaches"] and res[0]["risks"]
    assert body["segments"] == []


def test_scores_decrease_down_the_list_for_briefings(client: TestClient) -> None:
    res = client.post("/api/search", json={"q": BRIEFING}).json()["results"]
    scores = [x["score"] for x in res]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("k", [1, 3, MAX_K])
def test_search_k(client: TestClient, k: int) -> None:
    res = client.get("/api/search", params={"q": BRANCHES, "k": k}).json()["results"]
    assert 1 <= len(res) <= k


def test_search_post_json_and_form_agree(client: TestClient) -> None:
    a = client.post("/api/search", json={"q": BRANCHES, "k": 3}).json()
    b = client.post("/api/search", data={"q": BRANCHES, "k": "3"}).json()
    c = client.get("/api/search", params={"q": BRANCHES, "k": 3}).json()
    ids = [x["id"] for x in a["results"]]
    assert ids == [x["id"] for x in b["results"]] == [x["id"] for x in c["results"]]
    assert len(ids) <= 3


def test_search_briefing_has_segments(client: TestClient) -> None:
    body = client.post("/api/search", json={"q": BRIEFING}).json()
    assert body["matched"] is True
    segs = body["segments"]
    assert len(segs) >= 2
    assert {"text", "matched", "id", "title", "confidence"} <= set(segs[0])
    assert any(s["id"] == "P14" for s in segs if s["matched"])
    assert {x["id"] for x in body["results"][:3]} >= {"P14"}


def test_search_no_good_match(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": NOISE}).json()
    assert body["matched"] is False
    assert "no good match" in body["message"]


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   \n\t "}, {"q": "\x00 \x00"}])
def test_search_empty_query_is_400(client: TestClient, params: dict) -> None:  # type: ignore[type-arg]
    body = assert_error(client.get("/api/search", params=params), 400)
    assert "empty" in body["error"]


def test_search_too_long_is_413(client: TestClient) -> None:
    # GET keeps the short limit (a URL); POST takes whole notes up to MAX_NOTE_CHARS
    long = "网点成本高" * (MAX_QUERY_CHARS // 5 + 1)
    body = assert_error(client.get("/api/search", params={"q": long}), 413)
    assert str(MAX_QUERY_CHARS) in body["error"]
    assert body["detail"]["max_query_chars"] == MAX_QUERY_CHARS
    note = "网点成本高，" * (MAX_NOTE_CHARS // 6 + 1)
    body = assert_error(client.post("/api/search", json={"q": note}), 413)
    assert str(MAX_NOTE_CHARS) in body["error"]
    assert body["detail"]["max_query_chars"] == MAX_NOTE_CHARS
    # a long POST is answered in full and says how much it analysed
    ok = client.post("/api/search", json={"q": long}).json()
    assert ok["chars"] == len(long) and ok["analysed_chars"] == len(long)
    assert ok["truncated"] is False


@pytest.mark.parametrize("k", ["0", "-1", str(MAX_K + 1), "abc", "1.5", ""])
def test_search_bad_k_get_is_422(client: TestClient, k: str) -> None:
    body = assert_error(client.get("/api/search", params={"q": BRANCHES, "k": k}), 422)
    assert body["detail"][0]["loc"] == ["query", "k"]


@pytest.mark.parametrize("k", [0, MAX_K + 1, "abc", None, [1]])
def test_search_bad_k_post_is_422(client: TestClient, k: object) -> None:
    assert_error(client.post("/api/search", json={"q": BRANCHES, "k": k}), 422)


@pytest.mark.parametrize(
    ("content", "ctype", "status"),
    [
        ('{"q": "网点'.encode(), "application/json", 400),  # truncated JSON
        (b"", "application/json", 400),
        (b'{"q": "\xff\xfe"}', "application/json", 400),  # not UTF-8
        (b"[1, 2]", "application/json", 422),
        (b'"just a string"', "application/json", 422),
        (b'{"k": 3}', "application/json", 422),  # no q
        (b'{"q": 42}', "application/json", 422),
        ('{"q": "网点", "evil": 1}'.encode(), "application/json", 422),
        (b"q=x", "text/plain", 415),
        (b"<q>x</q>", "application/xml", 415),
        (b'{"q": "x"}', "", 415),
    ],
)
def test_search_post_bad_bodies(client: TestClient, content: bytes, ctype: str, status: int) -> None:
    headers = {"content-type": ctype} if ctype else {}
    assert_error(client.post("/api/search", content=content, headers=headers), status)


def test_body_over_limit_is_413_declared(client: TestClient) -> None:
    big = json.dumps({"q": "网" * (MAX_BODY_BYTES // 2)}).encode()
    assert len(big) > MAX_BODY_BYTES
    body = assert_error(
        client.post("/api/search", content=big, headers={"content-type": "application/json"}), 413
    )
    assert body["detail"]["limit_bytes"] == MAX_BODY_BYTES


def test_body_over_limit_is_413_chunked(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 1024 + 8):
            yield b" " * 1024

    r = client.post("/api/chat", content=chunks(), headers={"content-type": "application/json"})
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert_error(r, 413)


def test_nul_and_control_characters_are_harmless(client: TestClient) -> None:
    r = client.post("/api/search", json={"q": "网点\x00太多\u202e运营成本高\x07"})
    assert r.status_code == 200
    assert r.json()["results"][0]["id"] == "P14"


def test_wrong_method_and_unknown_route(client: TestClient) -> None:
    assert_error(client.delete("/api/search"), 405)
    assert_error(client.put("/api/chat", json={"message": "x"}), 405)
    assert_error(client.get("/api/nothing-here"), 404)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(max_size=120), k=st.one_of(st.integers(-3, MAX_K + 3), st.text(max_size=3)))
def test_search_never_500(client: TestClient, q: str, k: object) -> None:
    r = client.get("/api/search", params={"q": q, "k": str(k)})
    assert r.status_code in (200, 400, 413, 422), r.text
    if r.status_code != 200:
        assert "error" in r.json()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=200),
                      st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                   lambda c: st.lists(c, max_size=3)
                                   | st.dictionaries(st.sampled_from(["q", "k", "message"]), c,
                                                     max_size=3),
                                   max_leaves=6).map(lambda v: json.dumps(v).encode())))
def test_post_bodies_never_500(client: TestClient, body: bytes) -> None:
    for path in ("/api/search", "/api/chat"):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code in (200, 400, 413, 422), r.text


# -- the corpus routes -----------------------------------------------------------------------


def test_painpoints_list(client: TestClient) -> None:
    body = client.get("/api/painpoints").json()
    assert body["count"] == 20
    assert [p["id"] for p in body["painpoints"]] == IDS
    p = body["painpoints"][3]
    assert p["url"] == "/p/P04" and p["approaches"] and p["technologies"] and p["risks"]
    assert body["filters"] == {"tech": None, "risk": None}
    risk_counts = {f["id"]: f["count"] for f in body["facets"]["risks"]}
    assert set(risk_counts) == set(RISK_IDS)
    for rid, n in risk_counts.items():
        assert n == sum(any(r["id"] == rid for r in p["risks"]) for p in body["painpoints"])


def test_painpoints_facet_filters(client: TestClient) -> None:
    body = client.get("/api/painpoints", params={"tech": "blockchain"}).json()
    assert 0 < body["count"] < 20
    assert all(any(t["id"] == "blockchain" for t in p["technologies"]) for p in body["painpoints"])
    sel = [f for f in body["facets"]["technologies"] if f["selected"]]
    assert [f["id"] for f in sel] == ["blockchain"] and sel[0]["count"] == body["count"]
    both = client.get("/api/painpoints", params={"tech": "blockchain", "risk": "credit"}).json()
    assert both["count"] <= body["count"]
    assert all(any(r["id"] == "credit" for r in p["risks"]) for p in both["painpoints"])
    # the risk facet's counts describe the set the tech filter leaves
    credit = next(f for f in body["facets"]["risks"] if f["id"] == "credit")
    assert credit["count"] == both["count"]


@pytest.mark.parametrize("params", [{"tech": "quantum"}, {"risk": "../../etc"}])
def test_painpoints_unknown_filter_is_400(client: TestClient, params: dict) -> None:  # type: ignore[type-arg]
    body = assert_error(client.get("/api/painpoints", params=params), 400)
    assert "unknown" in body["error"] and body["detail"]["known"]


@pytest.mark.parametrize("pid", ["P04", "p04", "P01", "P20"])
def test_painpoint_detail(client: TestClient, pid: str) -> None:
    r = client.get(f"/api/painpoints/{pid}")
    assert r.status_code == 200
    d = r.json()
    assert d["id"] == pid.upper()
    assert d["approaches"] and d["risks_detail"]
    for rk in d["risks_detail"]:
        assert rk["reason"] and rk["controls"] and rk["fintech_change"]
    assert 1 <= len(d["neighbours"]) <= 3
    assert d["id"] not in {n["id"] for n in d["neighbours"]}


def test_painpoint_detail_case(client: TestClient) -> None:
    d = client.get("/api/painpoints/P04").json()
    assert d["case"] == "bigdata_marketing"
    figures = {f["label"]: f["display"] for f in d["case_detail"]["results"]}
    assert figures["新用户注册"] == "1449个"


@pytest.mark.parametrize(
    "pid", ["P00", "P21", "P4", "P004", "X04", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "P04%00",
            "P04.json", "%E7%BD%91"],
)
def test_painpoint_unknown_is_404(client: TestClient, pid: str) -> None:
    assert_error(client.get(f"/api/painpoints/{pid}"), 404)


def test_risks(client: TestClient) -> None:
    body = client.get("/api/risks").json()
    assert body["count"] == 7
    assert [r["id"] for r in body["risks"]] == list(RISK_IDS)
    for r in body["risks"]:
        assert r["fintech_change"] and r["controls"]
        assert r["painpoints"], f"{r['id']} is carried by no pain point"
        for c in r["painpoints"]:
            assert c["id"] in IDS and c["reason"] and c["url"] == f"/p/{c['id']}"


def test_technologies_matrix(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/technologies").json()
    m = body["matrix"]
    assert m["rows"] == IDS
    assert len(m["columns"]) == body["count"] == len(engine.corpus.technologies)
    assert all(len(row) == len(m["columns"]) for row in m["cells"])
    for i, pp in enumerate(engine.corpus.painpoints):
        assert sum(m["cells"][i]) == sum(len(a.tech) for a in pp.approaches)
    for j, t in enumerate(body["technologies"]):
        assert t["id"] == m["columns"][j]
        assert t["painpoints"] == [IDS[i] for i in range(20) if m["cells"][i][j]]


# -- chat ----------------------------------------------------------------------------------


def test_chat_reply(client: TestClient) -> None:
    r = client.post("/api/chat", json={"message": BRANCHES})
    assert r.status_code == 200
    body = r.json()
    assert body["result"]["results"][0]["id"] == "P14"
    assert body["url"] == "/p/P14"  # no TONGDIAN_PUBLIC_URL: relative, never from Host
    reply = body["reply"]
    assert "**P14 运营有形网点成本高效益低**" in reply
    assert "应对思路" in reply and "关键风险" in reply
    assert "详情：/p/P14" in reply and "testserver" not in reply


def test_chat_accepts_extra_envelope_fields_and_k(client: TestClient) -> None:
    r = client.post("/api/chat", json={"message": BRANCHES, "k": 1, "user": "u1", "ts": 3})
    assert r.status_code == 200
    assert len(r.json()["result"]["results"]) == 1
    assert "2. " not in r.json()["reply"]


def test_chat_public_url(engine) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(engine, public_url="https://tongdian.bank.example/")) as c:
        body = c.post("/api/chat", json={"message": BRANCHES}).json()
    assert body["url"] == "https://tongdian.bank.example/p/P14"
    assert "https://tongdian.bank.example/p/P14" in body["reply"]


def test_chat_no_match(client: TestClient) -> None:
    body = client.post("/api/chat", json={"message": NOISE}).json()
    assert body["result"]["matched"] is False
    assert "没有找到足够匹配" in body["reply"]
    assert body["url"] == "/"


INJECTIONS = [
    "网点太多成本高 [点我](http://evil.example/x) ![img](http://evil.example/i.png)",
    "网点太多成本高 <script>alert(1)</script> <img src=x onerror=alert(1)>",
    "网点太多成本高 `rm -rf` ```code``` **bold** _it_ ~~s~~",
    "网点太多成本高 @all @here <!channel> <@U123> # 标题 > 引用 | 表格 |",
    "网点太多成本高\n# 新标题\n- 列表\n\n[x]: http://evil.example",
]


@pytest.mark.parametrize("message", INJECTIONS)
def test_chat_neutralises_user_text(client: TestClient, message: str) -> None:
    reply = client.post("/api/chat", json={"message": message}).json()["reply"]
    for bad in ("[", "]", "<", ">", "`", "@", "](", "![", "://evil", "~~", "_it_", "\n# "):
        assert bad not in reply, (bad, reply)
    # the only line-start markup is ours: no user line became a heading or a quote
    echoed = reply.splitlines()[0]
    assert echoed.startswith("**痛点匹配**：「") and echoed.endswith("」")


@pytest.mark.parametrize(
    ("payload", "status"),
    [({"message": ""}, 400), ({"message": "  "}, 400), ({}, 422), ({"text": "网点"}, 422),
     ({"message": 5}, 422), ({"message": "网点成本" * MAX_QUERY_CHARS}, 413),
     ({"message": BRANCHES, "k": 0}, 422)],
)
def test_chat_errors(client: TestClient, payload: dict, status: int) -> None:  # type: ignore[type-arg]
    assert_error(client.post("/api/chat", json=payload), status)


def test_chat_markdown_unit(engine) -> None:  # type: ignore[no-untyped-def]
    r = engine.search(BRIEFING, k=3)
    md = chat_markdown(r, "http://h:1/", k=2)
    assert "**分段解读**" in md
    assert "http://h:1/p/P14" in md and "http://h:1//" not in md
    assert md.count("   - 详情：") == 2
    assert "http://h:1/search?q=" in md


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a [b](c) <d> `e`", "a ［b］（c） ＜d＞ ｀e｀"), ("x\n\n# y", "x ＃ y"),
     ("see http://x.y and www.z.com", "see http：//x.y and www．z.com"), ("@all", "＠all")],
)
def test_neutralise(raw: str, expected: str) -> None:
    assert neutralise(raw) == expected


def test_neutralise_truncates() -> None:
    out = neutralise("网" * 500, limit=50)
    assert len(out) == 50 and out.endswith("…")


# -- headers on the API ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/health", "/api/nothing", "/api/search?q="])
def test_api_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
