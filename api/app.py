"""The FastAPI application: HTML pages and their JSON twins over one ``Engine``.

``create_app(engine)`` is the only entry point (``tongdian serve`` and the tests call it),
so an app never opens an index itself: whoever starts it decides which index it serves.

Cross-cutting concerns live here and nowhere else:

* security headers on every response (a strict CSP: no scripts at all, styles only from
  ``/static``; the pages need no JavaScript, so nothing legitimate is lost);
* a request-body cap enforced *before* anything parses the body;
* exception handlers that turn every user mistake into a 4xx with a clear message — JSON
  for ``/api/*``, a page for the browser — so user input never produces a 500.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Mount

from tongdian.config import MAX_K, MAX_QUERY_CHARS, Settings
from tongdian.engine import Engine, QueryError

from . import render
from .catalog import Catalog
from .errors import ApiError

log = logging.getLogger(__name__)

#: Largest request body accepted. A maximal query (2,000 CJK characters) is ~6 KB as UTF-8
#: and ~12 KB as \\u-escaped JSON; 64 KB leaves room for chat envelopes and nothing more.
MAX_BODY_BYTES = 64 * 1024

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response, errors and static files included.

    Pure ASGI rather than ``BaseHTTPMiddleware`` so that it costs one header merge per
    response and cannot interfere with streaming or exception handling. Responses that
    are not static assets also get ``Cache-Control: no-store``: a consultant's query may
    name a client, and shared proxies or the browser cache must not keep it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control",
                                    b"public, max-age=3600" if is_static else b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Rejects request bodies over ``limit`` bytes with 413, before any parser sees them.

    A declared ``Content-Length`` over the limit is refused without reading a byte; a
    chunked body is counted as it streams and refused as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def _reject(self, send: Send) -> None:
        resp = JSONResponse(
            {"error": f"request body too large: the limit is {self.limit} bytes",
             "detail": {"limit_bytes": self.limit}},
            status_code=413,
        )
        await send({"type": "http.response.start", "status": resp.status_code,
                    "headers": resp.raw_headers})
        await send({"type": "http.response.body", "body": resp.body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.limit:
                    await self._reject(send)
                    return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(send)


# -- content negotiation and error rendering ---------------------------------------------------


def wants_json(request: Request) -> bool:
    """JSON for the API and OpenAPI paths, or when a client asks for JSON and not HTML."""
    path = request.url.path
    if path.startswith("/api/") or path == "/api" or path == "/openapi.json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: Request, status: int, error: str, detail: Any = None) -> Response:
    if wants_json(request):
        return JSONResponse({"error": error, "detail": detail}, status_code=status)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html",
        {"status": status, "error": error, "detail": detail, "json_url": None},
        status_code=status,
    )


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Keep location, message and type; drop ``input``/``ctx`` (they may echo huge bodies)."""
    out = []
    for e in errors or []:
        loc = [str(p) for p in e.get("loc", ())]
        out.append({"loc": loc, "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))})
    return out


ZH_STATUS = {400: "请求有误", 404: "页面不存在", 405: "不支持的请求方法", 413: "内容太长",
             415: "不支持的内容类型", 422: "参数有误", 500: "服务器内部错误"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc.status, exc.error, exc.detail)

    @app.exception_handler(QueryError)
    async def _query_error(request: Request, exc: QueryError) -> Response:
        # routes translate QueryError themselves (400 or 413); this is the safety net
        detail = {"max_query_chars": MAX_QUERY_CHARS, "max_k": MAX_K}
        return error_response(request, 400, str(exc), detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = _clean_validation_errors(exc.errors())
        if any(e["type"] == "json_invalid" for e in errors):
            return error_response(request, 400, "malformed JSON body", errors)
        where = ", ".join(".".join(e["loc"]) for e in errors[:3])
        return error_response(request, 422, f"invalid request: {where}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            msg = f"not found: {request.url.path[:80]}"
        else:
            msg = str(exc.detail) if exc.detail else ZH_STATUS.get(exc.status_code, "error")
        resp = error_response(request, exc.status_code, msg)
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        if exc.status_code == 405:
            # Starlette names only the methods of the first route matching the path;
            # GET and POST of one resource are separate routes here, so list them all.
            resp.headers["allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return resp

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # the client hung up mid-body: nobody will read an answer, and it is not our fault
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:  # pragma: no cover
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request, 500, "internal error: the incident was logged")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route accepts at this path (for the ``Allow`` header of a 405).

    Asks the router itself, method by method, so that routes FastAPI wraps (included
    routers) answer for themselves; a mount (``/static``) serves files: GET only.
    """
    allowed: list[str] = []
    # a fresh scope: inside a mount, root_path is already the mount's prefix
    probe = {"type": "http", "path": scope["path"], "root_path": "", "headers": []}
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        for route in app.router.routes:
            match, _ = route.matches({**probe, "method": method})
            if match is Match.FULL:
                if not isinstance(route, Mount) or method == "GET":
                    allowed.append(method)
                break
    return allowed


# -- the factory ------------------------------------------------------------------------------


def make_templates(directory: Path) -> Jinja2Templates:
    """Jinja2 with autoescape forced on for every template (not only ``*.html``)."""
    env = Environment(
        loader=FileSystemLoader(str(directory)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        highlight=render.highlight,
        confidence_bar=render.confidence_bar,
        confidence_level=render.confidence_level,
        percent=render.percent,
        kind_label=render.kind_label,
        doc_html=render.doc_html,
        strong_confidence=render.STRONG_CONFIDENCE,
        max_query_chars=MAX_QUERY_CHARS,
        max_k=MAX_K,
        zh_status=ZH_STATUS,
    )
    env.filters["zh"] = render.zh_punct
    return Jinja2Templates(env=env)


def create_app(engine: Engine, settings: Settings | None = None,
               public_url: str | None = None) -> FastAPI:
    """Build the app around an already-open engine.

    ``public_url`` (or ``TONGDIAN_PUBLIC_URL``) is the address chat replies link to; by
    default links are built from the request's own base URL, which is right whenever the
    bot reaches the server at the address people use.
    """
    from . import json_api, pages

    s = settings or Settings()
    app = FastAPI(
        title="痛点 tongdian",
        version="0.1.0",
        summary="Match a bank's problem to its pain points, fintech approaches and risks.",
        description=(
            "Every HTML page has a JSON twin under `/api`. Outside tools rely on "
            "`results[].id` (P01…P20) and `results[].score` of `/api/search`. "
            f"Queries are limited to {MAX_QUERY_CHARS} characters, bodies to "
            f"{MAX_BODY_BYTES} bytes; errors are JSON `{{\"error\": …, \"detail\": …}}`."
        ),
        docs_url=None,  # the stock Swagger UI loads from a CDN: banks run offline
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.engine = engine
    app.state.catalog = Catalog(engine)
    app.state.templates = make_templates(Path(s.templates))
    app.state.public_url = (public_url or os.environ.get("TONGDIAN_PUBLIC_URL") or "").rstrip("/")

    install_error_handlers(app)
    app.include_router(json_api.router)
    app.include_router(pages.router)
    static_dir = Path(s.templates) / "static"
    app.state.static_dir = static_dir
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")

    # outermost last: security headers also cover the body-limit's 413
    app.add_middleware(BodyLimitMiddleware, limit=MAX_BODY_BYTES)
    app.add_middleware(SecurityHeadersMiddleware)
    return app

