"""The revision store on SQLite and PostgreSQL: snapshots, conflicts, feedback, audit, and
a writer killed with SIGKILL mid-stream loses nothing it acknowledged."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.kbsupport import db_url  # noqa: F401  (fixture)
from tongdian.index.revstore import RevisionConflict, RevisionStoreError, open_store


def test_snapshots_round_trip_and_share_blobs(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    s = open_store(db_url, tmp_path / "unused.sqlite")
    assert s.head() is None and s.published() is None
    r1 = s.add_revision(None, {"a.yaml": b"one", "b/c.txt": "二".encode()}, "alice", "import",
                        "import", {"source": "x"})
    r2 = s.add_revision(r1, {"a.yaml": b"one", "b/c.txt": b"changed"}, "bob", "edit c", "edit")
    assert (r1, r2) == (1, 2)
    assert s.files(1) == {"a.yaml": b"one", "b/c.txt": "二".encode()}
    assert s.files(2)["b/c.txt"] == b"changed"
    assert s.file(2, "b/c.txt") == b"changed" and s.file(2, "nope") is None
    rev = s.revision(2)
    assert rev is not None and rev.author == "bob" and rev.parent == 1 and rev.published_at is None
    assert [r.id for r in s.revisions()] == [2, 1]
    assert s.revision(1).meta == {"source": "x"}  # type: ignore[union-attr]
    s.mark_published(1, {"gate": None})
    assert s.published() == 1 and s.revision(1).publish_info == {"gate": None}  # type: ignore[union-attr]
    assert s.paths_ever() == {"a.yaml", "b/c.txt"}


def test_an_edit_based_on_an_old_head_is_refused(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    s = open_store(db_url, tmp_path / "unused.sqlite")
    s.add_revision(None, {"a": b"1"}, "a", "m", "import")
    s.add_revision(1, {"a": b"2"}, "a", "m", "edit")
    with pytest.raises(RevisionConflict, match="based on"):
        s.add_revision(1, {"a": b"3"}, "b", "stale edit", "edit")
    assert s.head() == 2 and s.files(2) == {"a": b"2"}


def test_feedback_and_audit(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    s = open_store(db_url, tmp_path / "unused.sqlite")
    f1 = s.add_feedback("网点太贵", ["P14"], 3, False, "P07", "api")
    f2 = s.add_feedback("天气", [], None, None, "none", "page")
    assert [f.id for f in s.feedback()] == [f2, f1]
    item = s.feedback_item(f1)
    assert item is not None and item.shown == ["P14"] and item.useful is False
    assert item.correction == "P07" and item.status == "open"
    s.resolve_feedback([f1], "accepted", 4, "carol")
    assert [f.id for f in s.feedback("open")] == [f2]
    assert s.feedback_item(f1).resolved_by == "carol"  # type: ignore[union-attr]
    a = s.audit("carol", "accept", "feedback/1", {"revision": 4})
    assert s.audits()[0].id == a and s.audits()[0].detail == {"revision": 4}


def test_bad_urls_are_named(tmp_path: Path) -> None:
    with pytest.raises(RevisionStoreError, match="unsupported database URL"):
        open_store("mysql://u:secret@h/db", tmp_path / "x")
    with pytest.raises(RevisionStoreError) as e:
        open_store("mysql://u:secret@h/db", tmp_path / "x")
    assert "secret" not in str(e.value)


WRITER = r"""
import sys
from pathlib import Path
from tongdian.index.revstore import open_store
s = open_store(sys.argv[1], Path("/nonexistent"))
base = s.head()
files = {f"f{i:02d}.yaml": (f"file {i} " * 2000).encode() for i in range(30)}
while True:
    files["f00.yaml"] = f"edit after {base}".encode() * 500
    base = s.add_revision(base, files, "writer", f"rev after {base}", "edit")
    print(base, flush=True)
