"""The pain points as an MCP server (official ``mcp`` SDK), for LLM clients that speak MCP.

One ``MCPServer`` over an open ``Engine`` and its ``Catalog``, served two ways: over stdio
by ``tongdian mcp`` (a desktop client starts it as a subprocess) and over streamable HTTP
at ``/mcp`` in the web app (a shared server). Both answer from the same functions as the
JSON API, so a tool and its route can never disagree:

- ``search_painpoints(q, k)``: ``/api/search``'s ranking and its "no good match";
- ``get_painpoint(id)``: ``/api/painpoints/{id}``;
- ``ask(question)``: the search answer, with ``/api/chat``'s Markdown as its text (typed
  answers for other kinds of question can join it here later);
- ``list_risks()``, ``list_technologies()``: ``/api/risks``, ``/api/technologies``.

Each tool returns the route's JSON as structured content (with its schema published as the
tool's output schema) plus a short text for clients that only show text. Every pain point
is also a resource, ``tongdian://painpoints/P01`` …, whose text is the same self-contained
passage Dify receives.

Over HTTP the server is stateless and answers plain JSON: the tools are request/response,
nothing is pushed to clients, and any worker of ``serve --workers N`` can answer any call.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources.types import TextResource
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from tongdian.core.answers.models import (
    PainPointDetail,
    RiskList,
    SearchResponse,
    TechnologyList,
)
from tongdian.core.config import MAX_K, MAX_QUERY_CHARS
from tongdian.core.errors import NotFound, QueryError
from tongdian.core.search.catalog import Catalog
from tongdian.core.search.engine import Engine

from .auth import MCP_PATH
from .chat import chat_markdown
from .deps import search_off_loop
from .knowledge import passage
from .middleware import Receive, Scope, Send
from .render import percent

URI_PREFIX = "tongdian://painpoints/"

INSTRUCTIONS = (
    "痛点 tongdian: a reviewed knowledge base of Chinese banks' pain points, the fintech "
    "approaches that address them and the risks those carry. Call search_painpoints or ask "
    "with the bank's problem in Chinese or English; matched=false means no good match "
    "(the results are then only suggestions). get_painpoint gives one in full."
)


def _result(model: BaseModel, text: str) -> CallToolResult:
    """Structured content (the route's JSON) plus a short text, in one tool result."""
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=model.model_dump(mode="json"))


def search_summary(r: SearchResponse) -> str:
    """A few lines a text-only client can show: the verdict, then the ranked ids."""
    if not r.matched:
        head = f"没有找到足够匹配的银行痛点（no good match; in-scope {r.in_scope:.2f}）。"
        if r.results:
            head += " 最接近的候选（仅供参考）：" + "、".join(f"{x.id} {x.title}" for x in r.results[:3])
        return head
    lines = [f"{i}. {x.id} {x.title}（置信度 {percent(x.confidence)}）"
             for i, x in enumerate(r.results, 1)]
    return "\n".join(lines)


