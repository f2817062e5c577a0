"""What happens to a publish killed mid-way, and to clients that never finish a request.

Both need real processes: a publish is run in a subprocess that kills itself (SIGKILL, as
``kill -9`` or the OOM killer would) at one of three points; a real ``tongdian serve`` on the
three-entry index is sent bodies over raw sockets that never finish. Issue 24's defects:

- a publish cut short left an unpublished revision with nothing saying the publish never
  finished, and its half-built folder (``revisions/rNNNNNN/``) behind;
- a request body that never finished held its connection open for good (300 of them stayed
  open over 60 s).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import stop
from tongdian.api.app import create_app
from tongdian.core.config import KEEP_ALIVE_SECONDS, Settings
from tongdian.core.stewardship.kb import KBSettings
from tongdian.core.stewardship.publish import (
    INTERRUPTED,
    open_served_engine,
    publish_state,
    revision_dir,
)
from tongdian.index.revstore import open_store

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: Processes, kills and sockets with deadlines: the full suite, not the fast tier.
pytestmark = pytest.mark.slow
GATE = Path(__file__).parent / "fixtures" / "gate_tiny.jsonl"
TOKEN = "s3cret-admin-token"

#: The publishing process: edits P01 (revision 2), then publishes it with one step patched to
#: SIGKILL the process. ``building``: after the publish is recorded as started and the
#: revision's corpus folder is written, before its index exists; ``gate``: after the index is
#: built, before the gate ran; ``swap``: after the revision is marked published, before the
#: process swapped engines and pruned old folders.
CRASH_SCRIPT = r"""
import os, signal, sys
from pathlib import Path
from tongdian.core.stewardship import publish
from tongdian.core.config import Settings
from tongdian.core.search.engine import Engine
from tongdian.core.stewardship.kb import KBSettings, KnowledgeBase

point, corpus, data, url, gate = sys.argv[1:6]
settings = Settings(corpus=Path(corpus), data=Path(data))
kbs = KBSettings(db_url=url, gate_sets=[gate])
kb = KnowledgeBase.open(settings, kbs)
engine = Engine.open(settings, rebuild=False)
_, files = kb.head()
rid = kb.put_painpoint("P01", {"title_en": "Yield is scarce and costly"}, "tester")

def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "building":
    real = publish.revision_corpus
    def build(settings, kb, rid, *a, **k):
        real(settings, kb, rid)  # the corpus folder is written, the index is not
        die()
    publish.build_revision_engine = build
elif point == "gate":
    publish.run_gate = die
