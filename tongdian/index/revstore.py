"""Revisions of a file tree, feedback records and an audit log, in SQLite or PostgreSQL.

A storage primitive: it knows file paths and bytes, not what a pain point is. A revision
is a complete snapshot (path → bytes), stored content-addressed so an edit to one file of
thirty adds one blob. Every write is one transaction: a process killed mid-write leaves
either the whole revision or none of it, and an acknowledged write (the call returned) is
on disk (SQLite: WAL with ``synchronous=FULL``; PostgreSQL: a committed transaction).

Revision ids are a gap-free sequence and every new revision names the head it was based
on; if someone else added a revision meanwhile the write is refused (``RevisionConflict``)
instead of silently overwriting their edit. That holds across replicas sharing one
PostgreSQL database too, because the id is the primary key.

Plain DB-API, one SQL text for both backends: ``?`` placeholders are rewritten to ``%s``
for psycopg, and the two table definitions that differ (binary and identity columns) come
from the dialect.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

#: SQLite waits this long for another writer's lock before giving up (ms).
SQLITE_BUSY_MS = 10_000


class RevisionStoreError(RuntimeError):
    """The revision database cannot be opened or used; the message says why."""


class RevisionConflict(RevisionStoreError):
    """Another revision was added since the one this edit was based on."""


class FeedbackFull(RuntimeError):
    """A cap on open feedback is reached (for one query, or in all); the message says which."""


@dataclass(frozen=True)
class RevisionRow:
    id: int
    created_at: str
    author: str
    message: str
    action: str
    parent: int | None
    meta: dict[str, Any]
    published_at: str | None
    publish_info: dict[str, Any] | None


@dataclass(frozen=True)
class FeedbackRow:
    id: int
    created_at: str
    query: str
    shown: list[str]
    revision: int | None
    useful: bool | None
    correction: str | None
    source: str
    status: str  # open | accepted | rejected
    resolved_revision: int | None
    resolved_by: str | None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


class RevisionStore(Protocol):
    """What the knowledge base needs from storage (SQLite and PostgreSQL implement it)."""

    url: str

    def head(self) -> int | None: ...
    def published(self) -> int | None: ...
    def add_revision(self, base: int | None, files: dict[str, bytes], author: str, message: str,
                     action: str, meta: dict[str, Any] | None = None) -> int: ...
    def revision(self, rid: int) -> RevisionRow | None: ...
    def revisions(self, limit: int = 100, offset: int = 0) -> list[RevisionRow]: ...
    def files(self, rid: int) -> dict[str, bytes]: ...
    def file(self, rid: int, path: str) -> bytes | None: ...
    def paths_ever(self) -> set[str]: ...
    def mark_published(self, rid: int, info: dict[str, Any]) -> None: ...
    def set_publish_info(self, rid: int, info: dict[str, Any]) -> None: ...
    def add_feedback(self, query: str, shown: list[str], revision: int | None,
                     useful: bool | None, correction: str | None, source: str,
                     caps: tuple[int, int] | None = None) -> int: ...
    def feedback(self, status: str | None = None, limit: int = 1000) -> list[FeedbackRow]: ...
    def feedback_item(self, fid: int) -> FeedbackRow | None: ...
    def resolve_feedback(self, ids: list[int], status: str, revision: int | None,
                         by: str) -> None: ...
    def audit(self, actor: str, action: str, target: str,
              detail: dict[str, Any] | None = None) -> int: ...
    def audits(self, limit: int = 200) -> list[AuditRow]: ...


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class _Dialect:
    name = "sqlite"
    blob = "BLOB"
    ident = "INTEGER PRIMARY KEY"

    def sql(self, text: str) -> str:
        return text

    def connect(self) -> Any:
        raise NotImplementedError

    def insert_ignore(self, table: str, cols: str, n: int) -> str:
        marks = ",".join("?" * n)
        return f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"


class _SQLite(_Dialect):
    def __init__(self, path: Path) -> None:
        self.path = path

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=SQLITE_BUSY_MS / 1000, isolation_level=None,
                              check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit that returned survives a power cut too, not just a killed process
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
        return con


class _Postgres(_Dialect):
    name = "postgresql"
    blob = "BYTEA"
    ident = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str) -> None:
        self.url = url

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def connect(self) -> Any:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is a dependency
            raise RevisionStoreError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from None
        try:
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.Error as e:
            raise RevisionStoreError(f"cannot connect to PostgreSQL: {e}") from None


def _schema(d: _Dialect) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS blobs (sha TEXT PRIMARY KEY, body {d.blob} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS revisions (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL,"
        " author TEXT NOT NULL, message TEXT NOT NULL, action TEXT NOT NULL, parent INTEGER,"
        " meta TEXT NOT NULL, published_at TEXT, publish_info TEXT)",
        "CREATE TABLE IF NOT EXISTS revision_files (revision INTEGER NOT NULL REFERENCES"
        " revisions(id), path TEXT NOT NULL, sha TEXT NOT NULL REFERENCES blobs(sha),"
        " PRIMARY KEY (revision, path))",
        f"CREATE TABLE IF NOT EXISTS feedback (id {d.ident}, created_at TEXT NOT NULL,"
        " query TEXT NOT NULL, shown TEXT NOT NULL, revision INTEGER, useful INTEGER,"
        " correction TEXT, source TEXT NOT NULL, status TEXT NOT NULL,"
        " resolved_revision INTEGER, resolved_by TEXT)",
        f"CREATE TABLE IF NOT EXISTS audit (id {d.ident}, at TEXT NOT NULL, actor TEXT NOT NULL,"
        " action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL)",
    ]


def _rev(row: tuple[Any, ...]) -> RevisionRow:
    return RevisionRow(int(row[0]), row[1], row[2], row[3], row[4],
                       None if row[5] is None else int(row[5]), json.loads(row[6]), row[7],
                       None if row[8] is None else json.loads(row[8]))


def _fb(row: tuple[Any, ...]) -> FeedbackRow:
    return FeedbackRow(int(row[0]), row[1], row[2], json.loads(row[3]),
                       None if row[4] is None else int(row[4]),
                       None if row[5] is None else bool(row[5]), row[6], row[7], row[8],
                       None if row[9] is None else int(row[9]), row[10])


_REV_COLS = "id, created_at, author, message, action, parent, meta, published_at, publish_info"
_FB_COLS = ("id, created_at, query, shown, revision, useful, correction, source, status,"
            " resolved_revision, resolved_by")


class SqlRevisionStore:
    """The one implementation, over either dialect. A connection per call: cheap for
    SQLite, a few milliseconds for PostgreSQL, and no connection is ever shared between
    threads (the server answers from a thread pool)."""

    def __init__(self, dialect: _Dialect, url: str) -> None:
        self.d = dialect
        self.url = url
        with self._tx() as cur:
            for stmt in _schema(dialect):
                cur.execute(stmt)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction: committed when the block returns, rolled back if it raises."""
        con = self.d.connect()
        try:
            cur = con.cursor()
            cur.execute("BEGIN IMMEDIATE" if self.d.name == "sqlite" else "BEGIN")
            try:
                yield _Cursor(cur, self.d)
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        finally:
            con.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        con = self.d.connect()
        try:
            yield _Cursor(con.cursor(), self.d)
        finally:
            con.close()

    # -- revisions -----------------------------------------------------------------------------
    def head(self) -> int | None:
        with self._read() as cur:
            row = cur.one("SELECT MAX(id) FROM revisions")
        return None if row is None or row[0] is None else int(row[0])

    def published(self) -> int | None:
        with self._read() as cur:
            row = cur.one("SELECT MAX(id) FROM revisions WHERE published_at IS NOT NULL")
        return None if row is None or row[0] is None else int(row[0])

    def add_revision(self, base: int | None, files: dict[str, bytes], author: str, message: str,
                     action: str, meta: dict[str, Any] | None = None) -> int:
        """Add a snapshot on top of ``base`` (None for the first); refused if the head moved."""
        rid = (base or 0) + 1
        try:
            with self._tx() as cur:
                row = cur.one("SELECT MAX(id) FROM revisions")
                head = None if row is None or row[0] is None else int(row[0])
                if head != base:
                    raise RevisionConflict(
                        f"revision {head} was added since revision {base}, which this change "
                        "was based on: reload and apply it again")
                cur.execute(
                    f"INSERT INTO revisions ({_REV_COLS}) VALUES (?,?,?,?,?,?,?,NULL,NULL)",
                    (rid, now(), author, message, action, base,
                     json.dumps(meta or {}, ensure_ascii=False)))
                for path, body in sorted(files.items()):
                    digest = sha(body)
                    cur.execute(self.d.insert_ignore("blobs", "sha, body", 2), (digest, body))
                    cur.execute("INSERT INTO revision_files (revision, path, sha) VALUES (?,?,?)",
                                (rid, path, digest))
        except RevisionConflict:
            raise
        except Exception as e:  # a concurrent insert of the same id on another replica
            if "unique" in str(e).lower() or "duplicate" in str(e).lower():
                raise RevisionConflict(f"revision {rid} was added concurrently: try again") from None
            raise
        return rid

    def revision(self, rid: int) -> RevisionRow | None:
        with self._read() as cur:
            row = cur.one(f"SELECT {_REV_COLS} FROM revisions WHERE id = ?", (rid,))
        return None if row is None else _rev(row)

    def revisions(self, limit: int = 100, offset: int = 0) -> list[RevisionRow]:
        with self._read() as cur:
            rows = cur.all(f"SELECT {_REV_COLS} FROM revisions ORDER BY id DESC LIMIT ? OFFSET ?",
                           (limit, offset))
        return [_rev(r) for r in rows]

    def files(self, rid: int) -> dict[str, bytes]:
        with self._read() as cur:
            rows = cur.all("SELECT f.path, b.body FROM revision_files f JOIN blobs b"
                           " ON b.sha = f.sha WHERE f.revision = ? ORDER BY f.path", (rid,))
        return {p: bytes(body) for p, body in rows}

    def file(self, rid: int, path: str) -> bytes | None:
        """One file of a revision (an entry's history reads one file per revision)."""
        with self._read() as cur:
            row = cur.one("SELECT b.body FROM revision_files f JOIN blobs b ON b.sha = f.sha"
                          " WHERE f.revision = ? AND f.path = ?", (rid, path))
        return None if row is None else bytes(row[0])

    def paths_ever(self) -> set[str]:
        with self._read() as cur:
            return {r[0] for r in cur.all("SELECT DISTINCT path FROM revision_files")}

    def mark_published(self, rid: int, info: dict[str, Any]) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE revisions SET published_at = ?, publish_info = ? WHERE id = ?",
                        (now(), json.dumps(info, ensure_ascii=False), rid))

    def set_publish_info(self, rid: int, info: dict[str, Any]) -> None:
        """Record how a publish of ``rid`` stands (started, refused, failed, interrupted)
        without publishing it: a crash mid-publish then leaves a trace saying so."""
        with self._tx() as cur:
            cur.execute("UPDATE revisions SET publish_info = ? WHERE id = ? AND published_at IS NULL",
                        (json.dumps(info, ensure_ascii=False), rid))

    # -- feedback ------------------------------------------------------------------------------
    def add_feedback(self, query: str, shown: list[str], revision: int | None,
                     useful: bool | None, correction: str | None, source: str,
                     caps: tuple[int, int] | None = None) -> int:
        """Store one feedback. ``caps``: (open rows per query, open rows in all); past
        either, ``FeedbackFull`` and nothing stored (checked in the inserting transaction)."""
        with self._tx() as cur:
            if caps is not None:
                per_query, in_all = caps
                row = cur.one("SELECT COUNT(*) FROM feedback WHERE status = 'open'")
                if row is not None and int(row[0]) >= in_all:
                    raise FeedbackFull(f"the feedback review queue is full ({in_all} open): "
                                       "try again after the open feedback is reviewed")
                row = cur.one("SELECT COUNT(*) FROM feedback WHERE status = 'open' AND query = ?",
                              (query,))
                if row is not None and int(row[0]) >= per_query:
                    raise FeedbackFull(f"this query already has {per_query} open feedback: "
                                       "thank you, it is waiting for review")
            row = cur.one(
                "INSERT INTO feedback (created_at, query, shown, revision, useful, correction,"
                " source, status) VALUES (?,?,?,?,?,?,?,'open') RETURNING id",
                (now(), query, json.dumps(shown, ensure_ascii=False), revision,
                 None if useful is None else int(useful), correction, source))
        return int(row[0])

    def feedback(self, status: str | None = None, limit: int = 1000) -> list[FeedbackRow]:
        with self._read() as cur:
            if status is None:
                rows = cur.all(f"SELECT {_FB_COLS} FROM feedback ORDER BY id DESC LIMIT ?", (limit,))
            else:
                rows = cur.all(f"SELECT {_FB_COLS} FROM feedback WHERE status = ?"
                               " ORDER BY id DESC LIMIT ?", (status, limit))
        return [_fb(r) for r in rows]

    def feedback_item(self, fid: int) -> FeedbackRow | None:
        with self._read() as cur:
            row = cur.one(f"SELECT {_FB_COLS} FROM feedback WHERE id = ?", (fid,))
        return None if row is None else _fb(row)

    def resolve_feedback(self, ids: list[int], status: str, revision: int | None, by: str) -> None:
        with self._tx() as cur:
            for fid in ids:
                cur.execute("UPDATE feedback SET status = ?, resolved_revision = ?,"
                            " resolved_by = ? WHERE id = ?", (status, revision, by, fid))

    # -- audit ---------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str,
              detail: dict[str, Any] | None = None) -> int:
        with self._tx() as cur:
            row = cur.one("INSERT INTO audit (at, actor, action, target, detail)"
                          " VALUES (?,?,?,?,?) RETURNING id",
                          (now(), actor, action, target,
                           json.dumps(detail or {}, ensure_ascii=False, default=str)))
        return int(row[0])

    def audits(self, limit: int = 200) -> list[AuditRow]:
        with self._read() as cur:
            rows = cur.all("SELECT id, at, actor, action, target, detail FROM audit"
                           " ORDER BY id DESC LIMIT ?", (limit,))
        return [AuditRow(int(r[0]), r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]


class _Cursor:
    """A DB-API cursor that speaks ``?`` placeholders on both backends."""

    def __init__(self, cur: Any, d: _Dialect) -> None:
        self.cur = cur
        self.d = d

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.cur.execute(self.d.sql(sql), params)

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        self.cur.execute(self.d.sql(sql), params)
        return self.cur.fetchone()  # type: ignore[no-any-return]

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.cur.execute(self.d.sql(sql), params)
        return list(self.cur.fetchall())


def open_store(url: str | None, default_path: Path) -> SqlRevisionStore:
    """``postgresql://…`` opens PostgreSQL; ``sqlite:///path`` or nothing opens SQLite
    (by default ``default_path``, one file under the data directory)."""
    if url and url.startswith(("postgresql://", "postgres://")):
        return SqlRevisionStore(_Postgres(url), _redact(url))
    if url and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_absolute():
            path = Path("/") / path
    elif url:
        raise RevisionStoreError(f"unsupported database URL {_redact(url)!r}: use "
                                 "postgresql://user@host/db or sqlite:////path/file.sqlite")
    else:
        path = default_path
    try:
        return SqlRevisionStore(_SQLite(path), f"sqlite:///{path}")
    except sqlite3.Error as e:
        raise RevisionStoreError(f"cannot open {path}: {e}") from None


def _redact(url: str) -> str:
    """The URL without its password, for messages and the health page."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url
