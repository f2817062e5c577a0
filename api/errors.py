"""Errors the web layer raises on purpose, each carrying the HTTP status the user should see.

Route code raises these instead of ``HTTPException`` so that one handler in ``app.py``
decides, per request, whether the answer is a JSON body (API clients, chat bots) or an
HTML page (a consultant's browser) — the routes themselves stay thin and format-agnostic.
"""

from __future__ import annotations

import re
from typing import Any

from tongdian.config import MAX_QUERY_CHARS

#: The only pain-point ids there are. Anything else — including ``..`` and encoded slashes —
#: never reaches the corpus lookup.
PAIN_ID = re.compile(r"^P(0[1-9]|1[0-9]|20)$")


class ApiError(Exception):
    """A user-facing error: ``status`` and a message safe to show (it is escaped on pages)."""

    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail


def not_found(what: str) -> ApiError:
    return ApiError(404, f"not found: {what}")


def normalise_pain_id(raw: str) -> str:
    """``p04`` → ``P04``; anything that is not one of the twenty ids is a 404, not a 400.

    A 404 (rather than 400) because from the user's side the id is part of an address:
    ``/p/P21`` is a page that does not exist, like any mistyped URL.
    """
    pid = raw.strip().upper()
    if not PAIN_ID.match(pid):
        # never echo the raw path segment back unbounded
        raise not_found(f"pain point {raw[:20]!r} (ids are P01 … P20)")
    return pid


def query_status(query: object) -> int:
    """413 for an over-long query (so clients can tell "shorten it" from "fix it"), else 400."""
    if isinstance(query, str) and len(query.strip()) > MAX_QUERY_CHARS:
        return 413
    return 400