"""


def test_kill_9_mid_write_loses_nothing_acknowledged(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    """A writer adding 30-file revisions as fast as it can is killed with SIGKILL; every
    revision it printed (acknowledged) is there in full, and nothing is half-written."""
    open_store(db_url, tmp_path / "unused.sqlite")
    p = subprocess.Popen([sys.executable, "-c", WRITER, db_url], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    acked: list[int] = []
    assert p.stdout is not None
    deadline = time.monotonic() + 60
    while len(acked) < 8 and time.monotonic() < deadline:
        line = p.stdout.readline()
        if line.strip():
            acked.append(int(line))
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert len(acked) >= 8, "the writer never got going"
    s = open_store(db_url, tmp_path / "unused.sqlite")
    head = s.head()
    assert head is not None and head >= acked[-1]
    for rid in range(1, head + 1):  # every revision present is complete, acknowledged or not
        files = s.files(rid)
        assert len(files) == 30, f"revision {rid} has {len(files)} of 30 files"
        assert files["f00.yaml"].startswith(f"edit after {rid - 1 if rid > 1 else None}".encode())
    if db_url.startswith("sqlite"):
        con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()


#: The schema as ``CREATE TABLE IF NOT EXISTS`` made it before migrations (SQLite).
OLD_SCHEMA = [
    "CREATE TABLE blobs (sha TEXT PRIMARY KEY, body BLOB NOT NULL)",
    "CREATE TABLE revisions (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, author TEXT NOT NULL,"
    " message TEXT NOT NULL, action TEXT NOT NULL, parent INTEGER, meta TEXT NOT NULL,"
    " published_at TEXT, publish_info TEXT)",
    "CREATE TABLE revision_files (revision INTEGER NOT NULL REFERENCES revisions(id), path TEXT NOT NULL,"
    " sha TEXT NOT NULL REFERENCES blobs(sha), PRIMARY KEY (revision, path))",
    "CREATE TABLE feedback (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, query TEXT NOT NULL,"
    " shown TEXT NOT NULL, revision INTEGER, useful INTEGER, correction TEXT, source TEXT NOT NULL,"
    " status TEXT NOT NULL, resolved_revision INTEGER, resolved_by TEXT)",
    "CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL)",
]


def _latest_migration() -> str:
    from alembic.script import ScriptDirectory

    from tongdian.index.revstore import package_files

    return str(ScriptDirectory(str(package_files("tongdian.index") / "migrations")).get_current_head())


def test_a_database_made_before_migrations_is_stamped_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite"
    con = sqlite3.connect(path)
    for stmt in OLD_SCHEMA:
        con.execute(stmt)
    con.execute("INSERT INTO revisions VALUES (1, 't', 'a', 'm', 'import', NULL, '{}', NULL, NULL)")
    con.execute("INSERT INTO feedback (created_at, query, shown, source, status)"
                " VALUES ('t', '网点太贵', '[]', 'api', 'open')")
    con.commit()
    con.close()
    s = open_store(f"sqlite:///{path}", tmp_path / "unused")
    assert s.head() == 1 and [f.query for f in s.feedback()] == ["网点太贵"]
    assert s.add_feedback("q", [], None, None, None, "api") == 2  # ids go on from the old rows
    con = sqlite3.connect(path)
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(_latest_migration(),)]
    con.close()


def test_opening_migrates_once_to_the_latest_schema(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    import sqlalchemy as sa

    s = open_store(db_url, tmp_path / "unused.sqlite")
    s.add_revision(None, {"a": b"1"}, "a", "m", "import")
    again = open_store(db_url, tmp_path / "unused.sqlite")  # a second worker, a restart
    assert again.head() == 1
    with s.engine.connect() as con:
        assert con.scalar(sa.text("SELECT version_num FROM alembic_version")) == _latest_migration()
        tables = set(sa.inspect(con).get_table_names())
    assert {"blobs", "revisions", "revision_files", "feedback", "audit"} <= tables


def test_an_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(RevisionStoreError, match=r"127\.0\.0\.1"):
        open_store("postgresql://nobody@127.0.0.1:1/none", tmp_path / "x")
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "kb.sqlite").mkdir()  # a directory where the file should be
    with pytest.raises(RevisionStoreError):
        open_store(None, tmp_path / "ro" / "kb.sqlite")