swap = die if point == "swap" else (lambda engine, rid: None)
publish.Publisher(settings, kb, kbs, lambda: engine, swap).publish(rid, "tester")
print("published without dying", flush=True)
"""


@pytest.fixture()
def crash_env(tiny_settings: Settings, tiny_engine, tmp_path: Path,  # type: ignore[no-untyped-def]
              monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, str]:
    """A data directory holding the three-entry index (copied: no rebuild) and a database."""
    data = tmp_path / "data"
    shutil.copytree(Path(str(tiny_settings.data)), data)
    url = f"sqlite:///{data / 'kb.sqlite'}"
    monkeypatch.setenv("TONGDIAN_DB_URL", url)
    monkeypatch.setenv("TONGDIAN_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("TONGDIAN_GATE_SETS", str(GATE))
    return Settings(corpus=tiny_settings.corpus, data=data), url


def crash_publish(settings: Settings, url: str, point: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, point, str(settings.corpus), str(settings.data),
         url, str(GATE)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("TONGDIAN_")})
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stdout, proc.stderr[-2000:])


@pytest.mark.parametrize("point", ["building", "gate"])
def test_a_publish_killed_before_it_finished_says_interrupted_and_cleans_up(
        crash_env: tuple[Settings, str], point: str) -> None:
    settings, url = crash_env
    crash_publish(settings, url, point)
    store = open_store(url, Path("/unused"))
    row = store.revision(2)
    assert row is not None and row.published_at is None
    assert publish_state(row) == "building"  # what the dead process left: it started, no end
    build = revision_dir(settings, 2)
    assert build.is_dir(), "the crash left a build folder (the test's premise)"
    if point == "gate":
        assert (build / "index").is_dir()

    # the restart: the served revision is whole, the history says what happened
    engine, served = open_served_engine(settings, rebuild=False, kbs=KBSettings())
    assert served == 1 and engine.corpus.by_id["P01"].title_en != "Yield is scarce and costly"
    row = store.revision(2)
    assert row is not None and publish_state(row) == INTERRUPTED
    assert not build.exists(), "the unfinished build folder is removed at start"
    assert not [d for d in build.parent.iterdir() if d.name.startswith(".")]
    assert store.audits(5)[0].action == "publish-interrupted"
    with TestClient(create_app(engine, settings, revision=served)) as c:
        listed = c.get("/api/revisions").json()["revisions"][0]
        assert (listed["id"], listed["publish_state"], listed["published_at"]) == (2, INTERRUPTED, None)
        assert listed["retry"] == "/api/revisions/2/publish"
        assert "发布中断" in c.get("/history").text and "发布中断" in c.get("/history/2").text
        if point == "gate":  # and the retry works
            r = c.post("/api/revisions/2/publish", headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200 and r.json()["published"], r.text
            listed = c.get("/api/revisions").json()["revisions"][0]
            assert (listed["publish_state"], listed["retry"]) == ("published", None)
            assert c.get("/api/painpoints/P01").json()["title_en"] == "Yield is scarce and costly"


def test_a_publish_killed_after_it_was_recorded_is_served_after_the_restart(
        crash_env: tuple[Settings, str]) -> None:
    settings, url = crash_env
    crash_publish(settings, url, "swap")
    store = open_store(url, Path("/unused"))
    row = store.revision(2)
    assert row is not None and publish_state(row) == "published" and row.published_at
    engine, served = open_served_engine(settings, rebuild=False, kbs=KBSettings())
    assert served == 2 and engine.corpus.by_id["P01"].title_en == "Yield is scarce and costly"
    assert revision_dir(settings, 2).is_dir(), "the published revision's folder is kept"
    with TestClient(create_app(engine, settings, revision=served)) as c:
        body = c.get("/api/revisions").json()
        assert body["served"] == 2 and body["revisions"][0]["publish_state"] == "published"
        assert c.get("/api/health").status_code == 200


def test_a_running_publish_is_not_taken_for_an_interrupted_one(crash_env: tuple[Settings, str]) -> None:
    """Another worker starting while this process publishes must leave its build alone."""
    from tongdian.core.stewardship.publish import _this_process, recover
    from tongdian.index.revstore import now

    settings, url = crash_env
    store = open_store(url, Path("/unused"))
    store.add_revision(None, {"a.txt": b"1"}, "t", "m", "import")
    store.add_revision(1, {"a.txt": b"2"}, "t", "m", "edit")
    store.set_publish_info(2, {"state": "building", "started_at": now(), **_this_process()})
    folder = revision_dir(settings, 2) / "corpus"
    folder.mkdir(parents=True)
    assert recover(settings, store) == []
    row = store.revision(2)
    assert row is not None and publish_state(row) == "building" and folder.is_dir()


# == a real server: bodies that never finish, idle keep-alive connections =======================


@dataclass
class Live:
    proc: subprocess.Popen[bytes]
    port: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


READ_SECONDS = 2.0


@pytest.fixture(scope="module")
def live(tiny_settings: Settings, tiny_engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGDIAN_")}
    env.update(TONGDIAN_DATA=str(tiny_settings.data), TONGDIAN_CORPUS=str(tiny_settings.corpus),
               TONGDIAN_BODY_READ_SECONDS=str(READ_SECONDS),
               TONGDIAN_HOME=str(tmp_path_factory.mktemp("home")))
    log = tmp_path_factory.mktemp("live") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tongdian.cli", "serve", "--host",
                                 "127.0.0.1", "--port", str(port)], cwd=PROJECT_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if s.recv(12).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            time.sleep(0.2)
        yield Live(proc, port)
    finally:
        stop(proc)


def _read_until_closed(s: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it hangs up (or ``limit`` seconds pass)."""
    start = time.monotonic()
    s.settimeout(0.5)
    got = b""
    while time.monotonic() - start < limit:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            return got, time.monotonic() - start
        got += chunk
    return got, float("inf")


