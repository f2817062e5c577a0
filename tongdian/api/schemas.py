"""Bodies of the JSON API's requests (and the chat envelope); every answer's shape is
``tongdian.core.models``, shared with the pages and the CLI.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tongdian.core.config import MAX_K, MAX_QUERY_CHARS
from tongdian.core.models import SearchResponse


class ErrorBody(BaseModel):
    """Every 4xx/5xx JSON body: a sentence for people plus machine-readable detail."""

    error: str = Field(description="what went wrong, in a sentence")
    detail: Any = Field(None, description="field-level problems, limits, or null")


class SearchRequest(BaseModel):
    """``POST /api/search`` body; POST exists for briefings too long for a URL."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(description=f"the bank's problem, up to {MAX_QUERY_CHARS} characters")
    k: int = Field(5, ge=1, le=MAX_K, description="how many pain points to return")


class ChatRequest(BaseModel):
    """``POST /api/chat`` body, the shape chat-tool webhooks can fill in without code."""

    model_config = ConfigDict(extra="ignore")  # bots send extra envelope fields; ignore them

    message: str = Field(description=f"the user's message, up to {MAX_QUERY_CHARS} characters")
    k: int = Field(3, ge=1, le=MAX_K, description="how many pain points to mention")


class ChatResponse(BaseModel):
    reply: str = Field(description="ready-to-post Markdown; the user's text in it is neutralised")
    url: str = Field(description="the page of the best match, or of all pain points")
    result: SearchResponse
