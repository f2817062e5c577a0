"""``/api/brief``: the meeting brief as Markdown, DOCX or PDF; ``/api/r/{key}``: a stored
result's JSON (the twin of the permalink page ``/r/{key}``).

The brief is built from a search answer: of a text (``q``, by GET for short texts or by a
JSON/form POST for whole notes) or of a stored result (``key``), so the button on a
permalink page never re-sends the note. Markdown is written in the server; DOCX and PDF
are rendered in the render pool's worker processes (``tongdian.api.renderpool``), so a
crashing, hanging or swelling renderer fails its own request (503, said why) and nothing
else, and at most ``TONGDIAN_RENDER_WORKERS`` render at once.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from tongdian.core.answers import brief_pdf
from tongdian.core.answers.brief import FIELD_CHARS, brief_markdown, build_brief
from tongdian.core.answers.models import SearchResponse
from tongdian.core.answers.permalinks import PermalinkStore
from tongdian.core.config import MAX_K, MAX_NOTE_CHARS, MAX_QUERY_CHARS, Settings
from tongdian.extras import require

from ..bodies import ERRORS, NOT_FOUND, as_json, body_doc, parse_body
from ..deps import CatalogDep, EngineDep, base_url, run_search
from ..errors import ApiError
from ..links import brief_links
from ..renderpool import RenderBusy, RenderFailed, RenderPool
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
    503: {"model": ErrorBody, "description": "the document could not be rendered now: "
          "WeasyPrint/pango missing (the message names what to install), every render "
          "worker busy (with Retry-After), or the render failed (crash, time or memory limit)"},
}

#: The renderers the worker processes run, by format (module-level functions: a worker
#: imports them by name).
def _docx(b: dict[str, Any]) -> bytes:
    """DOCX in a render worker; python-docx is imported there (the ``docx`` extra)."""
    from tongdian.core.answers.brief_docx import brief_docx

    return brief_docx(b)


RENDERERS = {"docx": _docx, "pdf": brief_pdf.brief_pdf}


def install_briefs(app: FastAPI, settings: Settings) -> RenderPool:
    """Give the app its render pool (workers start on the first DOCX/PDF) and tell the
    pages whether PDF is possible here, so the button is not offered in vain."""
    pool = RenderPool(workers=settings.render_workers, timeout=settings.render_timeout,
                      queue_wait=settings.render_queue_wait, max_jobs=settings.render_max_jobs,
                      memory_mib=settings.render_memory_mib, nice=settings.render_nice)
    app.state.render_pool = pool
    app.state.templates.env.globals["brief_pdf_missing"] = lambda: brief_pdf.pdf_missing()
    return pool


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
        content: bytes = brief_markdown(b, brief_links(base_url(request))).encode()
    else:
        require(body.format)  # MissingExtra -> 501 naming the extra (handlers.py)
        content = await _in_worker(request, body.format, b)
    # the file name carries only safe characters: the date field is user text
    stamp = re.sub(r"[^0-9A-Za-z-]", "", b["date"])[:20] or "brief"
    name = f"tongdian-brief-{stamp}.{body.format}"
    return Response(content, media_type=MEDIA[body.format],
                    headers={"content-disposition": f'attachment; filename="{name}"'})


async def _in_worker(request: Request, fmt: str, b: dict[str, Any]) -> bytes:
    if fmt == "pdf" and (missing := brief_pdf.pdf_missing()):
        raise ApiError(503, missing)
    pool: RenderPool = request.app.state.render_pool
    try:
        return await pool.run(RENDERERS[fmt], b)
    except RenderBusy as e:
        raise HTTPException(503, str(e), headers={"Retry-After": str(e.retry_after)}) from None
    except (RenderFailed, brief_pdf.PdfUnavailable) as e:
        raise ApiError(503, f"{fmt.upper()} 简报未能生成：{e}；Markdown 版本仍可下载") from None


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
