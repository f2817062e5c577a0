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

SQLAlchemy Core over both backends (one statement per query, compiled for each dialect),
and the schema is Alembic's: every open brings the database to the latest migration
(``tongdian/index/migrations``), so a later column is a new migration, not a hand-run
``ALTER``. A database made before migrations existed is recognised and stamped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

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


# -- the tables, as the queries see them (the migrations create them) ---------------------------
META = sa.MetaData()
blobs = sa.Table("blobs", META, sa.Column("sha", sa.Text, primary_key=True),
                 sa.Column("body", sa.LargeBinary, nullable=False))
revisions = sa.Table(
    "revisions", META, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    *(sa.Column(c, sa.Text, nullable=False) for c in ("created_at", "author", "message", "action")),
    sa.Column("parent", sa.Integer), sa.Column("meta", sa.Text, nullable=False),
    sa.Column("published_at", sa.Text), sa.Column("publish_info", sa.Text))
revision_files = sa.Table(
    "revision_files", META, sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("path", sa.Text, primary_key=True), sa.Column("sha", sa.Text, nullable=False))
feedback = sa.Table(
    "feedback", META, sa.Column("id", sa.BigInteger, primary_key=True),
    *(sa.Column(c, sa.Text, nullable=False) for c in ("created_at", "query", "shown")),
    sa.Column("revision", sa.Integer), sa.Column("useful", sa.Integer),
    sa.Column("correction", sa.Text), sa.Column("source", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False), sa.Column("resolved_revision", sa.Integer),
    sa.Column("resolved_by", sa.Text))
audit_log = sa.Table(
    "audit", META, sa.Column("id", sa.BigInteger, primary_key=True),
    *(sa.Column(c, sa.Text, nullable=False) for c in ("at", "actor", "action", "target", "detail")))

_REV_COLS = [revisions.c[n] for n in ("id", "created_at", "author", "message", "action", "parent",
                                       "meta", "published_at", "publish_info")]
_FB_COLS = [feedback.c[n] for n in ("id", "created_at", "query", "shown", "revision", "useful",
                                     "correction", "source", "status", "resolved_revision",
                                     "resolved_by")]


def _rev(row: Any) -> RevisionRow:
    return RevisionRow(int(row[0]), row[1], row[2], row[3], row[4],
                       None if row[5] is None else int(row[5]), json.loads(row[6]), row[7],
                       None if row[8] is None else json.loads(row[8]))


def _fb(row: Any) -> FeedbackRow:
    return FeedbackRow(int(row[0]), row[1], row[2], json.loads(row[3]),
                       None if row[4] is None else int(row[4]),
                       None if row[5] is None else bool(row[5]), row[6], row[7], row[8],
                       None if row[9] is None else int(row[9]), row[10])


#: The execution option that marks a read-only connection (see ``_engine``).
_READ = "tongdian_read"


