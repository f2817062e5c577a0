"""Who may change the knowledge base: the admin token, as a Bearer header or a signed-in
session for the forms.

Reads stay open. Every write needs either ``Authorization: Bearer $TONGDIAN_ADMIN_TOKEN``
(API clients; ``X-Tongdian-Author`` names the person for the history) or the session
cookie the sign-in form sets, and then a CSRF token bound to that session in the form (or
the ``X-CSRF-Token`` header): a page on another site cannot make a signed-in browser post
an edit. Without a configured token every write is refused: a 401, never a silent change.

The session is stateless: a cookie ``name.expiry.nonce.signature`` signed with a key
derived from the admin token, so changing the token signs everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response

from .auth import key_matches
from .errors import ApiError

COOKIE = "tongdian_session"
#: A signed-in session lasts a working day.
SESSION_SECONDS = 12 * 3600
#: Names recorded in the history: printable, short.
AUTHOR_MAX = 60
_AUTHOR_BAD = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Session:
    name: str
    nonce: str


def clean_author(name: str | None, default: str) -> str:
    name = _AUTHOR_BAD.sub("", (name or "").strip())[:AUTHOR_MAX]
    return name or default


def _key(token: str) -> bytes:
    return hashlib.sha256(b"tongdian-session\0" + token.encode("utf-8")).digest()


def _sign(token: str, payload: str) -> str:
    return hmac.new(_key(token), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def make_cookie(token: str, name: str, now: float | None = None) -> str:
    exp = int((now or time.time()) + SESSION_SECONDS)
    who = base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii").rstrip("=")
    payload = f"{who}.{exp}.{secrets.token_hex(8)}"
    return f"{payload}.{_sign(token, payload)}"


def read_session(token: str | None, cookie: str | None) -> Session | None:
    if not token or not cookie or cookie.count(".") != 3:
        return None
    who, exp, nonce, sig = cookie.split(".")
    payload = f"{who}.{exp}.{nonce}"
    if not hmac.compare_digest(sig, _sign(token, payload)):
        return None
    if not exp.isdigit() or int(exp) < time.time():
        return None
    try:
        name = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode("utf-8")
    except ValueError:
        return None
    return Session(name, nonce)


def csrf_token(token: str, session: Session) -> str:
    return _sign(token, f"csrf:{session.nonce}")[:32]


def admin_token(request: Request) -> str | None:
    return request.app.state.kb_settings.admin_token or None


def session(request: Request) -> Session | None:
    return read_session(admin_token(request), request.cookies.get(COOKIE))


def writer(request: Request, csrf: str | None = None) -> str:
    """The author of a write, or a 401. ``csrf``: the form's token (session writes only)."""
    token = admin_token(request)
    if not token:
        raise ApiError(401, "writes are disabled on this server: set TONGDIAN_ADMIN_TOKEN "
                            "and send 'Authorization: Bearer <token>' (or sign in at /admin/login)")
    raw = request.headers.get("authorization")
    if raw is not None:
        scheme, _, given = raw.strip().partition(" ")
        if scheme.lower() == "bearer" and given.strip() and key_matches(given.strip(), [token]):
            return clean_author(request.headers.get("x-tongdian-author"), "admin (token)")
        raise ApiError(401, "invalid admin token")
    s = session(request)
    if s is None:
        raise ApiError(401, "sign in first (/admin/login) or send 'Authorization: Bearer <token>'")
    given_csrf = csrf or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(given_csrf.encode(), csrf_token(token, s).encode()):
        raise ApiError(401, "missing or stale form token (CSRF): reload the page and try again")
    return clean_author(s.name, "admin")


def set_session(response: Response, request: Request, name: str) -> None:
    token = admin_token(request)
    assert token
    response.set_cookie(COOKIE, make_cookie(token, name), max_age=SESSION_SECONDS, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
