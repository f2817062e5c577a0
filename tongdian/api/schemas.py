"""Bodies of the JSON API's requests (and the chat envelope); every answer's shape is
``tongdian.core.answers.models``, shared with the pages and the CLI.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tongdian.core.answers.models import SearchResponse
from tongdian.core.config import MAX_K, MAX_NOTE_CHARS, MAX_QUERY_CHARS


class ErrorBody(BaseModel):
    """Every 4xx/5xx JSON body: a sentence for people plus machine-readable detail."""

    error: str = Field(description="what went wrong, in a sentence")
    detail: Any = Field(None, description="field-level problems, limits, or null")


class SearchRequest(BaseModel):
    """``POST /api/search`` body; POST exists for briefings too long for a URL."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(description=f"the bank's problem or a whole meeting note, up to "
                   f"{MAX_NOTE_CHARS} characters")
    k: int = Field(5, ge=1, le=MAX_K, description="how many pain points to return at least "
                   "(every pain point a passage maps to confidently is returned as well)")
    kinds: str | None = Field(None, max_length=200, description="comma-separated kinds of "
                              "`answers` to keep: painpoint, risk, technology, cooperation, case")


class ChatRequest(BaseModel):
    """``POST /api/chat`` body, the shape chat-tool webhooks can fill in without code."""

    model_config = ConfigDict(extra="ignore")  # bots send extra envelope fields; ignore them

    message: str = Field(description=f"the user's message, up to {MAX_QUERY_CHARS} characters")
    k: int = Field(3, ge=1, le=MAX_K, description="how many pain points to mention")


class ChatResponse(BaseModel):
    reply: str = Field(description="ready-to-post Markdown; the user's text in it is neutralised")
    url: str = Field(description="the page of the best match, or of all pain points")
    result: SearchResponse


# -- Dify's External Knowledge API (POST /retrieval) -------------------------------------------
DifyOperator = Literal[
    "contains", "not contains", "start with", "end with", "is", "is not", "in", "not in",
    "empty", "not empty", "=", "≠", ">", "<", "≥", "≤", "before", "after", "null", "not null",
]


class RetrievalSetting(BaseModel):
    top_k: int = Field(ge=1, description=f"most records to return (above {MAX_K}: {MAX_K})")
    score_threshold: float = Field(ge=0.0, le=1.0, allow_inf_nan=False,
                                   description="least score (confidence) a record needs; "
                                               "Dify sends 0.0 when its threshold is off")


class MetadataCondition(BaseModel):
    # Dify's older spec documents ``name`` as a list of names, the current one as one name
    name: str | list[str] = Field(description="metadata field(s): id, title, title_en, "
                                              "technologies, risks, number, confidence")
    comparison_operator: DifyOperator
    value: str | float | list[str] | None = None


class MetadataFilter(BaseModel):
    logical_operator: Literal["and", "or"] = "and"
    conditions: list[MetadataCondition]


class RetrievalRequest(BaseModel):
    """Dify's request, exactly as its published spec has it; fields Dify may add later are
    ignored rather than refused, so a Dify upgrade cannot break retrieval."""

    model_config = ConfigDict(extra="ignore")

    knowledge_id: str = Field(description="'tongdian': the pain-point knowledge base")
    query: str = Field(description=f"the user's question, up to {MAX_QUERY_CHARS} characters")
    retrieval_setting: RetrievalSetting
    metadata_condition: MetadataFilter | None = None


class RetrievalRecord(BaseModel):
    content: str = Field(description="a self-contained passage: pain point, approaches, risks")
    score: float = Field(ge=0.0, le=1.0, description="the search's calibrated confidence")
    title: str
    metadata: dict[str, Any] = Field(description="always an object (Dify fails on null)")


class RetrievalResponse(BaseModel):
    records: list[RetrievalRecord]


class DifyErrorBody(BaseModel):
    error_code: int = Field(description="1001 malformed Authorization, 1002 authorization "
                                        "failed, 2001 no such knowledge; otherwise the HTTP status")
    error_msg: str


# -- OpenAI-compatible chat (/v1) --------------------------------------------------------------
class ContentPart(BaseModel):
    """One part of a multi-part message (Open WebUI and LobeChat send these); only text is read."""

    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The fields of OpenAI's request that mean something here; the sampling knobs front-ends
    always send (temperature, top_p, max_tokens…) are accepted and ignored: nothing samples."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="'tongdian' (GET /v1/models)")
    messages: list[ChatMessage] = Field(min_length=1,
                                        description="the last 'user' message is answered")
    stream: StrictBool = False  # "yes" is a client bug, not a yes
    stream_options: StreamOptions | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Usage(BaseModel):
    """Counted in characters (Unicode code points), not tokens: no language model runs here,
    so there are no tokens to count, and inventing some would mislead billing dashboards."""

    prompt_tokens: int = Field(description="characters of the user message that was searched")
    completion_tokens: int = Field(description="characters of the reply")
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