def _engine(url: str) -> Engine:
    """An engine without a pool: a connection per call, as cheap as before for SQLite and a
    few milliseconds for PostgreSQL, never shared between the server's threads."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, poolclass=NullPool,
                                  connect_args={"timeout": SQLITE_BUSY_MS / 1000,
                                                "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_con: Any, _: Any) -> None:
            dbapi_con.isolation_level = None  # transactions are ours (BEGIN IMMEDIATE below)
            cur = dbapi_con.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit that returned survives a power cut too, not just a killed process
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(con: Connection) -> None:
            # a write takes the lock at the start (two writers never both read the same
            # head); a read is a plain snapshot that blocks nobody
            read = con.get_execution_options().get(_READ, False)
            con.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                            .replace("postgres://", "postgresql+psycopg://", 1), poolclass=NullPool)


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest migration (stamping a database made before them)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(package_files("tongdian.index") / "migrations"))
    with engine.begin() as con:
        if con.dialect.name == "postgresql":  # replicas starting together migrate one at a time
            con.exec_driver_sql("SELECT pg_advisory_xact_lock(20240624)")
        cfg.attributes["connection"] = con
        tables = set(sa.inspect(con).get_table_names())
        if "revisions" in tables and "alembic_version" not in tables:
            command.stamp(cfg, "0001")  # made by CREATE TABLE IF NOT EXISTS, before migrations
        command.upgrade(cfg, "head")


class SqlRevisionStore:
    """The one implementation, over either backend."""

    def __init__(self, url: str, shown_url: str) -> None:
        self.engine = _engine(url)
        self.url = shown_url
        with self._errors():
            migrate(self.engine)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """The database's failures (cannot connect, locked, gone mid-call) as
        ``RevisionStoreError`` (a 503); a violated constraint stays what it is."""
        try:
            yield
        except sa_exc.IntegrityError:
            raise
        except sa_exc.DBAPIError as e:
            raise RevisionStoreError(f"{self.url}: {str(e.orig).strip()[:300]}") from None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One transaction: committed when the block returns, rolled back if it raises."""
        with self._errors(), self.engine.begin() as con:
            yield con

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._errors(), self.engine.connect().execution_options(**{_READ: True}) as con:
            yield con

    # -- revisions -----------------------------------------------------------------------------
    def head(self) -> int | None:
        with self._read() as con:
            return con.scalar(sa.select(sa.func.max(revisions.c.id)))

    def published(self) -> int | None:
        with self._read() as con:
            return con.scalar(sa.select(sa.func.max(revisions.c.id))
                              .where(revisions.c.published_at.is_not(None)))

    def add_revision(self, base: int | None, files: dict[str, bytes], author: str, message: str,
                     action: str, meta: dict[str, Any] | None = None) -> int:
        """Add a snapshot on top of ``base`` (None for the first); refused if the head moved."""
        rid = (base or 0) + 1
        try:
            with self._tx() as con:
                head = con.scalar(sa.select(sa.func.max(revisions.c.id)))
                if head != base:
                    raise RevisionConflict(
                        f"revision {head} was added since revision {base}, which this change "
                        "was based on: reload and apply it again")
                con.execute(revisions.insert().values(
                    id=rid, created_at=now(), author=author, message=message, action=action,
                    parent=base, meta=json.dumps(meta or {}, ensure_ascii=False)))
                insert_blob = (sqlite.insert if con.dialect.name == "sqlite"
                               else postgresql.insert)(blobs).on_conflict_do_nothing()
                for path, body in sorted(files.items()):
                    digest = sha(body)
                    con.execute(insert_blob.values(sha=digest, body=body))
                    con.execute(revision_files.insert().values(revision=rid, path=path, sha=digest))
        except sa_exc.IntegrityError:  # a concurrent insert of the same id on another replica
            raise RevisionConflict(f"revision {rid} was added concurrently: try again") from None
        return rid

    def revision(self, rid: int) -> RevisionRow | None:
        with self._read() as con:
            row = con.execute(sa.select(*_REV_COLS).where(revisions.c.id == rid)).first()
        return None if row is None else _rev(row)

    def revisions(self, limit: int = 100, offset: int = 0) -> list[RevisionRow]:
        with self._read() as con:
            rows = con.execute(sa.select(*_REV_COLS).order_by(revisions.c.id.desc())
                               .limit(limit).offset(offset)).all()
        return [_rev(r) for r in rows]

    def files(self, rid: int) -> dict[str, bytes]:
        q = (sa.select(revision_files.c.path, blobs.c.body)
             .join(blobs, blobs.c.sha == revision_files.c.sha)
             .where(revision_files.c.revision == rid).order_by(revision_files.c.path))
        with self._read() as con:
            return {p: bytes(body) for p, body in con.execute(q)}

    def file(self, rid: int, path: str) -> bytes | None:
        """One file of a revision (an entry's history reads one file per revision)."""
        q = (sa.select(blobs.c.body).join(revision_files, blobs.c.sha == revision_files.c.sha)
             .where(revision_files.c.revision == rid, revision_files.c.path == path))
        with self._read() as con:
            body = con.scalar(q)
        return None if body is None else bytes(body)

    def paths_ever(self) -> set[str]:
        with self._read() as con:
            return set(con.scalars(sa.select(revision_files.c.path).distinct()))

    def mark_published(self, rid: int, info: dict[str, Any]) -> None:
        with self._tx() as con:
            con.execute(revisions.update().where(revisions.c.id == rid).values(
                published_at=now(), publish_info=json.dumps(info, ensure_ascii=False)))

    def set_publish_info(self, rid: int, info: dict[str, Any]) -> None:
        """Record how a publish of ``rid`` stands (started, refused, failed, interrupted)
        without publishing it: a crash mid-publish then leaves a trace saying so."""
        with self._tx() as con:
            con.execute(revisions.update()
                        .where(revisions.c.id == rid, revisions.c.published_at.is_(None))
                        .values(publish_info=json.dumps(info, ensure_ascii=False)))

    # -- feedback ------------------------------------------------------------------------------
    def add_feedback(self, query: str, shown: list[str], revision: int | None,
                     useful: bool | None, correction: str | None, source: str,
                     caps: tuple[int, int] | None = None) -> int:
        """Store one feedback. ``caps``: (open rows per query, open rows in all); past
        either, ``FeedbackFull`` and nothing stored (checked in the inserting transaction)."""
        is_open = feedback.c.status == "open"
        with self._tx() as con:
            if caps is not None:
                per_query, in_all = caps
                count = sa.select(sa.func.count()).select_from(feedback).where(is_open)
                if (con.scalar(count) or 0) >= in_all:
                    raise FeedbackFull(f"the feedback review queue is full ({in_all} open): "
                                       "try again after the open feedback is reviewed")
                if (con.scalar(count.where(feedback.c.query == query)) or 0) >= per_query:
                    raise FeedbackFull(f"this query already has {per_query} open feedback: "
                                       "thank you, it is waiting for review")
            return int(con.scalar(feedback.insert().values(
                created_at=now(), query=query, shown=json.dumps(shown, ensure_ascii=False),
                revision=revision, useful=None if useful is None else int(useful),
                correction=correction, source=source, status="open",
            ).returning(feedback.c.id)))

    def feedback(self, status: str | None = None, limit: int = 1000) -> list[FeedbackRow]:
        q = sa.select(*_FB_COLS).order_by(feedback.c.id.desc()).limit(limit)
        if status is not None:
            q = q.where(feedback.c.status == status)
        with self._read() as con:
            return [_fb(r) for r in con.execute(q)]

    def feedback_item(self, fid: int) -> FeedbackRow | None:
        with self._read() as con:
            row = con.execute(sa.select(*_FB_COLS).where(feedback.c.id == fid)).first()
        return None if row is None else _fb(row)

    def resolve_feedback(self, ids: list[int], status: str, revision: int | None, by: str) -> None:
        if not ids:
            return
        with self._tx() as con:
            con.execute(feedback.update().where(feedback.c.id.in_(ids)).values(
                status=status, resolved_revision=revision, resolved_by=by))

    # -- audit ---------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str,
              detail: dict[str, Any] | None = None) -> int:
        with self._tx() as con:
            return int(con.scalar(audit_log.insert().values(
                at=now(), actor=actor, action=action, target=target,
                detail=json.dumps(detail or {}, ensure_ascii=False, default=str),
            ).returning(audit_log.c.id)))

    def audits(self, limit: int = 200) -> list[AuditRow]:
        q = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        with self._read() as con:
            return [AuditRow(int(r[0]), r[1], r[2], r[3], r[4], json.loads(r[5]))
                    for r in con.execute(q)]


def open_store(url: str | None, default_path: Path) -> SqlRevisionStore:
    """``postgresql://…`` opens PostgreSQL; ``sqlite:///path`` or nothing opens SQLite
    (by default ``default_path``, one file under the data directory)."""
    if url and url.startswith(("postgresql://", "postgres://")):
        return SqlRevisionStore(url, _redact(url))
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
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RevisionStoreError(f"cannot open {path}: {e}") from None
    return SqlRevisionStore(f"sqlite:///{path}", f"sqlite:///{path}")


def _redact(url: str) -> str:
    """The URL without its password, for messages and the health page."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url
