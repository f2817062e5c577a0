"""Editing the knowledge base over JSON: entries, revisions, restore, publish.

``PUT /api/painpoints/{id}`` takes exactly what ``GET /api/painpoints/{id}`` returns (plus
the retrieval-only fields ``examples``, ``aliases``, ``written_examples``, if you want to
change them); ``POST /api/painpoints`` adds P21 and beyond; ``DELETE`` retires (the entry
stays in history and can be restored). Every write needs the admin token (``kbauth``) and
becomes a revision; ``?publish=true`` also publishes it through the quality gate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from tongdian.core.stewardship.kbedit import LISTS, EditError, EntryMissing
from tongdian.core.stewardship.publish import FAILED, INTERRUPTED, REFUSED, publish_state
from tongdian.index.revstore import RevisionConflict, RevisionRow, RevisionStoreError

from ..bodies import parse_json
from ..errors import ApiError
from ..kbauth import writer
from ..kbstate import MAX_OFFSET, KBState, kb_state
from ..schemas import ErrorBody

router = APIRouter(prefix="/api", tags=["knowledge base"])

_E = {"model": ErrorBody}
#: What a write may answer besides success: bad body, no token, no such entry, a conflict
#: or a gate refusal, wrong content type, invalid entry (the field named), no database.
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_E, "description": "malformed JSON"}, 401: {**_E, "description": "no or wrong token"},
    404: {**_E, "description": "no such entry or revision"},
    409: {**_E, "description": "nothing changed, a newer revision exists, or the quality gate "
                                "refused to publish (detail: the gate report)"},
    415: {**_E, "description": "send application/json"},
    422: {**_E, "description": "invalid entry: detail.problems names each field and problem"},
    503: {**_E, "description": "the revision database is unavailable"}}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    k: v for k, v in WRITE_ERRORS.items() if k in (404, 422, 503)}
#: A write's body is an entry: the GET shape for pain points, the corpus schema otherwise.
ENTRY_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}}}}}

Publish = Annotated[bool, Query(description="publish the new revision now, through the gate")]
Override = Annotated[bool, Query(description="publish even if the gate refuses (recorded)")]
Message = Annotated[str, Query(max_length=500, description="why: recorded in the history")]
#: Revision and feedback numbers: positive, and within a 64-bit column on every backend.
MAX_ID = 2**62
RevisionId = Annotated[int, Path(ge=1, le=MAX_ID, description="a revision number")]
FeedbackId = Annotated[int, Path(ge=1, le=MAX_ID, description="a feedback number")]


@contextlib.contextmanager
def kb_errors() -> Iterator[None]:
    """The knowledge base's errors as the API's: 422 naming the field, 404, 409, 503."""
    try:
        yield
    except EditError as e:
        raise ApiError(e.status, f"invalid edit: {e}",
                       {"problems": [{"field": f, "problem": m} for f, m in e.problems]}) from None
    except EntryMissing as e:
        raise ApiError(404, f"not found: {e}") from None
    except RevisionConflict as e:
        raise ApiError(409, str(e)) from None
    except RevisionStoreError as e:
        raise ApiError(503, f"the revision database is unavailable: {e}") from None


async def json_body(request: Request) -> Any:
    """An entry's JSON body: depth-checked and parsed without recursion (``parse_json``)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise ApiError(415, "send the entry as application/json")
    return parse_json(await request.body())


def revision_json(row: RevisionRow) -> dict[str, Any]:
    """One revision as the API lists it. ``publish_state``: null (never published), building,
    published, refused (by the gate), failed (an error) or interrupted (the process stopped
    mid-way); ``retry`` is where to publish it again when that is possible."""
    info = row.publish_info or {}
    state = publish_state(row)
    return {"id": row.id, "created_at": row.created_at, "author": row.author,
            "message": row.message, "action": row.action, "parent": row.parent,
            "entry": row.meta.get("entry"), "restored": row.meta.get("restored"),
            "published_at": row.published_at,
            "published_by": info.get("by") if row.published_at else None,
            "override": bool(info.get("override")), "publish_state": state,
            "retry": f"/api/revisions/{row.id}/publish"
            if state in (INTERRUPTED, FAILED, REFUSED) else None,
            "url": f"/api/revisions/{row.id}"}