#: Where links point when nothing better is known: ``tongdian serve``'s default address.
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def build_mcp_server(engine: Engine, catalog: Catalog, base_url: str | None = None) -> MCPServer:
    """The server. Links in answers point at ``base_url`` (the configured public URL) when
    given; otherwise, over HTTP, they are relative paths (as ``/api/chat``'s: never built
    from the ``Host`` header a client chose), and over stdio they point at
    ``DEFAULT_BASE_URL``."""
    fixed = base_url.rstrip("/") if base_url else None
    base = fixed or DEFAULT_BASE_URL

    def link_base(ctx: Context | None) -> str:
        if fixed:
            return fixed
        try:
            headers = ctx.headers if ctx is not None else None
        except (RuntimeError, AttributeError):  # no request: an in-process call
            headers = None
        return "" if headers else DEFAULT_BASE_URL
    server: MCPServer = MCPServer(
        name="tongdian", title="痛点 tongdian", version="0.1.0", instructions=INSTRUCTIONS,
        log_level="WARNING",
    )

    async def search(q: str, k: int) -> SearchResponse:
        try:
            return await search_off_loop(engine, q, k)
        except QueryError as e:
            raise ToolError(f"{e} (queries: 1–{MAX_QUERY_CHARS} characters; k: 1–{MAX_K})") from None

    async def search_painpoints(
        q: Annotated[str, Field(description=f"the bank's problem, Chinese or English, up to "
                                            f"{MAX_QUERY_CHARS} characters")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="how many pain points")] = 5,
    ) -> Annotated[CallToolResult, SearchResponse]:
        """Rank the pain points a text describes, best first, each with its approaches and
        risks. matched=false means no good match: the results are then only suggestions."""
        r = await search(q, k)
        return _result(r, search_summary(r))

    async def get_painpoint(
        id: Annotated[str, Field(description="pain-point id, P01…P20 (case-insensitive)")],
        ctx: Context,
    ) -> Annotated[CallToolResult, PainPointDetail]:
        """A pain point with its approaches, risks (reasons and controls), case and neighbours."""
        try:
            d = await anyio.to_thread.run_sync(catalog.detail, id)
        except NotFound as e:
            raise ToolError(str(e)) from None
        url = f"{link_base(ctx)}/p/{d.id}"
        return _result(d, passage(d, d.approaches, d.risks_detail, url))

    async def ask(
        question: Annotated[str, Field(description="a question or a briefing, up to "
                                                   f"{MAX_QUERY_CHARS} characters")],
        ctx: Context,
    ) -> Annotated[CallToolResult, SearchResponse]:
        """A question answered as a chat reply (Markdown) with the structured search answer
        alongside: a question about the report (a risk, a technology, the cooperation modes,
        the case, a pain point by number) leads with that item (`answers`, `intent`); a
        bank's problem with its pain points."""
        r = await search(question, 3)
        return _result(r, chat_markdown(r, link_base(ctx), k=3))

    async def list_risks() -> Annotated[CallToolResult, RiskList]:
        """The risks fintech remedies carry, how fintech changes them, and which pain points
        carry each."""
        rl = catalog.risks
        text = "\n".join(f"- {r.id} {r.name}（{r.name_en}）：{len(r.painpoints)} 个痛点"
                         for r in rl.risks)
        return _result(rl, text)

    async def list_technologies() -> Annotated[CallToolResult, TechnologyList]:
        """The technologies and business models the remedies use, with the pain points
        using each, and the pain-point × technology matrix."""
        tl = catalog.technologies
        text = "\n".join(f"- {t.id} {t.name}（{t.name_en}）：{'、'.join(t.painpoints) or '—'}"
                         for t in tl.technologies)
        return _result(tl, text)

    for fn, title in (
        (search_painpoints, "Search pain points"),
        (get_painpoint, "One pain point in full"),
        (ask, "Ask about a bank's problem"),
        (list_risks, "The risks"),
        (list_technologies, "The technologies"),
    ):
        # the docstring is the description a client shows its model: without the indentation
        server.add_tool(fn, title=title, description=inspect.cleandoc(fn.__doc__ or ""))

    for pid in catalog.summaries:
        d = catalog.detail(pid)
        server.add_resource(TextResource(
            uri=f"{URI_PREFIX}{pid}", name=pid, title=f"{pid} {d.title}",
            description=d.summary_en, mime_type="text/markdown",
            text=passage(d, d.approaches, d.risks_detail, f"{base}/p/{pid}"),
        ))
    return server


class StatelessMCPEndpoint:
    """``/mcp`` over HTTP: POST goes to the SDK; any other method is a 405 naming POST.

    A stateless server has no session to push messages on, yet the SDK would answer a GET
    with an event stream that stays open and silent for as long as the client likes — one
    idle connection per GET, a cheap way to exhaust a server. The MCP spec lets a server
    answer that GET with 405 instead, and clients then simply do without the stream.

    ``running()`` is the app's lifespan part. The SDK's session manager can run only once,
    so each lifespan gets a fresh one: an app whose lifespan is entered again (a test
    client per request, a server restarted in-process) keeps working.
    """

    def __init__(self, server: MCPServer) -> None:
        self.server = server
        self._sdk: StreamableHTTPASGIApp | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # Stateless JSON: any worker can answer any call. DNS-rebinding protection is the
        # machine-route middleware's job (auth.py), so the SDK's own Host check, which
        # would refuse every name but localhost, is off.
        self.server.streamable_http_app(
            streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        manager = self.server.session_manager
        async with manager.run():
            previous, self._sdk = self._sdk, StreamableHTTPASGIApp(manager)
            try:
                yield
            finally:
                self._sdk = previous

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") != "POST":
            await _json_error(send, 405, "the MCP endpoint is stateless: send JSON-RPC "
                                         "messages with POST", [(b"allow", b"POST")])
            return
        sdk = self._sdk
        if sdk is None:  # served without the app's lifespan
            await _json_error(send, 503, "the MCP endpoint is not running (no lifespan)")
            return
        await sdk(scope, receive, send)


async def _json_error(send: Send, status: int, error: str,
                      headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": error, "detail": None}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