POST_HEAD = (b"POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Content-Length: 100\r\n\r\n")


def test_bodies_that_never_finish_get_408_and_are_disconnected(live: Live) -> None:
    socks = [socket.create_connection(("127.0.0.1", live.port), timeout=5) for _ in range(30)]
    try:
        for s in socks:
            s.sendall(POST_HEAD + b'{"q": "')
        for s in socks:
            got, took = _read_until_closed(s, READ_SECONDS + 10)
            assert got.startswith(b"HTTP/1.1 408"), got[:200]
            assert b"not received within 2 seconds" in got
            assert took < READ_SECONDS + 10, "the connection was left open"
    finally:
        for s in socks:
            s.close()
    assert live.proc.poll() is None


def test_a_trickling_body_is_cut_at_the_deadline(live: Live) -> None:
    """One byte a second keeps arriving, but the whole body has a deadline, not each byte."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as s:
        s.sendall(POST_HEAD)
        started = time.monotonic()
        got = b""
        s.settimeout(0.05)
        while time.monotonic() - started < READ_SECONDS + 8:
            try:
                s.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            except TimeoutError:
                pass
            time.sleep(0.5)
        assert got.startswith(b"HTTP/1.1 408"), got[:200]
        assert time.monotonic() - started < READ_SECONDS + 8


def test_idle_keep_alive_connections_are_closed(live: Live) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as s:
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        got, took = _read_until_closed(s, KEEP_ALIVE_SECONDS + 10)
        assert re.match(rb"HTTP/1\.1 200", got), got[:100]
        assert took <= KEEP_ALIVE_SECONDS + 3, f"an idle connection stayed open {took:.1f} s"


def test_a_whole_body_sent_in_time_is_answered(live: Live) -> None:
    body = '{"q": "存款越来越难拉，利率一降客户就跑了"}'.encode()
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as s:
        s.sendall(POST_HEAD.replace(b"100", str(len(body)).encode()) + body[:10])
        time.sleep(READ_SECONDS / 2)
        s.sendall(body[10:])
        got = s.recv(65536)
        assert got.startswith(b"HTTP/1.1 200"), got[:200]


def test_head_on_a_real_server(live: Live) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as s:
        s.sendall(b"HEAD /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        got, _ = _read_until_closed(s, 5)
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and rest == b"", got[:300]


def test_a_build_on_another_host_is_interrupted_only_once_stale(crash_env: tuple[Settings, str]) -> None:
    """Replicas sharing PostgreSQL: a publish started on another host cannot be checked by
    pid, so it counts as interrupted only after STALE_PUBLISH_SECONDS."""
    from tongdian.core.stewardship.publish import STALE_PUBLISH_SECONDS, recover

    settings, url = crash_env
    store = open_store(url, Path("/unused"))
    for rid in (1, 2, 3):
        store.add_revision(rid - 1 or None, {"a.txt": str(rid).encode()}, "t", "m", "edit")
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - STALE_PUBLISH_SECONDS - 60))
    store.set_publish_info(2, {"state": "building", "host": "elsewhere", "pid": 1, "started_at": old})
    store.set_publish_info(3, {"state": "building", "host": "elsewhere", "pid": 1,
                               "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    assert recover(settings, store) == [2]
    assert publish_state(store.revision(3)) == "building"  # type: ignore[arg-type]
