"""The FastAPI application: HTML pages and their JSON twins over one ``Engine``.

``create_app(engine)`` is the only entry point (``tongdian serve`` and the tests call it),
so an app never opens an index itself: whoever starts it decides which index it serves.
Security headers, the body cap and error rendering live in their own modules.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tongdian.core.answers.permalinks import PermalinkStore
from tongdian.core.config import KEEP_ALIVE_SECONDS, MAX_HEADER_BYTES, Settings
from tongdian.core.search.engine import Engine
from tongdian.extras import MissingExtra, available

from . import kbpages, pages
from .auth import MCP_PATH, MachineAuthMiddleware, mcp_origins
from .handlers import error_response, install_error_handlers
from .kbstate import Live, install_kb
from .limits import LIMITS
from .links import LinkedCatalog
from .middleware import (
    MAX_BODY_BYTES,
    BodyLimitMiddleware,
    HeadMiddleware,
    SecurityHeadersMiddleware,
)
from .ratelimit import install_limiter
from .routes import ROUTERS
from .routes.brief import install_briefs
from .templating import make_templates

__all__ = ["MAX_BODY_BYTES", "UVICORN_OPTIONS", "create_app"]

#: What ``tongdian serve`` passes to uvicorn: idle keep-alive connections close after
#: ``KEEP_ALIVE_SECONDS``, and a request line plus headers may buffer ``MAX_HEADER_BYTES``
#: (the body's deadline is ``BodyLimitMiddleware``'s: uvicorn has none).
UVICORN_OPTIONS: dict[str, Any] = {"timeout_keep_alive": KEEP_ALIVE_SECONDS,
                                   "h11_max_incomplete_event_size": MAX_HEADER_BYTES}


def create_app(engine: Engine, settings: Settings | None = None,
               public_url: str | None = None, revision: int | None = None) -> FastAPI:
    """Build the app around an already-open engine.

    ``public_url`` (or ``TONGDIAN_PUBLIC_URL``) is the address chat replies link to; by
    default links are built from the request's own base URL, which is right whenever the
    bot reaches the server at the address people use.
    """
    s = settings or Settings()
    keys = s.machine_keys()  # read now: a missing keys file must stop start-up, not a request
    configured_url = (public_url or os.environ.get("TONGDIAN_PUBLIC_URL") or "").rstrip("/")
    catalog = LinkedCatalog(engine)
    # the MCP server keeps what it is given: live references follow a published revision
    live = [(Live(engine), "engine"), (Live(catalog), "catalog")]
    # the mcp extra; without it /mcp answers 501 naming the extra
    mcp = _LazyMCP(live[0][0], live[1][0], configured_url or None) if available("mcp") else None
    mcp_endpoint: object = mcp if mcp is not None else _MissingMCP()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            events = mcp.arm() if mcp is not None else None
            if mcp is not None and events is not None:  # its session manager lives as long as the app
                tg.start_soon(mcp.serve, events)
            kb.start_following()
            try:
                yield
            finally:
                if events is not None:
                    _LazyMCP.shutdown(events)
                kb.stop()
                app.state.render_pool.close()

    app = FastAPI(
        title="痛点 tongdian",
        version="0.1.0",
        summary="Match a bank's problem to its pain points, fintech approaches and risks.",
        description=(
            "Every HTML page has a JSON twin under `/api`. Outside tools rely on "
            "`results[].id` (P01…P20) and `results[].score` of `/api/search`. "
            "Chat platforms call `/v1` (OpenAI-compatible), `/retrieval` (Dify's External "
            "Knowledge API) and `/mcp` (MCP, streamable HTTP): with `TONGDIAN_API_KEYS` "
            "set they need `Authorization: Bearer <key>`, without it they answer only "
            "loopback clients. "
            f"{LIMITS} Errors are JSON `{{\"error\": …, \"detail\": …}}`."
        ),
        docs_url=None,  # the stock Swagger UI loads from a CDN: banks run offline
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.catalog = catalog
    app.state.mcp = mcp
    app.state.templates = make_templates(Path(s.templates))
    app.state.public_url = configured_url
    app.state.permalinks = PermalinkStore(Path(str(s.permalink_dir)), s.permalink_days)
    install_briefs(app, s)  # the render pool of DOCX/PDF briefs

    # revisions, feedback and edits: the database sits beside the index being served
    kb = install_kb(app, settings or s.model_copy(update={"data": engine.index.path.parents[2]}),
                    revision, live)
    install_error_handlers(app)
    install_limiter(app, s.feedback_rate, s.rate_limit_storage)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(pages.router)
    app.include_router(kbpages.router)  # history, edit forms, feedback review
    # a plain route, not a mount: a mount would answer "/mcp" with a redirect to "/mcp/"
    app.router.routes.append(Route(MCP_PATH, mcp_endpoint))  # type: ignore[arg-type]
    static_dir = Path(s.templates) / "static"
    app.state.static_dir = static_dir
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")

    # outermost last: security headers also cover the body-limit's 413 and auth refusals
    app.add_middleware(MachineAuthMiddleware, keys=keys,
                       origins=mcp_origins(s.mcp_origins, configured_url))
    app.add_middleware(BodyLimitMiddleware, read_seconds=s.body_read_seconds)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(HeadMiddleware)  # outermost: no HEAD answer carries a body, refusals included
    return app


#: A lifespan's MCP events: ready (the SDK is up), wanted (a call came), stop (the app ends).
Events = tuple[anyio.Event, anyio.Event, anyio.Event]


class _LazyMCP:
    """``/mcp`` whose SDK is imported and started on its first call, not before the server
    answers: importing the MCP SDK is ~0.5–0.9 s of CPU, and a server's first search must not
    wait for (or share the interpreter with) a chat tool's endpoint that may never be called
    (``bench/perf.py``: spawn → first answer). The first call waits for it to come up
    (``MCP_START_SECONDS``)."""

    def __init__(self, engine: object, catalog: object, public_url: str | None) -> None:
        self._args = (engine, catalog, public_url)
        self._server: Any = None
        self._lock = threading.Lock()
        self._endpoint: Any = None
        self._events: Events | None = None  # the latest lifespan's (``arm``)

    def server(self) -> Any:
        """The MCP server (built once; tests call its tools in process)."""
        with self._lock:
            if self._server is None:
                from .mcp_server import build_mcp_server

                self._server = build_mcp_server(*self._args)  # type: ignore[arg-type]
            return self._server

    def arm(self) -> Events:
        """Called as a lifespan starts: calls from now on wait for ``serve`` to bring it up.
        Each lifespan has its own events (a test may enter a second one before the first ends)."""
        self._events = (anyio.Event(), anyio.Event(), anyio.Event())  # ready, wanted, stop
        return self._events

    @staticmethod
    def shutdown(events: Events) -> None:
        """Called as that lifespan stops: its ``serve`` ends, whether or not it was called."""
        _, wanted, stop = events
        stop.set()
        wanted.set()

    async def serve(self, events: Events) -> None:
        """The lifespan's task: on the first call, build the server and run its session
        manager (a task group, which must live in one task) until the app stops."""
        from .mcp_server import StatelessMCPEndpoint

        ready, wanted, stop = events
        await wanted.wait()
        if stop.is_set():
            return
        endpoint = StatelessMCPEndpoint(await anyio.to_thread.run_sync(self.server))
        async with endpoint.running():
            self._endpoint = endpoint
            ready.set()
            await stop.wait()
        self._endpoint = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._endpoint is None and self._events is not None:
            ready, wanted, stop = self._events
            wanted.set()
            if not stop.is_set():
                with anyio.move_on_after(MCP_START_SECONDS):
                    await ready.wait()
        if self._endpoint is None:
            request = Request(scope, receive)
            await error_response(request, 503, "the MCP endpoint is starting or not running")(
                scope, receive, send)
            return
        await self._endpoint(scope, receive, send)


#: How long the first call to ``/mcp`` waits for the SDK to come up.
MCP_START_SECONDS = 30


class _MissingMCP:
    """``/mcp`` of a server installed without the mcp extra: every method answers 501
    naming the extra (an ASGI app, so the route takes POST as MCP clients send it)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        resp = error_response(request, 501, str(MissingExtra("mcp")), {"extra": "mcp"})
        await resp(scope, receive, send)


def app_from_env() -> FastAPI:
    """A worker's app: settings from ``TONGDIAN_*``, the index opened read-only (never built
    here: the parent process built it, and N workers must not race to build it again)."""
    from tongdian.core.stewardship.publish import open_served_engine

    s = Settings()
    engine, revision = open_served_engine(s, rebuild=False)
    return create_app(engine, s, revision=revision)
