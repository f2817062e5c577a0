"""Small request-scoped helpers shared by the JSON routes and the pages."""

from __future__ import annotations

import asyncio
import weakref
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request

from tongdian.core.answers.models import SearchResponse
from tongdian.core.config import MAX_K, MAX_QUERY_CHARS
from tongdian.core.errors import QueryError
from tongdian.core.search.catalog import Catalog
from tongdian.core.search.engine import Engine

from .errors import ApiError, query_status
from .links import with_links


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog  # type: ignore[no-any-return]


#: Route parameters: declared once, used by every router.
EngineDep = Annotated[Engine, Depends(get_engine)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def base_url(request: Request) -> str:
    """Where links in replies and briefs point: the configured public URL (``TONGDIAN_PUBLIC_URL``),
    else nothing, so links are relative paths (``/p/P14``).

    Never the request's ``Host`` header: a client (or a proxy that passes it on) chooses that
    freely, and a reply that a bot posts or a brief that is forwarded would then carry links to
    whatever host the caller named (``Host: evil.example`` → ``http://evil.example/p/P14``).
    """
    configured: str = request.app.state.public_url
    return configured


#: Searches running at once in one server process (the rest wait their turn).
SEARCH_WORKERS = 16
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> anyio.CapacityLimiter:
    """One limiter per event loop (a limiter cannot be shared between loops; tests run several)."""
    loop = asyncio.get_running_loop()
    lim = _LIMITERS.get(loop)
    if lim is None:
        lim = _LIMITERS[loop] = anyio.CapacityLimiter(SEARCH_WORKERS)
    return lim


async def search_off_loop(engine: Engine, q: object, k: int,
                          max_chars: int = MAX_QUERY_CHARS) -> SearchResponse:
    """``engine.search`` in a worker thread under the per-loop limiter; ``QueryError`` is
    left to the caller (links filled: every adapter serves it), which knows its client's error dialect (HTTP, Dify, MCP)."""
    r = await anyio.to_thread.run_sync(engine.search, q, k, max_chars,  # type: ignore[arg-type]
                                       limiter=_limiter())
    return with_links(r)


async def run_search(engine: Engine, q: object, k: int,
                     max_chars: int = MAX_QUERY_CHARS) -> SearchResponse:
    """``engine.search`` off the event loop, with its ``QueryError`` mapped to 400 or 413.

    The search is CPU-bound (~20 ms); running it in a worker thread keeps one slow
    briefing from stalling every other request on the event loop. At most
    ``SEARCH_WORKERS`` searches run at once: the embedder serialises them anyway (merging
    what queues up into one batch), so more threads only hold more memory in flight.
    """
    try:
        return await search_off_loop(engine, q, k, max_chars)
    except QueryError as e:
        raise ApiError(query_status(q, max_chars), str(e),
                       {"max_query_chars": max_chars, "max_k": MAX_K}) from None