async def run(fn: Any, *args: Any) -> Any:
    """KB work off the event loop (SQL, YAML, a publish builds an index): searches go on."""
    with kb_errors():
        return await anyio.to_thread.run_sync(fn, *args)


async def written(st: KBState, rid: RevisionId, actor: str, publish: bool, override: bool,
                  extra: dict[str, Any] | None = None, status: int = 200) -> JSONResponse:
    body: dict[str, Any] = {"revision": rid, **(extra or {}), "published": None}
    if publish:
        outcome = await run(lambda: st.publisher.publish(rid, actor, override))
        body["published"] = outcome.to_json()
        if not outcome.published:  # stored, not served: the error says why, detail has the rest
            return JSONResponse({"error": outcome.message, "detail": body}, status_code=409)
    return JSONResponse(body, status_code=status)


# -- pain points --------------------------------------------------------------------------------
@router.put("/painpoints/{pid}", responses=WRITE_ERRORS, openapi_extra=ENTRY_BODY,
             summary="Edit a pain point (body: the GET shape)")
async def put_painpoint(request: Request, pid: str, publish: Publish = False,
                        override: Override = False, message: Message = "") -> JSONResponse:
    actor = writer(request)
    body = await json_body(request)
    st = kb_state(request)
    rid = await run(st.kb.put_painpoint, pid.strip().upper(), body, actor, message)
    return await written(st, rid, actor, publish, override, {"id": pid.strip().upper()})


@router.post("/painpoints", status_code=201, responses=WRITE_ERRORS, openapi_extra=ENTRY_BODY,
             summary="Add a pain point (numbered P21 and on)")
async def add_painpoint(request: Request, publish: Publish = False, override: Override = False,
                        message: Message = "") -> JSONResponse:
    actor = writer(request)
    body = await json_body(request)
    st = kb_state(request)
    rid, pid = await run(st.kb.add_painpoint, body, actor, message)
    return await written(st, rid, actor, publish, override, {"id": pid}, status=201)


@router.delete("/painpoints/{pid}", responses=WRITE_ERRORS,
             summary="Retire a pain point (kept in history)")
async def retire_painpoint(request: Request, pid: str, publish: Publish = False,
                           override: Override = False, message: Message = "") -> JSONResponse:
    actor = writer(request)
    st = kb_state(request)
    rid = await run(st.kb.retire, "painpoints", pid.strip().upper(), actor, message)
    return await written(st, rid, actor, publish, override, {"id": pid.strip().upper()})


@router.get("/painpoints/{pid}/history", responses=READ_ERRORS,
            summary="The revisions that changed one pain point")
async def painpoint_history(request: Request, pid: str) -> dict[str, Any]:
    return await entry_history(request, "painpoints", pid.strip().upper())


@router.post("/painpoints/{pid}/restore", responses=WRITE_ERRORS,
             summary="Bring a pain point back as it was")
async def restore_painpoint(request: Request, pid: str,
                            revision: Annotated[int, Query(ge=1, le=MAX_ID)], publish: Publish = False,
                            override: Override = False, message: Message = "") -> JSONResponse:
    actor = writer(request)
    st = kb_state(request)
    rid = await run(st.kb.restore_entry, "painpoints", pid.strip().upper(), revision, actor,
                    message)
    return await written(st, rid, actor, publish, override, {"id": pid.strip().upper()})


async def entry_history(request: Request, kind: str, eid: str) -> dict[str, Any]:
    st = kb_state(request)
    rows = await run(st.kb.entry_history, kind, eid)
    if not rows:
        raise ApiError(404, f"not found: {kind} {eid[:20]!r} is in no revision")
    return {"entry": f"{kind}/{eid}", "count": len(rows),
            "revisions": [{**revision_json(r), "change": d.status, "diff": d.diff}
                          for r, d in rows]}


