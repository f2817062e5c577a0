"""``/api/search``: rank the pain points a text describes (GET for short texts, POST for
briefings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tongdian.core.answers.models import SearchResponse
from tongdian.core.config import MAX_K, MAX_NOTE_CHARS, MAX_QUERY_CHARS

from ..bodies import ERRORS, as_json, body_doc, parse_body
from ..deps import EngineDep, run_search
from ..schemas import SearchRequest
from ..typed import only_kinds

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/search", response_model=SearchResponse, responses={**ERRORS},
            summary="Rank the pain points a short text describes")
async def search_get(
    engine: EngineDep,
    q: Annotated[str | None, Query(description=f"the bank's problem (≤ {MAX_QUERY_CHARS} "
                                                "characters; use POST for long briefings)")] = None,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="how many pain points")] = 5,
    kinds: Annotated[str | None, Query(max_length=200, description="comma-separated kinds of "
                                       "`answers` to keep (painpoint, risk, technology, "
                                       "cooperation, case); default all")] = None,
) -> Response:
    """Best first; `results[].id` is the pain-point id and `results[].score` its score.

    `matched: false` means no good match: the results are then only suggestions.
    """
    return as_json(only_kinds(await run_search(engine, q or "", k), kinds))


@router.post("/search", response_model=SearchResponse, responses={**ERRORS},
             openapi_extra=body_doc(SearchRequest),
             summary="Rank the pain points a (long) text describes")
async def search_post(request: Request, engine: EngineDep) -> Response:
    """Same answer as `GET /api/search`, for whole meeting notes (see the limits above); `segments` says which part of the text evidences which pain point, and which
    parts describe no problem (`problem: false`). `truncated` is true if any of it was not
    analysed (`analysed_chars` of `chars`)."""
    body = await parse_body(request, SearchRequest)
    return as_json(only_kinds(await run_search(engine, body.q, body.k, MAX_NOTE_CHARS),
                              body.kinds))
