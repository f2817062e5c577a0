"""Pure-ASGI middlewares every response passes through: security headers, a body cap with a
read deadline, and HEAD answered as GET without the body.

Pure ASGI rather than ``BaseHTTPMiddleware`` so that each costs one header merge or one
byte count per message and cannot interfere with streaming or exception handling. The
limits themselves live in ``tongdian.core.config`` (one place for every number).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from fastapi.responses import JSONResponse

from tongdian.core.config import BODY_READ_SECONDS, EDIT_BODY_BYTES, MAX_BODY_BYTES

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; "
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


class _BodyTooSlow(Exception):
    pass


#: Paths whose PUT/POST is a knowledge-base edit (an entry, or the edit form): ``EDIT_BODY_BYTES``.
_EDIT_PREFIXES = ("/api/painpoints", "/api/cases", "/api/technologies", "/api/risks/",
                  "/admin/p/")
#: Dify's External Knowledge API knows one error shape; its route gets it for 413/408 too.
_DIFY_PATH = "/retrieval"


def edit_body_limit(scope: Scope) -> int | None:
    """The body limit of an edit (PUT/POST of an entry), None for every other request."""
    path = str(scope.get("path", ""))
    if scope.get("method") in ("PUT", "POST") and path.startswith(_EDIT_PREFIXES):
        return EDIT_BODY_BYTES
    return None


async def send_json(send: Send, status: int, body: bytes,
                    extra: list[tuple[bytes, bytes]] | None = None) -> None:
    """A whole JSON response from a middleware (before or instead of the app)."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


def error_body(path: str, status: int, error: str, detail: Any) -> bytes:
    """The error in the dialect of the path: Dify's on ``/retrieval``, the house one elsewhere."""
    if path == _DIFY_PATH:
        return JSONResponse({"error_code": status, "error_msg": error}).body
    return JSONResponse({"error": error, "detail": detail}).body


class BodyLimitMiddleware:
    """Rejects request bodies over ``limit`` bytes with 413, before any parser sees them, and
    bodies that take longer than ``read_seconds`` to arrive with 408.

    A declared ``Content-Length`` over the limit is refused without reading a byte; a
    chunked body is counted as it streams and refused as soon as it passes the limit. The
    deadline covers the whole body (uvicorn has no body timeout of its own: a client that
    declares 100 bytes and sends 10 would otherwise hold its connection forever); the 408
    says ``Connection: close``, so the server hangs up on it.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES,
                 limit_for: Callable[[Scope], int | None] | None = edit_body_limit,
                 read_seconds: float = BODY_READ_SECONDS) -> None:
        self.app = app
        self.limit = limit
        self.limit_for = limit_for  # a larger limit for some routes (knowledge-base edits)
        self.read_seconds = read_seconds

    async def _reject(self, scope: Scope, send: Send, limit: int) -> None:
        body = error_body(str(scope.get("path", "")), 413,
                          f"request body too large: the limit is {limit} bytes",
                          {"limit_bytes": limit})
        await send_json(send, 413, body)

    async def _too_slow(self, scope: Scope, send: Send) -> None:
        body = error_body(str(scope.get("path", "")), 408,
                          f"request body not received within {self.read_seconds:g} seconds",
                          {"body_read_seconds": self.read_seconds})
        await send_json(send, 408, body, [(b"connection", b"close")])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (self.limit_for(scope) if self.limit_for else None) or self.limit
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    await self._reject(scope, send, limit)
                    return
        seen = 0
        started = False
        body_done = False
        deadline = anyio.current_time() + self.read_seconds

        async def counting_receive() -> Message:
            nonlocal seen, body_done
            if body_done:  # e.g. a streaming response waiting for the disconnect
                return await receive()
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    message = await receive()
            except TimeoutError:
                raise _BodyTooSlow from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge
                body_done = not message.get("more_body", False)
            else:
                body_done = True
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
                await self._reject(scope, send, limit)
        except _BodyTooSlow:
            if not started:
                await self._too_slow(scope, send)


class HeadMiddleware:
    """``HEAD`` on every ``GET`` route: the GET's status and headers, no body.

    FastAPI routes answer only the methods they declare, so without this a load balancer
    or monitor probing ``HEAD /api/health`` got 405 and marked the replica down. The
    request runs as the GET (one code path; a route without GET still answers 405).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def bodiless_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {"type": "http.response.body", "body": b"",
                           "more_body": message.get("more_body", False)}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, bodiless_send)