# -- risks, technologies, cases -----------------------------------------------------------------
def _list_routes(kind: str, can_add: bool) -> None:
    async def put(request: Request, eid: str, publish: Publish = False,
                  override: Override = False, message: Message = "") -> JSONResponse:
        actor = writer(request)
        body = await json_body(request)
        st = kb_state(request)
        rid = await run(lambda: st.kb.put_entry(kind, eid, body, actor, message))
        return await written(st, rid, actor, publish, override, {"id": eid})

    router.add_api_route(f"/{kind}/{{eid}}", put, methods=["PUT"], responses=WRITE_ERRORS,
                         openapi_extra=ENTRY_BODY,
                         summary=f"Edit one of {kind} (body: its corpus schema)")
    router.add_api_route(f"/{kind}/{{eid}}/history", _history(kind), methods=["GET"],
                         responses=READ_ERRORS,
                         summary=f"The revisions that changed one of {kind}")
    if not can_add:
        return

    async def add(request: Request, publish: Publish = False, override: Override = False,
                  message: Message = "") -> JSONResponse:
        actor = writer(request)
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise ApiError(422, "invalid edit: id: a new entry needs its id",
                           {"problems": [{"field": "id", "problem": "Field required"}]})
        st = kb_state(request)
        rid = await run(lambda: st.kb.put_entry(kind, body["id"], body, actor, message, True))
        return await written(st, rid, actor, publish, override, {"id": body["id"]}, status=201)

    async def retire(request: Request, eid: str, publish: Publish = False,
                     override: Override = False, message: Message = "") -> JSONResponse:
        actor = writer(request)
        st = kb_state(request)
        rid = await run(st.kb.retire, kind, eid, actor, message)
        return await written(st, rid, actor, publish, override, {"id": eid})

    router.add_api_route(f"/{kind}", add, methods=["POST"], status_code=201,
                         responses=WRITE_ERRORS, openapi_extra=ENTRY_BODY,
                         summary=f"Add one of {kind}")
    router.add_api_route(f"/{kind}/{{eid}}", retire, methods=["DELETE"], responses=WRITE_ERRORS,
                         summary=f"Retire one of {kind} (kept in history)")


def _history(kind: str):  # type: ignore[no-untyped-def]
    async def history(request: Request, eid: str) -> dict[str, Any]:
        return await entry_history(request, kind, eid)
    return history


for _kind in LISTS:
    # the seven traditional risks are the report's frame: edited, never added or retired
    _list_routes(_kind, can_add=_kind != "risks")


# -- revisions ----------------------------------------------------------------------------------
@router.get("/revisions", responses=READ_ERRORS,
            summary="The history: every revision, newest first")
async def revisions(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> dict[str, Any]:
    st = kb_state(request)
    rows = await run(st.kb.history, limit, offset)
    return {"served": st.revision, "published": await run(st.kb.store.published),
            "count": len(rows), "revisions": [revision_json(r) for r in rows]}


@router.get("/revisions/{rid}", responses=READ_ERRORS,
            summary="One revision with its diff against the previous")
async def revision(request: Request, rid: RevisionId) -> dict[str, Any]:
    st = kb_state(request)
    view = await run(st.kb.revision, rid)
    return {**revision_json(view.row), "publish_info": view.row.publish_info,
            "files": [{"path": f.path, "change": f.status, "diff": f.diff} for f in view.files]}


@router.post("/revisions/{rid}/restore", responses=WRITE_ERRORS,
             summary="A new revision with this revision's content")
async def restore(request: Request, rid: RevisionId, publish: Publish = False, override: Override = False,
                  message: Message = "") -> JSONResponse:
    actor = writer(request)
    st = kb_state(request)
    new = await run(st.kb.restore, rid, actor, message)
    return await written(st, new, actor, publish, override, {"restored": rid})


@router.post("/revisions/{rid}/publish", responses=WRITE_ERRORS,
             summary="Build, gate and serve this revision")
async def publish(request: Request, rid: RevisionId, override: Override = False) -> JSONResponse:
    actor = writer(request)
    st = kb_state(request)
    outcome = await run(lambda: st.publisher.publish(rid, actor, override))
    if not outcome.published:
        return JSONResponse({"error": outcome.message, "detail": outcome.to_json()}, status_code=409)
    return JSONResponse(outcome.to_json())


@router.get("/audit", responses={**READ_ERRORS, 401: WRITE_ERRORS[401]},
            summary="Every write, sign-in failure and publish decision, newest first (admin)")
async def audit(request: Request, limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> dict[str, Any]:
    writer(request)
    st = kb_state(request)
    rows = await run(st.kb.store.audits, limit)
    return {"count": len(rows), "entries": [r.__dict__ for r in rows]}
