"""``POST /retrieval``: Dify's External Knowledge API, so Dify (and the FastGPT/MaxKB-style
tools that speak the same contract) can use the pain points as an external knowledge base.

The contract is Dify's published spec: ``knowledge_id``, ``query``,
``retrieval_setting.{top_k, score_threshold}``, optional ``metadata_condition`` in;
``{"records": [{content, score, title, metadata}]}`` out, ``{"records": []}`` when nothing
qualifies, and ``{"error_code", "error_msg"}`` on failure (1001/1002 with 403 from the
auth middleware, 2001 with 404 for an unknown ``knowledge_id``).

Ranking is ``/api/search``'s, including its "no good match": when the search judges that
the question describes no bank pain point, no record is returned, whatever the threshold —
records handed to an LLM as knowledge are read as relevant, and suggestions are not.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from tongdian.core.answers.models import Result
from tongdian.core.config import MAX_K

from ..auth import DIFY_NO_KNOWLEDGE, DIFY_PATH
from ..bodies import as_json, body_doc, parse_body
from ..deps import EngineDep, base_url, run_search
from ..errors import ApiError, DifyError
from ..knowledge import passage
from ..schemas import (
    DifyErrorBody,
    MetadataCondition,
    MetadataFilter,
    RetrievalRecord,
    RetrievalRequest,
    RetrievalResponse,
)

router = APIRouter(tags=["dify"])

#: The knowledge bases this service holds, as Dify's "External Knowledge ID" names them.
KNOWLEDGE_IDS = frozenset({"tongdian"})

_ERR = {"model": DifyErrorBody}
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_ERR, "description": "empty query or malformed JSON"},
    401: {**_ERR, "description": "never sent: Dify expects 403 for key problems"},
    403: {**_ERR, "description": "1001 malformed Authorization header, 1002 wrong key or "
                                 "(without keys configured) not a loopback client"},
    404: {**_ERR, "description": "2001: no knowledge base with this knowledge_id"},
    413: {**_ERR, "description": "query or body too long"},
    415: {**_ERR, "description": "body is not JSON"},
    422: {**_ERR, "description": "a field is missing or out of range"},
}


def record_metadata(x: Result, url: str) -> dict[str, Any]:
    """What a Dify workflow can filter or show: ids rather than prose."""
    return {
        "id": x.id, "number": x.number, "title": x.title, "title_en": x.title_en,
        "technologies": list(dict.fromkeys(t.id for a in x.approaches for t in a.tech)),
        "risks": [r.id for r in x.risks], "confidence": x.confidence, "url": url,
        "evidence": x.evidence.text,
    }


# -- metadata_condition ------------------------------------------------------------------------

_NEGATIVE = {"not contains", "is not", "not in", "≠", "not empty", "not null"}


def _one(field: Any, op: str, value: Any) -> bool:
    """One operator against one metadata value. A list field (technologies, risks) matches
    when any element does; the negative operators hold when no element matches."""
    if op in ("empty", "null"):
        return field in (None, "", [])
    if op in ("not empty", "not null"):
        return field not in (None, "", [])
    if field is None:
        return op in _NEGATIVE
    if op in _NEGATIVE:
        positive = {"not contains": "contains", "is not": "is", "not in": "in", "≠": "="}[op]
        return not _one(field, positive, value)
    if isinstance(field, list):
        return any(_one(f, op, value) for f in field)
    if op in ("=", ">", "<", "≥", "≤"):
        if isinstance(field, bool) or not isinstance(field, int | float):
            return False
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        return {"=": field == v, ">": field > v, "<": field < v, "≥": field >= v,
                "≤": field <= v}[op]
    text, want = str(field), value
    if op == "in":
        return isinstance(want, list) and text in [str(w) for w in want]
    if want is None or isinstance(want, list):
        return False
    want = str(want)
    return {"contains": want in text, "start with": text.startswith(want),
            "end with": text.endswith(want), "is": text == want}.get(op, False)  # before/after: no dates here


def condition_holds(meta: dict[str, Any], c: MetadataCondition) -> bool:
    names = [c.name] if isinstance(c.name, str) else c.name
    return any(_one(meta.get(n), c.comparison_operator, c.value) for n in names)


def passes(meta: dict[str, Any], f: MetadataFilter | None) -> bool:
    if f is None or not f.conditions:
        return True
    checks = (condition_holds(meta, c) for c in f.conditions)
    return all(checks) if f.logical_operator == "and" else any(checks)


# -- the route ---------------------------------------------------------------------------------


@router.post(DIFY_PATH, response_model=RetrievalResponse, responses=RESPONSES,
             openapi_extra=body_doc(RetrievalRequest),
             summary="Dify External Knowledge API: records for a question")
async def retrieval(request: Request, engine: EngineDep) -> Response:
    """`score` is the calibrated confidence (0–1) that the record is the pain point the
    query describes; records below `score_threshold` are left out, at most `top_k` are
    returned, and `metadata` is always an object."""
    try:
        body = await parse_body(request, RetrievalRequest)
    except ApiError as e:
        raise DifyError(e.status, e.status, e.error) from None
    if body.knowledge_id not in KNOWLEDGE_IDS:
        raise DifyError(404, DIFY_NO_KNOWLEDGE,
                        f"The knowledge does not exist: {body.knowledge_id[:60]!r} "
                        f"(this service holds {', '.join(sorted(KNOWLEDGE_IDS))})")
    try:
        r = await run_search(engine, body.query, MAX_K)
    except ApiError as e:
        raise DifyError(e.status, e.status, e.error) from None
    if not r.matched:
        return as_json(RetrievalResponse(records=[]))
    base = base_url(request)
    top_k = min(body.retrieval_setting.top_k, MAX_K)
    records: list[RetrievalRecord] = []
    for x in r.results:
        if x.confidence < body.retrieval_setting.score_threshold:
            continue
        url = f"{base}/p/{x.id}"
        meta = record_metadata(x, url)
        if not passes(meta, body.metadata_condition):
            continue
        records.append(RetrievalRecord(
            content=passage(x, x.approaches, x.risks, url), score=x.confidence,
            title=f"{x.id} {x.title}", metadata=meta))
        if len(records) == top_k:
            break
    return as_json(RetrievalResponse(records=records))
