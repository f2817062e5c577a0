"""The routes chat platforms call — ``/v1`` (OpenAI-compatible), ``/retrieval`` (Dify) and
``/mcp`` — in process, on the three-entry fixture index (fast tier).

What is pinned: who may call them (keys, or loopback only), each client's wire shape and
error dialect, that the answers are ``/api/search``'s and ``/api/chat``'s, and that bad
input is a 4xx. ``test_chat_tools_live.py`` drives the real clients over real sockets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mcp import Client
from mcp_types import TextResourceContents

from tongdian.api.app import create_app
from tongdian.api.auth import bearer_token, local_call
from tongdian.api.routes.dify import _one
from tongdian.core.config import MAX_QUERY_CHARS, Settings, settings_env
from tongdian.core.search.engine import Engine

DEPOSITS = "存款越来越难拉，都跑去余额宝了"  # P02 in the tiny corpus
NOISE = "今天天气不错，我们去爬山吧"
LOCAL = {"base_url": "http://127.0.0.1", "client": ("127.0.0.1", 50123)}
KEYS = ["key-one", "key-two"]


def dify_body(query: str = DEPOSITS, top_k: int = 3, threshold: float = 0.0,
              **extra: Any) -> dict[str, Any]:
    return {"knowledge_id": "tongdian", "query": query,
            "retrieval_setting": {"top_k": top_k, "score_threshold": threshold}, **extra}


def chat_body(text: str = DEPOSITS, **extra: Any) -> dict[str, Any]:
    return {"model": "tongdian", "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture(scope="module")
def local(tiny_engine: Engine, tiny_settings: Settings) -> Iterator[TestClient]:
    """No keys configured, called from this machine: the machine routes answer."""
    with TestClient(create_app(tiny_engine, tiny_settings), **LOCAL) as c:  # type: ignore[arg-type]
        yield c


@pytest.fixture(scope="module")
def remote(tiny_engine: Engine, tiny_settings: Settings) -> Iterator[TestClient]:
    """No keys configured, called from another host: refused."""
    with TestClient(create_app(tiny_engine, tiny_settings),
                    client=("10.1.2.3", 40000)) as c:
        yield c


@pytest.fixture(scope="module")
def keyed(tiny_engine: Engine, tiny_settings: Settings) -> Iterator[TestClient]:
    """Keys configured, called from another host."""
    s = tiny_settings.model_copy(update={"api_keys": KEYS})
    with TestClient(create_app(tiny_engine, s), client=("10.1.2.3", 40000)) as c:
        yield c


def auth(key: str = KEYS[1]) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


# -- keys and loopback -------------------------------------------------------------------------


def test_keys_from_the_environment_are_comma_separated(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("TONGDIAN_API_KEYS", " a1, b2,,")
    keyfile = tmp_path / "keys"
    keyfile.write_text("# ops keys\nc3\n\n  d4  # rotated 2026-11\n", encoding="utf-8")
    monkeypatch.setenv("TONGDIAN_API_KEYS_FILE", str(keyfile))
    s = Settings()
    assert s.api_keys == ["a1", "b2"]
    assert s.machine_keys() == {"a1", "b2", "c3", "d4"}
    # workers get the same keys back through the environment
    assert settings_env(s)["TONGDIAN_API_KEYS"] == "a1,b2"
    monkeypatch.setenv("TONGDIAN_API_KEYS", settings_env(s)["TONGDIAN_API_KEYS"])
    assert Settings().api_keys == ["a1", "b2"]
    monkeypatch.delenv("TONGDIAN_API_KEYS")
    monkeypatch.delenv("TONGDIAN_API_KEYS_FILE")
    assert Settings().machine_keys() == frozenset()


def test_a_missing_keys_file_stops_start_up(tiny_engine: Engine, tiny_settings: Settings,
                                            tmp_path: Path) -> None:
    s = tiny_settings.model_copy(update={"api_keys_file": tmp_path / "nope"})
    with pytest.raises(OSError):
        create_app(tiny_engine, s)


@pytest.mark.parametrize(("client", "host", "extra", "ok"), [
    (("127.0.0.1", 1), "127.0.0.1:8000", {}, True),
    (("127.0.0.1", 1), "localhost", {}, True),
    (("::1", 1), "[::1]:8000", {}, True),
    (("10.0.0.5", 1), "127.0.0.1:8000", {}, False),
    (("127.0.0.1", 1), "kb.bank.example", {}, False),  # a proxy passing the public name on
    (("127.0.0.1", 1), "127.0.0.1:8000", {b"x-forwarded-for": b"10.9.9.9"}, False),
    (("127.0.0.1", 1), "127.0.0.1:8000", {b"forwarded": b"for=10.9.9.9"}, False),
    (None, "127.0.0.1", {}, False),
])
def test_what_counts_as_a_local_call(client: tuple[str, int] | None, host: str,
                                     extra: dict[bytes, bytes], ok: bool) -> None:
    scope = {"client": client, "headers": [(b"host", host.encode()), *extra.items()]}
    assert local_call(scope) is ok


@pytest.mark.parametrize(("header", "token"), [
    (None, None), (b"Bearer abc", "abc"), (b"bearer  abc ", "abc"), (b"Basic abc", ""),
    (b"Bearer", ""), (b"Bearer a b", ""), (b"abc", ""),
])
def test_bearer_token_parsing(header: bytes | None, token: str | None) -> None:
    headers = [] if header is None else [(b"authorization", header)]
    assert bearer_token({"headers": headers}) == token


def test_without_keys_other_hosts_are_refused_everywhere(remote: TestClient) -> None:
    r = remote.get("/v1/models")
    assert r.status_code == 403
    assert "TONGDIAN_API_KEYS" in r.json()["error"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    r = remote.post("/v1/chat/completions", json=chat_body())
    assert r.status_code == 403
    r = remote.post("/retrieval", json=dify_body())
    assert r.status_code == 403 and r.json()["error_code"] == 1002
    assert remote.post("/mcp", json={}).status_code == 403
    # the pages and /api stay open: people read them in a browser
    assert remote.get("/api/search", params={"q": DEPOSITS}).status_code == 200


def test_with_keys_a_key_is_needed_and_enough(keyed: TestClient) -> None:
    r = keyed.get("/v1/models")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert set(r.json()) == {"error", "detail"}
    assert keyed.get("/v1/models", headers=auth("wrong")).status_code == 401
    assert keyed.get("/v1/models", headers={"authorization": "Basic a2V5LW9uZQ=="}).status_code == 401
    assert keyed.get("/v1/models", headers=auth(KEYS[0])).status_code == 200
    assert keyed.get("/v1/models", headers=auth(KEYS[1])).status_code == 200
    assert keyed.post("/mcp", json={}).status_code == 401


def test_with_keys_loopback_needs_a_key_too(tiny_engine: Engine, tiny_settings: Settings) -> None:
    s = tiny_settings.model_copy(update={"api_keys": KEYS})
    with TestClient(create_app(tiny_engine, s), **LOCAL) as c:  # type: ignore[arg-type]
        assert c.get("/v1/models").status_code == 401
        assert c.get("/v1/models", headers=auth()).status_code == 200


@pytest.mark.parametrize(("headers", "code"), [
    ({}, 1001),
    ({"authorization": "Token key-one"}, 1001),
    ({"authorization": "Bearer"}, 1001),
    ({"authorization": "Bearer not-a-key"}, 1002),
])
def test_dify_auth_errors_are_difys(keyed: TestClient, headers: dict[str, str], code: int) -> None:
    r = keyed.post("/retrieval", json=dify_body(), headers=headers)
    assert r.status_code == 403  # what Dify's spec documents, and what its save check reads
    assert r.json()["error_code"] == code and set(r.json()) == {"error_code", "error_msg"}


def test_dify_with_the_right_key(keyed: TestClient) -> None:
    r = keyed.post("/retrieval", json=dify_body(), headers=auth())
    assert r.status_code == 200 and r.json()["records"][0]["metadata"]["id"] == "P02"


# -- OpenAI-compatible -------------------------------------------------------------------------


def test_models_lists_tongdian(local: TestClient) -> None:
    body = local.get("/v1/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["tongdian"]
    assert body["data"][0]["object"] == "model" and body["data"][0]["created"] > 1_600_000_000


def test_completion_is_the_chat_reply(local: TestClient) -> None:
    r = local.post("/v1/chat/completions", json=chat_body())
    assert r.status_code == 200
    body = r.json()
    reply = body["choices"][0]["message"]["content"]
    assert reply == local.post("/api/chat", json={"message": DEPOSITS}).json()["reply"]
    assert "P02" in reply
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["role"] == "assistant"
    u = body["usage"]
    assert u == {"prompt_tokens": len(DEPOSITS), "completion_tokens": len(reply),
                 "total_tokens": len(DEPOSITS) + len(reply)}


def test_the_last_user_message_is_answered(local: TestClient) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": NOISE},
        {"role": "assistant", "content": "…"},
        {"role": "user", "content": [{"type": "text", "text": DEPOSITS},
                                     {"type": "image_url", "image_url": {"url": "x"}}]},
    ]
    r = local.post("/v1/chat/completions",
                   json={"model": "tongdian", "messages": messages, "temperature": 0.3,
                         "top_p": 1, "max_tokens": 512, "user": "u1"})
    assert r.status_code == 200, r.text
    reply = r.json()["choices"][0]["message"]["content"]
    assert "P02" in reply and "爬山" not in reply


def parse_sse(text: str) -> list[Any]:
    events = [line[len("data: "):] for line in text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_streaming_sends_the_same_reply_in_chunks(local: TestClient) -> None:
    plain = local.post("/v1/chat/completions", json=chat_body()).json()
    r = local.post("/v1/chat/completions", json=chat_body(stream=True))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    chunks = parse_sse(r.text)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == plain["choices"][0]["message"]["content"]
    assert len(chunks) > 4, "the reply should arrive in several chunks"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)


def test_streaming_usage_on_request(local: TestClient) -> None:
    r = local.post("/v1/chat/completions",
                   json=chat_body(stream=True, stream_options={"include_usage": True}))
    chunks = parse_sse(r.text)
    last = chunks[-1]
    assert last["choices"] == []
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])
    assert last["usage"]["completion_tokens"] == len(text)
    assert last["usage"]["prompt_tokens"] == len(DEPOSITS)


@pytest.mark.parametrize(("body", "status"), [
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": DEPOSITS}]}, 404),
    ({"model": "tongdian", "messages": []}, 422),
    ({"model": "tongdian", "messages": [{"role": "system", "content": DEPOSITS}]}, 422),
    ({"model": "tongdian"}, 422),
    ({"messages": [{"role": "user", "content": DEPOSITS}]}, 422),
    ({"model": "tongdian", "messages": "hi"}, 422),
    ({"model": "tongdian", "messages": [{"role": "user", "content": 42}]}, 422),
    ({"model": "tongdian", "messages": [{"role": "user", "content": DEPOSITS}], "stream": "yes"}, 422),
    (chat_body(""), 400),
    (chat_body("   "), 400),
    (chat_body("网" * (MAX_QUERY_CHARS + 1)), 413),
    (chat_body("网" * (MAX_QUERY_CHARS + 1), stream=True), 413),
])
def test_completion_errors(local: TestClient, body: dict[str, Any], status: int) -> None:
    r = local.post("/v1/chat/completions", json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert set(r.json()) == {"error", "detail"} and r.json()["error"]


@pytest.mark.parametrize(("content", "ctype", "status"), [
    (b'{"model": "tongdian", "messages": [', "application/json", 400),
    (b"", "application/json", 400),
    (json.dumps(chat_body()).encode(), "text/plain", 415),
    (json.dumps(chat_body()).encode(), None, 415),
])
def test_completion_body_errors(local: TestClient, content: bytes, ctype: str | None,
                                status: int) -> None:
    headers = {"content-type": ctype} if ctype else {}
    r = local.post("/v1/chat/completions", content=content, headers=headers)
    assert r.status_code == status and set(r.json()) == {"error", "detail"}


# -- Dify --------------------------------------------------------------------------------------


def test_retrieval_records(local: TestClient, tiny_engine: Engine) -> None:
    r = local.post("/retrieval", json=dify_body(top_k=3, threshold=0.0))
    assert r.status_code == 200
    records = r.json()["records"]
    search = tiny_engine.search(DEPOSITS, k=3)
    assert [x["metadata"]["id"] for x in records] == [x.id for x in search.results]
    assert [x["score"] for x in records] == [x.confidence for x in search.results]
    top = records[0]
    assert set(top) == {"content", "score", "title", "metadata"}
    assert top["title"].startswith("P02 ") and 0.5 < top["score"] <= 1.0
    # the passage stands alone: the pain point, its remedies and risks, and where to read on
    for part in ("痛点 P02", "痛点描述", "应对思路", "相关风险", "/p/P02"):
        assert part in top["content"]
    assert all(isinstance(x["metadata"], dict) for x in records)
    assert top["metadata"]["technologies"] and top["metadata"]["risks"]


def test_retrieval_threshold_and_top_k(local: TestClient) -> None:
    one = local.post("/retrieval", json=dify_body(top_k=1)).json()["records"]
    assert len(one) == 1
    strict = local.post("/retrieval", json=dify_body(top_k=3, threshold=0.5)).json()["records"]
    assert strict and all(x["score"] >= 0.5 for x in strict)
    loose = local.post("/retrieval", json=dify_body(top_k=3, threshold=0.0)).json()["records"]
    assert len(loose) > len(strict), "the threshold should have removed the weak candidates"
    assert local.post("/retrieval", json=dify_body(top_k=99)).status_code == 200


def test_retrieval_nothing_qualifies_is_an_empty_list(local: TestClient) -> None:
    r = local.post("/retrieval", json=dify_body(NOISE, threshold=0.0))
    assert r.status_code == 200 and r.json() == {"records": []}, "no good match: no records"
    r = local.post("/retrieval", json=dify_body(top_k=3, threshold=1.0))
    assert all(x["score"] == 1.0 for x in r.json()["records"])


@pytest.mark.parametrize(("condition", "ids"), [
    ({"conditions": [{"name": "id", "comparison_operator": "is", "value": "P01"}]}, ["P01"]),
    ({"conditions": [{"name": "id", "comparison_operator": "is not", "value": "P02"}]},
     ["P01", "P03"]),
    ({"conditions": [{"name": ["id"], "comparison_operator": "in", "value": ["P03", "P02"]}]},
     ["P02", "P03"]),
    ({"logical_operator": "or", "conditions": [
        {"name": "id", "comparison_operator": "is", "value": "P01"},
        {"name": "id", "comparison_operator": "is", "value": "P03"}]}, ["P01", "P03"]),
    ({"conditions": [{"name": "risks", "comparison_operator": "contains", "value": "liquidity"},
                     {"name": "number", "comparison_operator": "≥", "value": 2}]}, ["P02"]),
    ({"conditions": [{"name": "no_such_field", "comparison_operator": "not empty"}]}, []),
    ({"conditions": []}, ["P01", "P02", "P03"]),
])
def test_retrieval_metadata_condition(local: TestClient, condition: dict[str, Any],
                                      ids: list[str]) -> None:
    r = local.post("/retrieval", json=dify_body(top_k=5, metadata_condition=condition))
    assert r.status_code == 200, r.text
    assert sorted(x["metadata"]["id"] for x in r.json()["records"]) == ids


@pytest.mark.parametrize(("field", "op", "value", "ok"), [
    ("网点成本", "contains", "成本", True), ("网点成本", "not contains", "成本", False),
    ("网点成本", "start with", "网点", True), ("网点成本", "end with", "网点", False),
    (["a", "b"], "contains", "b", True), (["a", "b"], "not in", ["b"], False),
    ([], "empty", None, True), (0.7, ">", 0.5, True), (0.7, "<", "0.5", False),
    (0.7, "=", "x", False), ("x", ">", 1, False), (None, "is not", "x", True),
    (None, "is", "x", False), ("2026", "before", "2027", False),
])
def test_metadata_operators(field: Any, op: str, value: Any, ok: bool) -> None:
    assert _one(field, op, value) is ok


@pytest.mark.parametrize(("body", "status"), [
    (dify_body(top_k=0), 422),
    (dify_body(threshold=1.5), 422),
    (dify_body(threshold=-0.1), 422),
    ({"knowledge_id": "tongdian", "query": DEPOSITS}, 422),
    ({"knowledge_id": "tongdian", "retrieval_setting": {"top_k": 1, "score_threshold": 0}}, 422),
    (dify_body(metadata_condition={"conditions": [{"name": "id", "comparison_operator": "like"}]}), 422),
    (dify_body(metadata_condition={"logical_operator": "xor", "conditions": []}), 422),
    (dify_body(""), 400),
    (dify_body("网" * (MAX_QUERY_CHARS + 1)), 413),
])
def test_retrieval_errors_are_difys(local: TestClient, body: dict[str, Any], status: int) -> None:
    r = local.post("/retrieval", json=body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error_code", "error_msg"} and r.json()["error_code"] == status


def test_unknown_knowledge_is_2001(local: TestClient) -> None:
    r = local.post("/retrieval", json={**dify_body(), "knowledge_id": "AAA-BBB-CCC"})
    assert r.status_code == 404
    assert r.json()["error_code"] == 2001 and "AAA-BBB-CCC" in r.json()["error_msg"]


def test_difys_save_time_check_passes(keyed: TestClient) -> None:
    """Saving an external knowledge API, Dify POSTs to /retrieval with the key and no body,
    and fails the save on 403 ("authorization failed") or 404 ("not found")."""
    r = keyed.post("/retrieval", headers=auth())
    assert r.status_code not in (403, 404, 502) and r.status_code < 500
    assert r.json()["error_code"] == r.status_code


@pytest.mark.parametrize(("content", "ctype", "status"), [
    (b'{"knowledge_id": ', "application/json", 400),
    (b"[]", "application/json", 422),
    (b"knowledge_id=tongdian", "text/plain", 415),
])
def test_retrieval_body_errors(local: TestClient, content: bytes, ctype: str, status: int) -> None:
    r = local.post("/retrieval", content=content, headers={"content-type": ctype})
    assert r.status_code == status and r.json()["error_code"] == status


def test_retrieval_other_methods_are_405_in_difys_shape(local: TestClient) -> None:
    r = local.get("/retrieval")
    assert r.status_code == 405 and r.json()["error_code"] == 405


# -- MCP, in process ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def mcp_server(tiny_engine: Engine, tiny_settings: Settings):  # type: ignore[no-untyped-def]
    return create_app(tiny_engine, tiny_settings).state.mcp.server()


@pytest.mark.anyio
async def test_mcp_tools_and_their_schemas(mcp_server) -> None:  # type: ignore[no-untyped-def]
    async with Client(mcp_server) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert set(tools) == {"search_painpoints", "get_painpoint", "ask", "list_risks",
                          "list_technologies"}
    for t in tools.values():
        assert t.output_schema is not None, f"{t.name} publishes no output schema"
        assert t.description and "\n    " not in t.description
    assert tools["search_painpoints"].input_schema["required"] == ["q"]


@pytest.mark.anyio
async def test_mcp_search_is_api_search(mcp_server, local: TestClient) -> None:  # type: ignore[no-untyped-def]
    async with Client(mcp_server) as c:
        res = await c.call_tool("search_painpoints", {"q": DEPOSITS, "k": 3})
        noise = await c.call_tool("search_painpoints", {"q": NOISE})
    api = local.get("/api/search", params={"q": DEPOSITS, "k": 3}).json()
    assert not res.is_error
    got = res.structured_content
    assert [x["id"] for x in got["results"]] == [x["id"] for x in api["results"]]
    assert [x["confidence"] for x in got["results"]] == [x["confidence"] for x in api["results"]]
    assert got["matched"] is True
    assert res.content[0].text.startswith("1. P02")
    assert noise.structured_content["matched"] is False
    assert "no good match" in noise.content[0].text


@pytest.mark.anyio
async def test_mcp_get_ask_and_lists(mcp_server) -> None:  # type: ignore[no-untyped-def]
    async with Client(mcp_server) as c:
        one = await c.call_tool("get_painpoint", {"id": "p01"})
        missing = await c.call_tool("get_painpoint", {"id": "P99"})
        answer = await c.call_tool("ask", {"question": DEPOSITS})
        risks = await c.call_tool("list_risks", {})
        techs = await c.call_tool("list_technologies", {})
    assert one.structured_content["id"] == "P01" and "应对思路" in one.content[0].text
    assert missing.is_error and "P99" in missing.content[0].text
    assert answer.structured_content["results"][0]["id"] == "P02"
    assert answer.content[0].text.startswith("**痛点匹配**")
    assert risks.structured_content["count"] == len(risks.structured_content["risks"]) > 0
    assert techs.structured_content["matrix"]["rows"] == ["P01", "P02", "P03"]


@pytest.mark.anyio
@pytest.mark.parametrize("args", [{"q": ""}, {"q": DEPOSITS, "k": 0}, {"q": DEPOSITS, "k": 99},
                                  {"q": "网" * (MAX_QUERY_CHARS + 1)}, {}, {"q": 42}])
@pytest.mark.anyio
async def test_mcp_bad_arguments_are_tool_errors(mcp_server, args: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    async with Client(mcp_server) as c:
        res = await c.call_tool("search_painpoints", args)
    assert res.is_error and res.content[0].text


@pytest.mark.anyio
async def test_mcp_every_painpoint_is_a_resource(mcp_server) -> None:  # type: ignore[no-untyped-def]
    async with Client(mcp_server) as c:
        listed = (await c.list_resources()).resources
        read = await c.read_resource("tongdian://painpoints/P02")
    assert [str(r.uri) for r in listed] == [f"tongdian://painpoints/P0{i}" for i in (1, 2, 3)]
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.text.startswith("痛点 P02：") and "相关风险" in content.text


def test_mcp_over_http_in_process(local: TestClient, keyed: TestClient) -> None:
    """A raw JSON-RPC call through the mount: the route, stateless JSON, and the keys."""
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "search_painpoints", "arguments": {"q": DEPOSITS, "k": 1}}}
    accept = {"accept": "application/json, text/event-stream"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}
    r = local.post("/mcp", json=init, headers=accept)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["serverInfo"]["name"] == "tongdian"
    headers = {**accept, "mcp-protocol-version": "2025-06-18"}
    r = local.post("/mcp", json=call, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["structuredContent"]["results"][0]["id"] == "P02"
    assert keyed.post("/mcp", json=call, headers=headers).status_code == 401
    # no silent event stream for a GET: it would hold the connection open forever
    r = local.get("/mcp", headers={"accept": "text/event-stream"})
    assert r.status_code == 405 and r.headers["allow"] == "POST" and set(r.json()) == {"error", "detail"}
    r = keyed.post("/mcp", json=call, headers={**headers, **auth()})
    assert r.status_code == 200 and r.json()["result"]["structuredContent"]["results"][0]["id"] == "P02"


def test_mcp_survives_the_lifespan_entered_again(tiny_engine: Engine,
                                                 tiny_settings: Settings) -> None:
    """The SDK's session manager runs only once; a second lifespan (schemathesis enters one
    per call, a restarted in-process server another) must get a fresh one, not a crash."""
    app = create_app(tiny_engine, tiny_settings)
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"accept": "application/json, text/event-stream"}
    for _ in range(3):
        with TestClient(app, **LOCAL) as c:  # type: ignore[arg-type]
            r = c.post("/mcp", json=call, headers=accept)
            assert r.status_code == 200 and "search_painpoints" in r.text
    r = TestClient(app, **LOCAL).post("/mcp", json=call, headers=accept)  # type: ignore[arg-type]
    assert r.status_code == 503 and set(r.json()) == {"error", "detail"}
