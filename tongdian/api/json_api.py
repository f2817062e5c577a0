"""The JSON API under ``/api``: the twin of every page, plus the chat-bot endpoint.

Routes are thin: they validate input, call the engine or the ``Catalog``, and return
pydantic models (which is what OpenAPI at ``/docs`` documents). Errors are raised as
``ApiError`` and rendered as ``{"error": …, "detail": …}`` by the handlers in ``app.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ValidationError

from tongdian.core.config import MAX_K, MAX_QUERY_CHARS
from tongdian.core.models import (
    Health,
    PainPointDetail,
    PainPointList,
    RiskList,
    SearchResponse,
    TechnologyList,
)

from .deps import CatalogDep, EngineDep, base_url, run_search
from .errors import ApiError
from .render import chat_markdown
from .schemas import ChatRequest, ChatResponse, ErrorBody, SearchRequest

router = APIRouter(prefix="/api", tags=["api"])

M = TypeVar("M", bound=BaseModel)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "empty query or malformed body"},
    413: {"model": ErrorBody, "description": f"query over {MAX_QUERY_CHARS} characters, "
                                             "or body over 64 KB"},
    415: {"model": ErrorBody, "description": "body is neither JSON nor a form"},
    422: {"model": ErrorBody, "description": "a parameter has the wrong type or range"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such id"},
}



def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body the route parses itself (to choose 400/415/422 precisely)."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": schema},
    }}}


async def parse_body(request: Request, model: type[M]) -> M:
    """Parse a JSON or form body into ``model`` with exact, user-facing error statuses.

    FastAPI's own body handling answers a wrong content type or broken JSON with a 422
    that names pydantic internals; chat tools and curl users deserve "415: send JSON" and
    "400: malformed JSON" instead. The body size was already capped by the middleware.
    """
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if ctype == "application/json" or ctype.endswith("+json"):
            raw = await request.body()
            if not raw.strip():
                raise ApiError(400, "empty body: send a JSON object such as {\"q\": \"…\"}")
            return model.model_validate_json(raw)
        if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            return model.model_validate({k: v for k, v in form.items() if isinstance(v, str)})
    except ValidationError as e:
        errors = [{"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
                  for err in e.errors()]
        if any(err["type"] == "json_invalid" for err in errors):
            raise ApiError(400, "malformed JSON body", errors) from None
        where = ", ".join(".".join(err["loc"]) or "body" for err in errors[:3])
        raise ApiError(422, f"invalid request body: {where}", errors) from None
    raise ApiError(415, f"unsupported content type {ctype[:60]!r}: send application/json",
                   {"accepted": ["application/json", "application/x-www-form-urlencoded"]})


def as_json(model: BaseModel) -> Response:
    """The model serialised once, by pydantic-core.

    Returned as a ``Response``, FastAPI sends it as is instead of validating the object
    against ``response_model`` again and encoding it in Python: about a millisecond per
    search answer, most of what HTTP added to a search. ``response_model`` still documents
    the shape in OpenAPI, and the schemathesis test checks that the answers conform.
    """
    return Response(content=model.model_dump_json(), media_type="application/json")


# -- search ------------------------------------------------------------------------------------


@router.get("/search", response_model=SearchResponse, responses={**ERRORS},
            summary="Rank the pain points a short text describes")
async def search_get(
    engine: EngineDep,
    q: Annotated[str | None, Query(description=f"the bank's problem (≤ {MAX_QUERY_CHARS} "
                                                "characters; use POST for long briefings)")] = None,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="how many pain points")] = 5,
) -> Response:
    """Best first; `results[].id` is the pain-point id and `results[].score` its score.

    `matched: false` means no good match: the results are then only suggestions.
    """
    return as_json(await run_search(engine, q or "", k))


@router.post("/search", response_model=SearchResponse, responses={**ERRORS},
             openapi_extra=_body_doc(SearchRequest),
             summary="Rank the pain points a (long) text describes")
async def search_post(request: Request, engine: EngineDep) -> Response:
    """Same answer as `GET /api/search`; for briefings, `segments` says which part of the
    text evidences which pain point."""
    body = await parse_body(request, SearchRequest)
    return as_json(await run_search(engine, body.q, body.k))


# -- chat ----------------------------------------------------------------------------------


@router.post("/chat", response_model=ChatResponse, responses={**ERRORS},
             openapi_extra=_body_doc(ChatRequest),
             summary="A ready-to-post Markdown reply for chat tools")
async def chat(request: Request, engine: EngineDep) -> Response:
    """Takes `{"message": "…"}`; returns `reply` (Markdown a bot can forward as is: the
    user's words in it are neutralised, so they cannot format, link or mention), the
    page `url` of the best match and the structured `result`."""
    body = await parse_body(request, ChatRequest)
    r = await run_search(engine, body.message, body.k)
    base = base_url(request)
    url = f"{base}/p/{r.results[0].id}" if r.matched and r.results else f"{base}/"
    return as_json(ChatResponse(reply=chat_markdown(r, base, k=body.k), url=url, result=r))


# -- the corpus ---------------------------------------------------------------------------


@router.get("/painpoints", response_model=PainPointList,
            responses={400: {"model": ErrorBody, "description": "unknown filter value"}},
            summary="All twenty pain points with their remedies (twin of /)")
async def painpoints(
    catalog: CatalogDep,
    tech: Annotated[str | None, Query(description="keep those with this technology id")] = None,
    risk: Annotated[str | None, Query(description="keep those carrying this risk id")] = None,
) -> PainPointList:
    """Facet counts say how many pain points each technology / risk would leave."""
    return catalog.listing(tech, risk)


@router.get("/painpoints/{pid}", response_model=PainPointDetail, responses={**NOT_FOUND},
            summary="One pain point in full (twin of /p/{pid})")
async def painpoint(pid: str, catalog: CatalogDep) -> PainPointDetail:
    """`pid` is P01…P20 (case-insensitive); anything else is a 404."""
    return catalog.detail(pid)


@router.get("/risks", response_model=RiskList,
            summary="The seven risks and the pain points that carry them (twin of /risks)")
async def risks(catalog: CatalogDep) -> RiskList:
    return catalog.risks


@router.get("/technologies", response_model=TechnologyList,
            summary="Technologies and the pain-point × technology matrix (twin of /technologies)")
async def technologies(catalog: CatalogDep) -> TechnologyList:
    return catalog.technologies


@router.get("/health", response_model=Health, summary="Index loaded, embedder, corpus version")
async def health(catalog: CatalogDep) -> Health:
    return catalog.health()
