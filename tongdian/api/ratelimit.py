"""Per-client rate limits for anonymous writes (feedback), with the ``limits`` library.

Feedback is the one thing anybody may store, so each client address may store only so much
(``TONGDIAN_FEEDBACK_RATE``, e.g. ``10/minute;200/day``); past it the answer is a 429 with
``Retry-After``. A moving window (no burst at a window's edge). The counters live in
``TONGDIAN_RATE_LIMIT_STORAGE``: ``memory://`` counts per process (each worker its own),
``redis://…`` shares them between workers and replicas.
"""

from __future__ import annotations

import math
import time

from fastapi import FastAPI, Request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .errors import ApiError


class WriteLimiter:
    """One set of limits over one storage, keyed by client address."""

    def __init__(self, rate: str, storage_uri: str = "memory://") -> None:
        try:
            self.items: list[RateLimitItem] = parse_many(rate)
        except ValueError as e:
            raise ValueError(f"TONGDIAN_FEEDBACK_RATE {rate!r} is not a rate such as "
                             f"'10/minute;200/day': {e}") from None
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def hit(self, key: str) -> None:
        """Count one write by ``key``, or raise a 429 naming the limit and when to retry."""
        for item in self.items:
            if not self.limiter.test(item, key):
                reset = self.limiter.get_window_stats(item, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise ApiError(429, f"too many writes from this address: at most {item} "
                                    f"(try again in {wait} s)",
                               {"limit": str(item), "retry_after": wait},
                               headers={"Retry-After": str(wait)})
        for item in self.items:
            self.limiter.hit(item, key)


def install_limiter(app: FastAPI, rate: str, storage_uri: str) -> None:
    app.state.write_limiter = WriteLimiter(rate, storage_uri)


def client_key(request: Request) -> str:
    """The client's address (the proxy's, behind a reverse proxy: see the setting's note)."""
    return request.client.host if request.client else "unknown"


def count_write(request: Request) -> None:
    """One anonymous write by this request's client, or a 429."""
    limiter: WriteLimiter = request.app.state.write_limiter
    limiter.hit(client_key(request))
