"""Server-rendered pages of the knowledge base: sign-in, edit forms, history with diffs,
the feedback review, and the feedback form's target. Plain HTML forms, no JavaScript.

Every form that changes something carries the session's CSRF token (``kbauth``); the
feedback form on the search page is open, like ``POST /api/feedback``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from tongdian.core.stewardship import feedback as fb
from tongdian.core.stewardship import kbedit
from tongdian.core.stewardship.kbedit import EditError

from . import kbauth
from .auth import key_matches
from .errors import ApiError
from .kbstate import MAX_OFFSET, kb_state
from .pages import page
from .routes.feedback import store_feedback
from .routes.revisions import FeedbackId, RevisionId, kb_errors

router = APIRouter(include_in_schema=False)

#: How the history names a publish that did not end in "published".
PUBLISH_STATES = {"building": "发布中", "refused": "草稿（质量门拒绝发布）",
                  "failed": "草稿（发布出错，可重新发布）",
                  "interrupted": "草稿（发布中断：进程停止，可重新发布）"}
#: Longest text area accepted from a form (a pain point with 100 examples is ~10 KB).
FORM_MAX = 60_000


def _ctx(request: Request, **kw: Any) -> dict[str, Any]:
    token = kbauth.admin_token(request)
    s = kbauth.session(request)
    return {"nav": "history", "signed_in": s.name if s else None, "publish_states": PUBLISH_STATES,
            "csrf": kbauth.csrf_token(token, s) if (token and s) else "",
            "writes_enabled": bool(token), **kw}


async def _run(fn: Any, *args: Any) -> Any:
    with kb_errors():
        return await anyio.to_thread.run_sync(fn, *args)


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _need_session(request: Request) -> Response | None:
    if kbauth.session(request) is None:
        return RedirectResponse("/admin/login?" + urlencode({"next": str(request.url.path)}), 303)
    return None


# -- sign in ------------------------------------------------------------------------------------
@router.get("/admin/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/history") -> Response:
    return page(request, "kb_login.html", _ctx(request, next=_safe_next(next), error=None))


def _safe_next(target: str) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    return target if target.startswith("/") and not target.startswith("//") else "/history"


@router.post("/admin/login", response_class=HTMLResponse)
async def login(request: Request, name: Annotated[str, Form(max_length=60)] = "",
                token: Annotated[str, Form(max_length=500)] = "",
                next: Annotated[str, Form(max_length=300)] = "/history") -> Response:
    admin = kbauth.admin_token(request)
    if not admin or not token or not key_matches(token, [admin]):
        st = kb_state(request)
        if admin:
            await _run(st.kb.store.audit, kbauth.clean_author(name, "?"), "login-failed", "session")
        msg = ("writes are disabled: the server has no TONGDIAN_ADMIN_TOKEN" if not admin
               else "wrong token")
        return page(request, "kb_login.html", _ctx(request, next=_safe_next(next), error=msg),
                    status=401)
    resp = RedirectResponse(_safe_next(next), 303)
    kbauth.set_session(resp, request, kbauth.clean_author(name, "admin"))
    return resp


@router.post("/admin/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Sign out: with the session's CSRF token, like every other form that changes state (a
    page elsewhere must not be able to sign a consultant out mid-edit). Without a session
    there is nothing to end: straight back to the history."""
    if kbauth.session(request) is not None:
        _form_writer(request, csrf)  # 401 without the form's token
    resp = RedirectResponse("/history", 303)
    kbauth.clear_session(resp)
    return resp


