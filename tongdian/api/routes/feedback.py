"""``/api/feedback``: rate or correct any answer; review, accept or reject corrections.

Sending feedback is open (whoever saw the answer may rate it); listing it shows users'
queries and accepting changes the knowledge base, so those need the admin token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from tongdian.core.config import FEEDBACK_PER_QUERY, MAX_OPEN_FEEDBACK
from tongdian.core.stewardship import feedback as fb
from tongdian.index.revstore import FeedbackFull

from ..bodies import ERRORS, body_doc, parse_body
from ..errors import ApiError
from ..kbauth import writer
from ..kbstate import kb_state
from ..ratelimit import count_write
from ..schemas import ErrorBody
from .revisions import (
    READ_ERRORS,
    WRITE_ERRORS,
    FeedbackId,
    Override,
    Publish,
    run,
    written,
)

router = APIRouter(prefix="/api", tags=["feedback"])


@router.post("/feedback", status_code=201,
             responses={**ERRORS, 429: {"model": ErrorBody, "description":
                                        "too many writes from this address (Retry-After), or "
                                        "the query's or the review queue's cap is reached"},
                        503: WRITE_ERRORS[503]},
             openapi_extra=body_doc(fb.FeedbackIn),
             summary="Rate an answer (useful or not) and/or correct it ('P07' or 'none')")
async def send_feedback(request: Request) -> JSONResponse:
    body = await parse_body(request, fb.FeedbackIn)
    fid, revision = await store_feedback(request, body)
    return JSONResponse({"id": fid, "revision": revision, "correction": body.correction},
                        status_code=201)


async def store_feedback(request: Request, body: fb.FeedbackIn) -> tuple[int, int | None]:
    """Rate-limit, check and store one anonymous feedback (the API's and the form's)."""
    count_write(request)
    st = kb_state(request)
    store = (await run(lambda: st.kb)).store  # opening the KB settles the served revision
    known = {p.id for p in request.app.state.engine.corpus.painpoints}
    try:
        fid = await run(fb.record, store, body, st.revision, known)
    except FeedbackFull as e:
        raise ApiError(429, str(e), {"per_query": FEEDBACK_PER_QUERY,
                                     "open_max": MAX_OPEN_FEEDBACK}) from None
    return fid, body.revision or st.revision


@router.get("/feedback", responses={**READ_ERRORS, 401: WRITE_ERRORS[401]}, summary="Corrections with counts, and the latest feedback (admin)")
async def list_feedback(request: Request,
                        limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
    writer(request)
    st = kb_state(request)
    rows = await run(st.kb.store.feedback, None, limit)
    return {"corrections": [c.__dict__ for c in fb.corrections(rows)],
            "feedback": [r.__dict__ for r in rows]}


@router.post("/feedback/{fid}/accept", responses=WRITE_ERRORS,
             summary="Add the query as a statement of its correction, in a new revision")
async def accept(request: Request, fid: FeedbackId, publish: Publish = False,
                 override: Override = False) -> JSONResponse:
    actor = writer(request)
    st = kb_state(request)
    rid, ids = await run(fb.accept, st.kb, fid, actor)
    return await written(st, rid, actor, publish, override, {"feedback": ids})


@router.post("/feedback/{fid}/reject", responses=WRITE_ERRORS, summary="Close a correction without changing anything")
async def reject(request: Request, fid: FeedbackId) -> dict[str, Any]:
    actor = writer(request)
    st = kb_state(request)
    ids = await run(fb.reject, st.kb, fid, actor)
    return {"rejected": ids}
