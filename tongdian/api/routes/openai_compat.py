"""``/v1``: an OpenAI-compatible model named ``tongdian``, for chat front-ends (Open WebUI,
LobeChat, NextChat…) that add any "OpenAI-compatible" base URL as a model.

The "model" is the search: ``POST /v1/chat/completions`` answers the last user message with
exactly the Markdown ``/api/chat`` posts, whole (``stream: false``) or as server-sent events
(``stream: true``: ``data: {chunk}`` lines ending with ``data: [DONE]``). Nothing is
generated, so the stream sends the finished reply a line at a time — front-ends render it
as it arrives — and the search runs before the first byte, so a bad query is still a plain
4xx, never a stream that breaks half-way.

``usage`` counts characters, not tokens (see ``Usage``): there is no language model and no
tokenizer whose tokens would mean anything to a bill.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from ..bodies import ERRORS, as_json, body_doc, parse_body
from ..chat import chat_markdown
from ..deps import EngineDep, base_url, run_search
from ..errors import ApiError
from ..schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ErrorBody,
    ModelCard,
    ModelList,
    Usage,
)

router = APIRouter(prefix="/v1", tags=["openai"])

MODEL_ID = "tongdian"
#: Pain points an answer mentions, as ``/api/chat``'s default.
REPLY_K = 3

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "API keys are configured and none (or a wrong "
                                             "one) was sent as 'Authorization: Bearer <key>'"},
    403: {"model": ErrorBody, "description": "no keys configured and the caller is not this "
                                             "machine"},
}


def _created(request: Request) -> int:
    """The model's ``created``: when the served index was built (a real date, not 0)."""
    built = str(request.app.state.engine.index.manifest.built_at)
    try:
        return int(datetime.fromisoformat(built.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


@router.get("/models", response_model=ModelList, responses=AUTH_ERRORS,
            summary="The one model: 'tongdian'")
async def models(request: Request) -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL_ID, created=_created(request), owned_by="tongdian")])


def last_user_text(body: ChatCompletionRequest) -> str:
    """The message to answer: the last one from the user (system prompts and history that
    front-ends prepend are context for an LLM, and there is none here)."""
    for m in reversed(body.messages):
        if m.role == "user":
            return m.text()
    raise ApiError(422, "invalid request body: messages has no 'user' message",
                   [{"loc": ["messages"], "msg": "needs a message with role 'user'",
                     "type": "value_error"}])


def _sse(obj: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()


def stream_chunks(cid: str, created: int, reply: str, usage: Usage | None) -> Iterator[bytes]:
    """OpenAI's chunk sequence: the role, the reply a line at a time, the stop, [DONE]."""
    head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID}

    def chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
        return _sse({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    yield chunk({"role": "assistant", "content": ""})
    for line in reply.splitlines(keepends=True):
        yield chunk({"content": line})
    yield chunk({}, "stop")
    if usage is not None:  # asked for with stream_options.include_usage, as OpenAI does
        yield _sse({**head, "choices": [], "usage": usage.model_dump()})
    yield b"data: [DONE]\n\n"


@router.post("/chat/completions", response_model=ChatCompletion,
             responses={**ERRORS, **AUTH_ERRORS,
                        200: {"content": {"text/event-stream": {}},
                              "description": "with stream: true, server-sent events"},
                        404: {"model": ErrorBody, "description": "unknown model"}},
             openapi_extra=body_doc(ChatCompletionRequest),
             summary="Answer the last user message with the pain points it describes")
async def chat_completions(request: Request, engine: EngineDep) -> Response:
    """Same Markdown as `/api/chat`. `usage` counts characters: `prompt_tokens` those of
    the user message searched, `completion_tokens` those of the reply."""
    body = await parse_body(request, ChatCompletionRequest)
    if body.model != MODEL_ID:
        raise ApiError(404, f"unknown model {body.model[:60]!r}: this server has '{MODEL_ID}'",
                       {"models": [MODEL_ID]})
    question = last_user_text(body)
    r = await run_search(engine, question, REPLY_K)
    reply = chat_markdown(r, base_url(request), k=REPLY_K)
    asked = len(question.strip())
    usage = Usage(prompt_tokens=asked, completion_tokens=len(reply),
                  total_tokens=asked + len(reply))
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.stream:
        wanted = usage if body.stream_options and body.stream_options.include_usage else None
        return StreamingResponse(stream_chunks(cid, created, reply, wanted),
                                 media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})
    return as_json(ChatCompletion(
        id=cid, created=created, model=MODEL_ID,
        choices=[Choice(index=0, message=AssistantMessage(content=reply))], usage=usage))
