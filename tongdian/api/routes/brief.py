"""``/api/brief``: the meeting brief as Markdown, DOCX or PDF; ``/api/r/{key}``: a stored
result's JSON (the twin of the permalink page ``/r/{key}``).

The brief is built from a search answer: of a text (``q``, by GET for short texts or by a
JSON/form POST for whole notes) or of a stored result (``key``), so the button on a
permalink page never re-sends the note. Rendering runs off the event loop (a PDF takes a
second or two of CPU).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tongdian.core.brief import FIELD_CHARS, brief_markdown, build_brief
from tongdian.core.brief_pdf import PdfUnavailable, brief_pdf
from tongdian.core.config import MAX_K, MAX_NOTE_CHARS, MAX_QUERY_CHARS
from tongdian.core.models import SearchResponse
from tongdian.core.permalinks import PermalinkStore
from tongdian.extras import require

from ..bodies import ERRORS, NOT_FOUND, as_json, body_doc, parse_body
from ..deps import CatalogDep, EngineDep, base_url, run_search
from ..errors import ApiError
from ..schemas import ErrorBody

router = APIRouter(prefix="/api", tags=["api"])

Format = Literal["md", "docx", "pdf"]
MEDIA = {
    "md": "text/markdown; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}


BRIEF_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS, **NOT_FOUND,
    200: {"description": "the brief as a file (Markdown, DOCX or PDF)",
          "content": {m.split(";")[0]: {} for m in MEDIA.values()}},
    501: {"model": ErrorBody, "description": "the format's extra (tongdian[pdf] or [docx]) "
                                            "is not installed"},
    503: {"model": ErrorBody, "description": "PDF asked for but WeasyPrint/pango is missing"},
}


class BriefRequest(BaseModel):
    """``POST /api/brief`` body: the text (or a stored result's key) and the header fields."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(None, description=f"the client's text, up to {MAX_NOTE_CHARS} characters")
    key: str | None = Field(None, description="a stored result's key (from /r/<key>) instead of q")
    format: Format = Field("md", description="md, docx or pdf")
    k: int = Field(5, ge=1, le=MAX_K, description="how many pain points at least")
    title: str | None = Field(None, max_length=FIELD_CHARS, description="the brief's title")
    client: str | None = Field(None, max_length=FIELD_CHARS, description="the client's name")
    date: str | None = Field(None, max_length=40, description="the meeting date (default: today)")


async def _answer(request: Request, engine: EngineDep, body: BriefRequest,
                  max_chars: int) -> SearchResponse:
    if body.key:
        store: PermalinkStore = request.app.state.permalinks
        return store.load(body.key).response
    if body.q is None:
        raise ApiError(400, "send q (the client's text) or key (a stored result)")
    return await run_search(engine, body.q, body.k, max_chars)


async def _render(request: Request, catalog: CatalogDep, r: SearchResponse,
                  body: BriefRequest) -> Response:
    b = build_brief(r, catalog.engine.corpus, title=body.title, client=body.client,
                    date=body.date)
    if body.format == "md":
        content: bytes = brief_markdown(b, base_url(request)).encode()
    elif body.format == "docx":
        require("docx")  # MissingExtra -> 501 naming the extra (handlers.py)
        from tongdian.core.brief_docx import brief_docx

        content = await anyio.to_thread.run_sync(brief_docx, b)
    else:
        require("pdf")
        try:
            content = await anyio.to_thread.run_sync(brief_pdf, b)
        except PdfUnavailable as e:
            raise ApiError(503, str(e)) from None
    # the file name carries only safe characters: the date field is user text
    stamp = re.sub(r"[^0-9A-Za-z-]", "", b["date"])[:20] or "brief"
    name = f"tongdian-brief-{stamp}.{body.format}"
    return Response(content, media_type=MEDIA[body.format],
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/brief", responses=BRIEF_RESPONSES,
            summary="The meeting brief of a short text (or of a stored result)")
async def brief_get(
    request: Request,
    engine: EngineDep,
    catalog: CatalogDep,
    q: Annotated[str | None, Query(description=f"the client's text (≤ {MAX_QUERY_CHARS} "
                                                "characters; POST for whole notes)")] = None,
    key: Annotated[str | None, Query(description="a stored result's key instead of q",
                                     max_length=64)] = None,
    format: Annotated[Format, Query(description="md, docx or pdf")] = "md",
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 5,
    title: Annotated[str | None, Query(max_length=FIELD_CHARS)] = None,
    client: Annotated[str | None, Query(max_length=FIELD_CHARS)] = None,
    date: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Title, client and date, the client's text, each problem → its pain point with the
    evidence, approaches with technologies, risks with the report's controls, case figures,
    the source attribution and the disclaimer; no scores."""
    body = BriefRequest(q=q, key=key, format=format, k=k, title=title, client=client, date=date)
    r = await _answer(request, engine, body, MAX_QUERY_CHARS)
    return await _render(request, catalog, r, body)


@router.post("/brief", responses=BRIEF_RESPONSES, openapi_extra=body_doc(BriefRequest),
             summary="The meeting brief of a whole note (JSON or form body)")
async def brief_post(request: Request, engine: EngineDep, catalog: CatalogDep) -> Response:
    """Same as `GET /api/brief`, for texts up to 20,000 characters."""
    body = await parse_body(request, BriefRequest)
    r = await _answer(request, engine, body, MAX_NOTE_CHARS)
    return await _render(request, catalog, r, body)


@router.get("/r/{key}", response_model=SearchResponse, responses={**NOT_FOUND},
            summary="A stored result (the JSON twin of the permalink page /r/{key})")
async def stored(request: Request, key: str) -> Response:
    store: PermalinkStore = request.app.state.permalinks
    return as_json(store.load(key).response)
