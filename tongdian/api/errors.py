"""Errors the web layer raises on purpose, each carrying the HTTP status the user should see.

Route code raises these instead of ``HTTPException`` so that one handler in ``app.py``
decides, per request, whether the answer is a JSON body (API clients, chat bots) or an
HTML page (a consultant's browser) — the routes themselves stay thin and format-agnostic.
"""

from __future__ import annotations

from typing import Any

from tongdian.core.config import MAX_QUERY_CHARS


class ApiError(Exception):
    """A user-facing error: ``status`` and a message safe to show (it is escaped on pages)."""

    def __init__(self, status: int, error: str, detail: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}  # e.g. Retry-After on a 429


def not_found(what: str) -> ApiError:
    return ApiError(404, f"not found: {what}")


def query_status(query: object, max_chars: int = MAX_QUERY_CHARS) -> int:
    """413 for an over-long query (so clients can tell "shorten it" from "fix it"), else 400."""
    if isinstance(query, str) and len(query.strip()) > max_chars:
        return 413
    return 400


class DifyError(Exception):
    """An error on ``/retrieval``, in the body Dify's External Knowledge API spec defines:
    ``{"error_code": int, "error_msg": str}``. Dify shows ``error_msg`` to its user, so it
    says what to fix. Codes 1001/1002/2001 are Dify's; for a malformed request (which Dify
    itself never sends) the code is the HTTP status: 400, 413, 415 or 422."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
