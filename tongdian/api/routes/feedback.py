"""``/api/feedback``: rate or correct any answer; review, accept or reject corrections.

Sending feedback is open (whoever saw the answer may rate it); listing it shows users'
queries and accepting changes the knowledge base, so those need the admin token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from tongdian.core import feedback as fb

from ..bodies import ERRORS, body_doc, parse_body
from ..kbauth import writer
from ..kbstate import kb_state
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


@router.post("/feedback", status_code=201, responses={**ERRORS, 503: WRITE_ERRORS[503]},
             openapi_extra=body_doc(fb.FeedbackIn),
             summary="Rate an answer (useful or not) and/or correct it ('P07' or 'none')")
async def send_feedback(request: Request) -> JSONResponse:
    body = await parse_body(request, fb.FeedbackIn)
    st = kb_state(request)
    store = (await run(lambda: st.kb)).store  # opening the KB settles the served revision
    revision = body.revision or st.revision
    fid = await run(store.add_feedback, body.query.strip(), body.shown, revision,
                    body.useful, body.correction, body.source)
    return JSONResponse({"id": fid, "revision": revision, "correction": body.correction},
                        status_code=201)


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
