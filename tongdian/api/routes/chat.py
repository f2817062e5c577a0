"""``/api/chat``: a ready-to-post Markdown reply for chat tools' webhooks."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..bodies import ERRORS, as_json, body_doc, parse_body
from ..chat import chat_markdown
from ..deps import EngineDep, base_url, run_search
from ..schemas import ChatRequest, ChatResponse

router = APIRouter(prefix="/api", tags=["api"])


@router.post("/chat", response_model=ChatResponse, responses={**ERRORS},
             openapi_extra=body_doc(ChatRequest),
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
