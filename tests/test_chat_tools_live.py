"""The chat tools' own clients against a real server: the MCP SDK's client over stdio
(``python -m tongdian.cli mcp`` as a subprocess) and over streamable HTTP, the ``openai``
client plain and streaming, and a Dify-shaped request — each with and without keys.

These are what a bank's platforms run; if an SDK changes what it sends or expects, this is
where it shows. The servers use the session's three-entry index (built once, in seconds).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
import openai
import pytest
import uvicorn
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import TextResourceContents

from tongdian.api.app import create_app
from tongdian.api.chat import chat_markdown
from tongdian.core.config import Settings
from tongdian.core.search.engine import Engine

pytestmark = [pytest.mark.slow]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEPOSITS = "存款越来越难拉，都跑去余额宝了"  # P02 in the tiny corpus
KEY = "live-test-key"
TOOLS = {"search_painpoints", "get_painpoint", "ask", "list_risks", "list_technologies"}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    base: str  # http://127.0.0.1:PORT
    keyed: bool


def _serve(engine: Engine, settings: Settings) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(create_app(engine, settings), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module", params=[False, True], ids=["no-keys", "keys"])
def live(request: pytest.FixtureRequest, tiny_engine: Engine,
         tiny_settings: Settings) -> Iterator[Live]:
    keyed: bool = request.param
    s = tiny_settings.model_copy(update={"api_keys": [KEY] if keyed else []})
    for base in _serve(tiny_engine, s):
        yield Live(base, keyed)


def _headers(live: Live) -> dict[str, str]:
    return {"authorization": f"Bearer {KEY}"} if live.keyed else {}


# -- MCP over streamable HTTP --------------------------------------------------------------------


def _mcp(live: Live, headers: dict[str, str] | None = None) -> Client:
    http = httpx2.AsyncClient(headers=_headers(live) if headers is None else headers,
                              timeout=30)
    return Client(streamable_http_client(f"{live.base}/mcp", http_client=http))


@pytest.mark.anyio
async def test_mcp_sdk_client_over_http(live: Live, tiny_engine: Engine) -> None:
    async with _mcp(live) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        res = await c.call_tool("search_painpoints", {"q": DEPOSITS, "k": 2})
        detail = await c.call_tool("get_painpoint", {"id": "P03"})
        read = await c.read_resource("tongdian://painpoints/P01")
    assert tools == TOOLS
    want = tiny_engine.search(DEPOSITS, k=2)
    assert [x["id"] for x in res.structured_content["results"]] == [x.id for x in want.results]
    assert res.structured_content["matched"] is want.matched is True
    assert detail.structured_content["id"] == "P03"
    # links never come from the Host header: without TONGDIAN_PUBLIC_URL they are relative
    assert "详情：/p/P03" in detail.content[0].text
    assert live.base not in detail.content[0].text
    content = read.contents[0]
    assert isinstance(content, TextResourceContents) and content.text.startswith("痛点 P01：")


@pytest.mark.anyio
async def test_mcp_http_refuses_a_wrong_key(live: Live) -> None:
    if not live.keyed:
        pytest.skip("only a server with keys refuses a key")
    with pytest.raises(BaseExceptionGroup) as info:  # the SDK reports from its task group
        async with _mcp(live, {"authorization": "Bearer wrong"}) as c:
            await c.list_tools()
    # the client saw an error response (the SDK does not pass the HTTP status on)
    assert info.group_contains(MCPError)
    r = httpx.post(f"{live.base}/mcp", json={}, headers={"authorization": "Bearer wrong"})
    assert r.status_code == 401


# -- MCP over stdio ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_mcp_sdk_client_over_stdio(tiny_engine: Engine, tiny_settings: Settings) -> None:
    env = {"TONGDIAN_DATA": str(tiny_settings.data), "TONGDIAN_CORPUS": str(tiny_settings.corpus),
           "TONGDIAN_EMBEDDER": tiny_settings.embedder, "TONGDIAN_HOME": str(tiny_settings.home),
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    params = StdioServerParameters(command=sys.executable, args=["-m", "tongdian.cli", "mcp"],
                                   env=env, cwd=str(PROJECT_ROOT))
    async with Client(params, read_timeout_seconds=120) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        res = await c.call_tool("search_painpoints", {"q": DEPOSITS})
        ask = await c.call_tool("ask", {"question": DEPOSITS})
        bad = await c.call_tool("get_painpoint", {"id": "P21"})
        resources = (await c.list_resources()).resources
    assert tools == TOOLS
    want = tiny_engine.search(DEPOSITS, k=5)
    assert [x["id"] for x in res.structured_content["results"]] == [x.id for x in want.results]
    assert ask.content[0].text == chat_markdown(want, "http://127.0.0.1:8000", k=3)
    assert bad.is_error and "P21" in bad.content[0].text
    assert len(resources) == len(tiny_engine.corpus.painpoints)


# -- OpenAI-compatible ---------------------------------------------------------------------------


def _openai(live: Live, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.base}/v1", max_retries=0, timeout=30,
                         api_key=key or (KEY if live.keyed else "not-needed-on-loopback"))


def test_openai_client_plain(live: Live) -> None:
    client = _openai(live)
    assert [m.id for m in client.models.list()] == ["tongdian"]
    done = client.chat.completions.create(
        model="tongdian", messages=[{"role": "system", "content": "be brief"},
                                    {"role": "user", "content": DEPOSITS}])
    reply = done.choices[0].message.content or ""
    assert "**P02 " in reply and reply.startswith("**痛点匹配**")
    api = httpx.post(f"{live.base}/api/chat", json={"message": DEPOSITS}).json()["reply"]
    assert reply == api
    assert done.usage is not None and done.usage.completion_tokens == len(reply)
    assert done.usage.prompt_tokens == len(DEPOSITS)


def test_openai_client_streaming(live: Live) -> None:
    client = _openai(live)
    stream = client.chat.completions.create(
        model="tongdian", messages=[{"role": "user", "content": DEPOSITS}], stream=True,
        stream_options={"include_usage": True})
    parts: list[str] = []
    finish = None
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    text = "".join(parts)
    plain = client.chat.completions.create(
        model="tongdian", messages=[{"role": "user", "content": DEPOSITS}])
    assert text == plain.choices[0].message.content
    assert finish == "stop" and usage is not None and usage.completion_tokens == len(text)


def test_openai_client_errors(live: Live) -> None:
    with pytest.raises(openai.NotFoundError):
        _openai(live).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": DEPOSITS}])
    with pytest.raises(openai.BadRequestError):
        _openai(live).chat.completions.create(
            model="tongdian", messages=[{"role": "user", "content": "  "}])
    if live.keyed:
        with pytest.raises(openai.AuthenticationError):
            _openai(live, key="wrong").models.list()


# -- Dify ----------------------------------------------------------------------------------------


def test_dify_shaped_request(live: Live) -> None:
    """The request from Dify's spec, as Dify sends it."""
    body = {"knowledge_id": "tongdian", "query": DEPOSITS,
            "retrieval_setting": {"top_k": 2, "score_threshold": 0.5}}
    r = httpx.post(f"{live.base}/retrieval", json=body, headers=_headers(live))
    assert r.status_code == 200, r.text
    records = r.json()["records"]
    assert records and records[0]["metadata"]["id"] == "P02"
    assert all(x["score"] >= 0.5 and isinstance(x["metadata"], dict) for x in records)
    if live.keyed:
        r = httpx.post(f"{live.base}/retrieval", json=body)
        assert r.status_code == 403 and r.json()["error_code"] == 1001
        r = httpx.post(f"{live.base}/retrieval", json=body, headers={"authorization": "Bearer x"})
        assert r.status_code == 403 and r.json()["error_code"] == 1002


def test_not_loopback_without_keys_is_refused(live: Live) -> None:
    """Through a proxy on this machine (X-Forwarded-For), the open server refuses."""
    r = httpx.get(f"{live.base}/v1/models", headers={"x-forwarded-for": "10.0.0.9",
                                                     **_headers(live)})
    assert r.status_code == (200 if live.keyed else 403)
