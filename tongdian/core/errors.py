"""Errors the core raises for a user's mistake; the web layer and the CLI map them to a
status or an exit code, so the core never needs to know which one is asking."""

from __future__ import annotations

from typing import Any


class UserError(ValueError):
    """The request cannot be answered as asked; the message is safe to show the user."""

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.detail = detail


class QueryError(UserError):
    """The query cannot be searched (empty, too long, bad k)."""


class NotFound(UserError, LookupError):
    """No such item in the loaded corpus (a pain point, a case…)."""


class UnknownFilter(UserError):
    """A filter names a value the corpus does not have."""
