"""Who may call the machine routes (``/v1/*``, ``/retrieval``, ``/mcp``).

The pages and ``/api`` stay open: people read them in a browser. The machine routes are
what chat platforms call, usually from another host, and a bank must be able to say which
platforms. So: with keys configured (``TONGDIAN_API_KEYS`` or ``TONGDIAN_API_KEYS_FILE``)
every call needs ``Authorization: Bearer <key>``; with none, only this machine may call
them — a client on a loopback address, asking for a loopback host name, not forwarded by a
proxy (a reverse proxy on the same host makes every client look like 127.0.0.1; the
``Host`` and ``X-Forwarded-*`` checks are what stop it from opening the routes to the
world, and they also stop a DNS-rebinding page in a local browser).

``/mcp`` also checks ``Origin``, as the MCP spec's transport security asks of every
streamable-HTTP server: a browser page may only call it from an allowed origin (the public
URL's, ``TONGDIAN_MCP_ORIGINS``, or a loopback page while the routes are loopback-only);
any other ``Origin`` is a 403. Clients that are not browsers send no ``Origin`` and are
judged by the rules above alone.

One pure-ASGI middleware rather than a FastAPI dependency, because ``/mcp`` is a mounted
ASGI app that dependencies never see, and one rule in one place is easier to audit.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from .middleware import ASGIApp, Receive, Scope, Send

#: Path prefixes of the machine routes, and the error dialect each speaks.
OPENAI_PREFIX = "/v1"
DIFY_PATH = "/retrieval"
MCP_PATH = "/mcp"

#: Dify's External Knowledge API error codes (its published spec).
DIFY_BAD_HEADER = 1001
DIFY_AUTH_FAILED = 1002
DIFY_NO_KNOWLEDGE = 2001

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
_PROXY_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-forwarded-host", b"x-real-ip")


def is_machine_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/")
               for p in (OPENAI_PREFIX, DIFY_PATH, MCP_PATH))


def is_loopback_ip(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(value: str) -> str:
    """``Host`` without its port: ``[::1]:8000`` → ``[::1]``, ``localhost:80`` → ``localhost``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def local_call(scope: Scope) -> bool:
    """Did this request come from this machine, for this machine, without a proxy?"""
    client = scope.get("client")
    if not client or not is_loopback_ip(client[0]):
        return False
    headers = dict(scope.get("headers") or [])
    if any(h in headers for h in _PROXY_HEADERS):
        return False
    host = headers.get(b"host", b"").decode("latin-1")
    name = _host_name(host)
    return name in _LOOPBACK_HOSTS or is_loopback_ip(name)


def bearer_token(scope: Scope) -> str | None:
    """The token of ``Authorization: Bearer <token>``, '' for any other shape, None if absent."""
    for k, v in scope.get("headers") or []:
        if k == b"authorization":
            raw = v.decode("latin-1").strip()
            scheme, _, token = raw.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token or " " in token:
                return ""
            return token
    return None


def key_matches(token: str, keys: Iterable[str]) -> bool:
    """Constant-time comparison against every key (no early exit that would time a prefix)."""
    ok = False
    given = token.encode("utf-8", "surrogateescape")
    for key in keys:
        ok |= hmac.compare_digest(given, key.encode("utf-8"))
    return ok


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased (how browsers send ``Origin``)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def mcp_origins(configured: Iterable[str], public_url: str | None) -> frozenset[str]:
    """The browser origins allowed to call ``/mcp``: the configured ones and the public URL's."""
    out = {o for o in (origin_of(c) for c in configured) if o}
    if public_url and (o := origin_of(public_url)):
        out.add(o)
    return frozenset(out)


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers") or []:
        if k == name:
            return v.decode("latin-1")
    return None


class MachineAuthMiddleware:
    """Bearer keys on the machine routes when configured, loopback-only otherwise.

    Errors speak each client's dialect: ``/retrieval`` answers Dify's ``{"error_code",
    "error_msg"}`` with the 403 Dify documents (Dify's save-time check treats 403 as "bad
    key"), the rest the house ``{"error", "detail"}`` with 401 + ``WWW-Authenticate`` for
    a missing or wrong key (what OpenAI and MCP clients expect) and 403 for "not from here".
    """

    def __init__(self, app: ASGIApp, keys: frozenset[str],
                 origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.keys = keys
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_machine_path(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, body, headers = refusal
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), *headers]})
        await send({"type": "http.response.body",
                    "body": json.dumps(body, ensure_ascii=False).encode("utf-8")})

    def refusal(self, scope: Scope) -> tuple[int, dict[str, object], list[tuple[bytes, bytes]]] | None:
        """None to let the request through, else (status, JSON body, extra headers)."""
        path = str(scope.get("path", ""))
        dify = path.startswith(DIFY_PATH)
        if path == MCP_PATH and not self.origin_allowed(scope):
            return 403, {"error": "this Origin may not call /mcp (DNS-rebinding protection): "
                                  "add it to TONGDIAN_MCP_ORIGINS to allow a web client there",
                         "detail": {"origin": (_header(scope, b"origin") or "")[:200]}}, []
        if not self.keys:
            if local_call(scope):
                return None
            msg = ("the machine routes (/v1, /retrieval, /mcp) answer only this machine "
                   "until API keys are configured: set TONGDIAN_API_KEYS on the server and "
                   "send 'Authorization: Bearer <key>'")
            if dify:
                return 403, {"error_code": DIFY_AUTH_FAILED, "error_msg": msg}, []
            return 403, {"error": msg, "detail": {"loopback_only": True}}, []
        token = bearer_token(scope)
        if token and key_matches(token, self.keys):
            return None
        challenge = [(b"www-authenticate", b'Bearer realm="tongdian"')]
        if dify:
            if not token:
                return 403, {"error_code": DIFY_BAD_HEADER,
                             "error_msg": "Invalid Authorization header format. Expected "
                                          "'Bearer <api-key>' format."}, []
            return 403, {"error_code": DIFY_AUTH_FAILED,
                         "error_msg": "Authorization failed: unknown API key."}, []
        if token is None:
            return 401, {"error": "missing API key: send 'Authorization: Bearer <key>'",
                         "detail": None}, challenge
        if token == "":
            return 401, {"error": "malformed Authorization header: expected 'Bearer <key>'",
                         "detail": None}, challenge
        return 401, {"error": "invalid API key", "detail": None}, challenge

    def origin_allowed(self, scope: Scope) -> bool:
        """No ``Origin`` (not a browser), an allowed one, or a loopback page calling a
        loopback-only server from this machine."""
        raw = _header(scope, b"origin")
        if raw is None:
            return True
        origin = origin_of(raw)
        if origin is None:  # "null" (a sandboxed page, a file://) or garbage
            return False
        if origin in self.origins:
            return True
        host = urlsplit(origin).hostname or ""
        return not self.keys and (host in _LOOPBACK_HOSTS or is_loopback_ip(host)) \
            and local_call(scope)
