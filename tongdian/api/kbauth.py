"""Who may change the knowledge base: the admin token, as a Bearer header or a signed-in
session for the forms.

Reads stay open. Every write needs either ``Authorization: Bearer $TONGDIAN_ADMIN_TOKEN``
(API clients; ``X-Tongdian-Author`` names the person for the history) or the session
cookie the sign-in form sets, and then a CSRF token bound to that session in the form (or
the ``X-CSRF-Token`` header): a page on another site cannot make a signed-in browser post
an edit. Without a configured token every write is refused: a 401, never a silent change.

The session is stateless: the cookie is the signed-in name and a random nonce, signed and
timestamped by itsdangerous with the admin token as the key (so changing the token signs
everyone out) and refused after ``SESSION_SECONDS``. The CSRF token is itsdangerous's
signature of that nonce under another salt: bound to one session, useless after sign-out.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

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


def _sessions(token: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(token, salt="tongdian-session",
                                  signer_kwargs={"digest_method": hashlib.sha256})


def _csrf(token: str) -> Signer:
    return Signer(token, salt="tongdian-csrf", digest_method=hashlib.sha256)


def make_cookie(token: str, name: str) -> str:
    return _sessions(token).dumps({"name": name, "nonce": secrets.token_hex(8)})


def read_session(token: str | None, cookie: str | None) -> Session | None:
    """The session a cookie carries, or None: unsigned, altered, expired or malformed."""
    if not token or not cookie:
        return None
    try:
        data = _sessions(token).loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:  # also SignatureExpired
        return None
    if not (isinstance(data, dict) and isinstance(data.get("name"), str)
            and isinstance(data.get("nonce"), str)):
        return None
    return Session(data["name"], data["nonce"])


def csrf_token(token: str, session: Session) -> str:
    return _csrf(token).get_signature(session.nonce).decode("ascii")


def csrf_matches(token: str, session: Session, given: str) -> bool:
    """Constant-time check of a form's CSRF token against the session's."""
    return _csrf(token).verify_signature(session.nonce, given.encode("ascii", "replace"))


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
    if not csrf_matches(token, s, given_csrf):
        raise ApiError(401, "missing or stale form token (CSRF): reload the page and try again")
    return clean_author(s.name, "admin")


def set_session(response: Response, request: Request, name: str) -> None:
    token = admin_token(request)
    assert token
    response.set_cookie(COOKIE, make_cookie(token, name), max_age=SESSION_SECONDS, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