# -- history ------------------------------------------------------------------------------------
@router.get("/history", response_class=HTMLResponse)
async def history(request: Request, entry: Annotated[str | None, Query(max_length=40)] = None,
                  offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> Response:
    st = kb_state(request)
    if entry:
        pid = entry.strip().upper()
        rows = await _run(st.kb.entry_history, "painpoints", pid)
        if not rows:
            raise ApiError(404, f"not found: pain point {entry[:20]!r} is in no revision")
        return page(request, "kb_history.html", _ctx(
            request, entry=pid, rows=[r for r, _ in rows], diffs=[d for _, d in rows],
            served=st.revision, json_url=f"/api/painpoints/{pid}/history"))
    rows = await _run(st.kb.history, 100, offset)
    return page(request, "kb_history.html", _ctx(
        request, entry=None, rows=rows, diffs=None, served=st.revision, offset=offset,
        json_url="/api/revisions"))


@router.get("/history/{rid}", response_class=HTMLResponse)
async def revision_page(request: Request, rid: RevisionId) -> Response:
    st = kb_state(request)
    view = await _run(st.kb.revision, rid)
    return page(request, "kb_revision.html", _ctx(request, view=view, served=st.revision,
                                                   json_url=f"/api/revisions/{rid}"))


def _form_writer(request: Request, csrf: str) -> str:
    return kbauth.writer(request, csrf)


@router.post("/history/{rid}/restore")
async def restore(request: Request, rid: RevisionId, csrf: Annotated[str, Form()] = "",
                  message: Annotated[str, Form(max_length=500)] = "") -> Response:
    actor = _form_writer(request, csrf)
    st = kb_state(request)
    new = await _run(st.kb.restore, rid, actor, message)
    return RedirectResponse(f"/history/{new}", 303)


@router.post("/history/{rid}/publish", response_class=HTMLResponse)
async def publish(request: Request, rid: RevisionId, csrf: Annotated[str, Form()] = "",
                  override: Annotated[bool, Form()] = False) -> Response:
    actor = _form_writer(request, csrf)
    st = kb_state(request)
    outcome = await _run(lambda: st.publisher.publish(rid, actor, override))
    return page(request, "kb_published.html", _ctx(request, outcome=outcome, rid=rid),
                status=200 if outcome.published else 409)


# -- editing a pain point -----------------------------------------------------------------------
def _form_values(data: dict[str, Any]) -> dict[str, str]:
    """An entry as the form's text fields."""
    return {
        "title": data.get("title", ""), "title_en": data.get("title_en", ""),
        "summary_en": data.get("summary_en", ""), "pain": data.get("pain", ""),
        "approaches": "\n".join(f"{a.get('text', '')} | {', '.join(a.get('tech', []))} | "
                                f"{a.get('note_en', '')}" for a in data.get("approaches", [])),
        "risks": "\n".join(f"{r.get('id', '')}: {r.get('reason', '')}" for r in data.get("risks", [])),
        "keywords": "\n".join(data.get("keywords", [])), "aliases": "\n".join(data.get("aliases", [])),
        "examples": "\n".join(data.get("examples", [])),
        "written_examples": "\n".join(data.get("written_examples", [])),
        "case": data.get("case") or "", "section": (data.get("source") or {}).get("section", ""),
    }


def _body_from_form(form: dict[str, str]) -> dict[str, Any]:
    problems: list[tuple[str, str]] = []
    approaches = []
    for i, line in enumerate(_lines(form.get("approaches", ""))):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3:
            problems.append((f"approaches[{i}]", "write each approach as 'text | tech ids | English note'"))
            continue
        approaches.append({"text": parts[0], "tech": [t.strip() for t in parts[1].split(",") if t.strip()],
                           "note_en": parts[2]})
    risks = []
    for i, line in enumerate(_lines(form.get("risks", ""))):
        rid, sep, reason = line.partition(":")
        if not sep:
            problems.append((f"risks[{i}]", "write each risk as 'risk_id: reason'"))
            continue
        risks.append({"id": rid.strip(), "reason": reason.strip()})
    if problems:
        raise EditError(problems)
    body: dict[str, Any] = {k: form.get(k, "").strip() for k in ("title", "title_en", "summary_en", "pain")}
    body.update(approaches=approaches, risks=risks, case=form.get("case", "").strip() or None,
                source=form.get("section", "").strip())
    for k in ("keywords", "aliases", "examples", "written_examples"):
        body[k] = _lines(form.get(k, ""))
    return body


@router.get("/admin/p/{pid}/edit", response_class=HTMLResponse)
async def edit_form(request: Request, pid: str) -> Response:
    if (redirect := _need_session(request)) is not None:
        return redirect
    st = kb_state(request)
    head, files = await _run(st.kb.head)
    pid = pid.strip().upper()
    if pid == "NEW":
        values = _form_values({})
    else:
        with kb_errors():
            values = _form_values(kbedit.painpoint_data(files, pid))
    return page(request, "kb_edit.html", _ctx(request, pid=pid, values=values, problems=[],
                                               head=head, techs=kbedit.list_entries(files, "technologies"),
                                               risks=kbedit.list_entries(files, "risks")))


@router.post("/admin/p/{pid}/edit", response_class=HTMLResponse)
async def edit(request: Request, pid: str) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    actor = _form_writer(request, form.get("csrf", ""))
    if any(len(v) > FORM_MAX for v in form.values()):
        raise ApiError(413, f"a field is longer than {FORM_MAX} characters")
    st = kb_state(request)
    pid = pid.strip().upper()
    message = form.get("message", "")[:500]
    try:
        body = _body_from_form(form)
        if pid == "NEW":
            rid, pid = await anyio.to_thread.run_sync(st.kb.add_painpoint, body, actor, message)
        else:
            rid = await anyio.to_thread.run_sync(st.kb.put_painpoint, pid, body, actor, message)
    except EditError as e:
        _, files = await _run(st.kb.head)
        return page(request, "kb_edit.html", _ctx(
            request, pid=pid, values=form, problems=e.problems, head=None,
            techs=kbedit.list_entries(files, "technologies"),
            risks=kbedit.list_entries(files, "risks")), status=e.status)
    if form.get("publish"):
        outcome = await _run(lambda: st.publisher.publish(rid, actor, bool(form.get("override"))))
        return page(request, "kb_published.html", _ctx(request, outcome=outcome, rid=rid),
                    status=200 if outcome.published else 409)
    return RedirectResponse(f"/history/{rid}", 303)


@router.post("/admin/p/{pid}/retire")
async def retire(request: Request, pid: str, csrf: Annotated[str, Form()] = "",
                 message: Annotated[str, Form(max_length=500)] = "") -> Response:
    actor = _form_writer(request, csrf)
    st = kb_state(request)
    rid = await _run(st.kb.retire, "painpoints", pid.strip().upper(), actor, message)
    return RedirectResponse(f"/history/{rid}", 303)


# -- feedback -----------------------------------------------------------------------------------
@router.post("/feedback", response_class=HTMLResponse)
async def send_feedback(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    form["source"] = "page"
    try:
        body = fb.FeedbackIn.model_validate(form)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "form"
        fields = [{"loc": [str(x) for x in err["loc"]], "type": err["type"]} for err in e.errors()]
        raise ApiError(422, f"invalid feedback: {where}: {first['msg'][:200]}", fields) from None
    await store_feedback(request, body)
    return page(request, "kb_thanks.html", _ctx(request, q=None, query=body.query,
                                                 back="/search?" + urlencode({"q": body.query})),
                status=201)


@router.get("/admin/feedback", response_class=HTMLResponse)
async def review(request: Request) -> Response:
    if (redirect := _need_session(request)) is not None:
        return redirect
    st = kb_state(request)
    rows = await _run(st.kb.store.feedback, None, 2000)
    useful = sum(1 for r in rows if r.useful is True)
    not_useful = sum(1 for r in rows if r.useful is False)
    return page(request, "kb_review.html", _ctx(
        request, corrections=fb.corrections(rows), useful=useful, not_useful=not_useful,
        total=len(rows), recent=[r for r in rows if r.status != "open"][:30]))


@router.post("/admin/feedback/{fid}/{action}", response_class=HTMLResponse)
async def resolve(request: Request, fid: FeedbackId, action: str, csrf: Annotated[str, Form()] = "",
                  publish: Annotated[bool, Form()] = False,
                  override: Annotated[bool, Form()] = False) -> Response:
    actor = _form_writer(request, csrf)
    st = kb_state(request)
    if action == "reject":
        await _run(fb.reject, st.kb, fid, actor)
        return RedirectResponse("/admin/feedback", 303)
    if action != "accept":
        raise ApiError(404, "not found: use accept or reject")
    rid, _ = await _run(fb.accept, st.kb, fid, actor)
    if publish:
        outcome = await _run(lambda: st.publisher.publish(rid, actor, override))
        return page(request, "kb_published.html", _ctx(request, outcome=outcome, rid=rid),
                    status=200 if outcome.published else 409)
    return RedirectResponse(f"/history/{rid}", 303)
