"""Stored results behind short permalinks: ``/r/<key>`` instead of a 3,000-character URL.

A long analysis is posted (a meeting note does not belong in a URL), stored under a hash
of its content, and the browser is redirected to the permalink: refreshing re-reads the
stored answer instead of resubmitting the form, and the link can be bookmarked or shared.
The answer itself is stored (not only the text), so a permalink shows what was seen even
after the index is rebuilt. Files older than the retention time are treated as gone and
removed when met. Writes are atomic: a temporary file in the same directory, fsynced,
then renamed over the target, so a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

from tongdian.core.answers.models import SearchResponse
from tongdian.core.config import MAX_PERMALINKS
from tongdian.core.errors import NotFound

#: A format, not a knob: hex digits of SHA-256 in a key (64 bits: no collision, short link).
KEY_CHARS = 16
#: What a well-formed key looks like (anything else is a 404 before the store is read).
_KEY = re.compile(rf"^[0-9a-f]{{{KEY_CHARS}}}$")
#: A unit: seconds in a day, for the retention setting (given in days).
DAY = 86400.0


class Stored(BaseModel):
    """One stored result: the text as posted, k, when, and the answer shown."""

    key: str
    q: str
    k: int
    created: float
    response: SearchResponse


def result_key(q: str, k: int) -> str:
    """The content hash naming a result: the same text and k always give the same link."""
    return hashlib.sha256(f"{k}\n{q}".encode()).hexdigest()[:KEY_CHARS]


class PermalinkStore:
    """Results stored as ``<dir>/<key>.json``, kept ``retention_days``."""

    def __init__(self, directory: Path, retention_days: float,
                 max_items: int = MAX_PERMALINKS) -> None:
        self.directory = Path(directory)
        self.retention = retention_days * DAY
        self.max_items = max_items
        self._saves = 0

    def save(self, q: str, k: int, response: SearchResponse, now: float | None = None) -> str:
        key = result_key(q, k)
        item = Stored(key=key, q=q, k=k, created=time.time() if now is None else now,
                      response=response)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(item.model_dump_json())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.directory / f"{key}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._saves += 1
        if self._saves % max(1, self.max_items // 10) == 0:  # a directory scan now and then
            self.trim()
        return key

    def trim(self) -> int:
        """Keep at most ``max_items`` results, dropping the least recently written; returns
        how many went. Anonymous posts can then never fill the disk, only rotate the store."""
        paths = sorted(self.directory.glob("*.json"), key=_mtime)
        extra = paths[: max(0, len(paths) - self.max_items)]
        for path in extra:
            path.unlink(missing_ok=True)
        return len(extra)

    def load(self, key: str, now: float | None = None) -> Stored:
        """The stored result, or ``NotFound`` (unknown, malformed or expired key)."""
        if not _KEY.match(key):
            raise NotFound(f"没有这个结果链接：{key[:40]!r}（链接应为 {KEY_CHARS} 位十六进制）")
        path = self.directory / f"{key}.json"
        try:
            item = Stored.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise NotFound(f"没有这个结果链接：{key}（可能已过期或从未保存）") from None
        if (time.time() if now is None else now) - item.created > self.retention:
            path.unlink(missing_ok=True)
            raise NotFound(f"这个结果链接已过期：{key}（保存期限 {self.retention / DAY:g} 天）")
        return item

    def purge(self, now: float | None = None) -> int:
        """Remove expired results; returns how many went."""
        t = time.time() if now is None else now
        gone = 0
        for path in self.directory.glob("*.json"):
            try:
                created = json.loads(path.read_text(encoding="utf-8"))["created"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if t - float(created) > self.retention:
                path.unlink(missing_ok=True)
                gone += 1
        return gone


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile
        return 0.0
