"""Small request-scoped helpers shared by the JSON routes and the pages."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from tongdian.config import MAX_K, MAX_QUERY_CHARS
from tongdian.engine import Engine, QueryError
from tongdian.models import SearchResponse

from .catalog import Catalog
from .errors import ApiError, query_status


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog  # type: ignore[no-any-return]


def base_url(request: Request) -> str:
    """Where links in chat replies point: the configured public URL, else this request's."""
    configured: str = request.app.state.public_url
    return configured or str(request.base_url).rstrip("/")


async def run_search(engine: Engine, q: object, k: int) -> SearchResponse:
    """``engine.search`` off the event loop, with its ``QueryError`` mapped to 400 or 413.

    The search is CPU-bound (~20 ms); running it in the thread pool keeps one slow
    briefing from stalling every other request on the event loop.
    """
    try:
        return await run_in_threadpool(engine.search, q, k)  # type: ignore[arg-type]
    except QueryError as e:
        raise ApiError(query_status(q), str(e),
                       {"max_query_chars": MAX_QUERY_CHARS, "max_k": MAX_K}) from None
