"""Exception handlers: every user mistake becomes a 4xx with a clear message — JSON for
``/api/*`` and JSON clients, a page for the browser — so user input never produces a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Mount

from tongdian.core.answers.brief import NothingToBrief
from tongdian.core.config import MAX_K, MAX_QUERY_CHARS
from tongdian.core.errors import NotFound, QueryError, UnknownFilter
from tongdian.extras import MissingExtra

from .auth import DIFY_PATH, is_machine_path
from .errors import ApiError, DifyError
from .messages import page_message
from .middleware import Scope

log = logging.getLogger(__name__)


def wants_json(request: Request) -> bool:
    """JSON for the API, OpenAPI and machine paths, or when a client asks for JSON and not HTML."""
    path = request.url.path
    if (path.startswith("/api/") or path == "/api" or path == "/openapi.json"
            or is_machine_path(path)):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def served_count(request: Request) -> int | None:
    """How many pain points the engine being served holds (an edit swaps it), which the nav
    names the catalogue by; None (the report's own name) before an engine is up."""
    engine = getattr(request.app.state, "engine", None)
    return None if engine is None else len(engine.corpus.painpoints)


def error_response(request: Request, status: int, error: str, detail: Any = None) -> Response:
    if request.url.path == DIFY_PATH:
        # Dify shows ``error_msg`` to its user and knows no other shape; see DifyError
        return JSONResponse({"error_code": status, "error_msg": error}, status_code=status)
    if wants_json(request):
        return JSONResponse({"error": error, "detail": detail}, status_code=status)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html",
        {"status": status, "error": page_message(error, None, detail), "detail": detail,
         "json_url": None,
         "n_painpoints": served_count(request)},
        status_code=status,
    )


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Keep location, message and type; drop ``input``/``ctx`` (they may echo huge bodies)."""
    out = []
    for e in errors or []:
        loc = [str(p) for p in e.get("loc", ())]
        out.append({"loc": loc, "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))})
    return out


ZH_STATUS = {400: "请求有误", 404: "页面不存在", 405: "不支持的请求方法", 408: "请求超时",
             413: "内容太长", 415: "不支持的内容类型", 422: "参数有误", 429: "请求太频繁",
             500: "服务器内部错误"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MissingExtra)
    async def _missing_extra(request: Request, exc: MissingExtra) -> Response:
        # installed without an optional feature: say which extra brings it, no traceback
        return error_response(request, 501, str(exc), {"extra": exc.extra})

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        resp = error_response(request, exc.status, exc.error, exc.detail)
        resp.headers.update(exc.headers)
        return resp

    @app.exception_handler(DifyError)
    async def _dify_error(request: Request, exc: DifyError) -> Response:
        return JSONResponse({"error_code": exc.code, "error_msg": exc.msg},
                            status_code=exc.status)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        # 404 rather than 400: from the user's side the id is part of an address
        return error_response(request, 404, str(exc), exc.detail)

    @app.exception_handler(UnknownFilter)
    async def _unknown_filter(request: Request, exc: UnknownFilter) -> Response:
        return error_response(request, 400, str(exc), exc.detail)

    @app.exception_handler(NothingToBrief)
    async def _nothing_to_brief(request: Request, exc: NothingToBrief) -> Response:
        # the text was fine; there is just no match to write up
        return error_response(request, 422, str(exc), exc.detail)

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
    if "GET" in allowed:  # HeadMiddleware answers HEAD as GET without the body
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return allowed
