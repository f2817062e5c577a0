"""Rendering can never take the server down (issues 21 and 24).

The pool on its own: a crash (SIGABRT, a bad exit) or a hang fails that job alone and the
next job runs; a job past the memory ceiling fails alone; workers are replaced after N
jobs; past the concurrency limit a job waits briefly, then is refused as busy. Then
through the app: with a fontconfig that knows no font at all a PDF brief is drawn with the
shipped font (or refused with a clear error) and the server keeps answering; a crashing
or hanging renderer answers 503 with a message and the next request is served; every
worker busy answers 503 with Retry-After; without pango the PDF route says what to
install and the page disables the PDF button, saying why.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests import briefsupport
from tongdian.api.app import create_app
from tongdian.api.renderpool import RenderBusy, RenderFailed, RenderPool
from tongdian.api.routes import brief as brief_route
from tongdian.core.answers import brief_pdf

QUERY = "好资产太难找了，钱贷不出去；同时存款越来越难拉，都跑去理财了"


def run(pool: RenderPool, fn, *args):  # type: ignore[no-untyped-def]
    return asyncio.run(pool.run(fn, *args))


@pytest.fixture()
def pool() -> Iterator[RenderPool]:
    p = RenderPool(workers=2, timeout=2, queue_wait=0.3, max_jobs=3, memory_mib=512)
    yield p
    p.close()


@pytest.mark.parametrize(("fn", "args", "said"), [
    (ctypes.string_at, (0,), "代码 -11"),  # a segmentation fault, as pango's was
    (os.abort, (), "代码 -6"),
    (os._exit, (3,), "代码 3"),
])
def test_a_crash_fails_that_job_alone(pool: RenderPool, fn, args, said: str) -> None:  # type: ignore[no-untyped-def]
    async def both() -> list[object]:
        # a neighbour job runs on the other worker while this one dies
        return await asyncio.gather(pool.run(fn, *args), pool.run(time.sleep, 0.5),
                                    return_exceptions=True)

    crashed, neighbour = asyncio.run(both())
    assert isinstance(crashed, RenderFailed) and said in str(crashed)
    assert neighbour is None
    assert run(pool, sum, [1, 2, 3]) == 6  # the pool carries on


def test_a_hang_hits_the_time_limit(pool: RenderPool) -> None:
    t0 = time.perf_counter()
    with pytest.raises(RenderFailed, match="超过 2 秒"):
        run(pool, time.sleep, 60)
    assert time.perf_counter() - t0 < 10
    assert run(pool, sum, [2, 2]) == 4


def test_a_job_past_the_memory_ceiling_fails_alone(pool: RenderPool) -> None:
    with pytest.raises(RenderFailed, match="512 MiB"):
        run(pool, bytearray, 2**30)
    assert run(pool, len, bytearray(2**20)) == 2**20


def test_an_error_of_the_job_comes_back_as_itself(pool: RenderPool) -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        run(pool, int, "not a number")


def test_workers_are_replaced_after_max_jobs() -> None:
    p = RenderPool(workers=1, timeout=10, max_jobs=2)
    try:
        pids = [run(p, os.getpid) for _ in range(5)]
    finally:
        p.close()
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert os.getpid() not in pids


def test_workers_can_run_at_a_lower_cpu_priority() -> None:
    """An operator can have searches win the cores when both want them."""
    p = RenderPool(workers=1, nice=7)
    try:
        assert run(p, os.nice, 0) == min(19, os.nice(0) + 7)
    finally:
        p.close()


def test_past_the_limit_a_job_waits_then_is_refused_as_busy() -> None:
    p = RenderPool(workers=1, timeout=10, queue_wait=0.4)

    async def three() -> list[object]:
        slow = asyncio.create_task(p.run(time.sleep, 1.5))
        await asyncio.sleep(0.1)
        t0 = time.perf_counter()
        try:
            await p.run(os.getpid)
        except RenderBusy as e:
            waited = time.perf_counter() - t0
            return [e, waited, await slow]
        raise AssertionError("a second job ran while the only worker was busy")

    try:
        busy, waited, _ = asyncio.run(three())
        assert 0.35 <= waited < 1.4  # it waited for a free worker, then gave up
        assert busy.retry_after >= 1
        assert run(p, os.getpid)  # once the worker is free, jobs run again
    finally:
        p.close()


# --- through the app --------------------------------------------------------------------


@pytest.fixture()
def app_client(tiny_engine, tiny_settings, tmp_path: Path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The app with a render pool whose fontconfig knows no font at all (a slim container:
    fontconfig installed, no font) and short limits."""
    settings = tiny_settings.model_copy(update={"home": tmp_path, "permalink_dir": tmp_path / "r"})
    app = create_app(tiny_engine, settings)
    app.state.render_pool.close()
    conf = briefsupport.fontconfig_file(tmp_path / "nofont")
    app.state.render_pool = RenderPool(workers=1, timeout=3, queue_wait=0.5,
                                       env={"FONTCONFIG_FILE": str(conf)})
    with TestClient(app) as c:
        yield c


def assert_alive(c: TestClient) -> None:
    assert c.get("/api/health").status_code == 200
    assert c.get("/api/search", params={"q": QUERY}).status_code == 200
    md = c.get("/api/brief", params={"q": QUERY, "format": "md"})
    assert md.status_code == 200 and md.text.startswith("# ")


def test_pdf_with_no_font_at_all_is_drawn_with_the_shipped_font(app_client: TestClient) -> None:
    if missing := brief_pdf.pdf_missing():  # pragma: no cover - the project's install brings pango
        pytest.skip(missing)
    r = app_client.get("/api/brief", params={"q": QUERY, "format": "pdf"})
    if r.status_code == 503:  # allowed: refused with a clear message, never a crash or 500
        assert r.json()["error"]
    else:
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        briefsupport.assert_cjk_drawn_in_shipped_font(r.content)
    assert_alive(app_client)


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
def test_a_crashing_renderer_fails_that_request_alone(app_client: TestClient, fmt: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(brief_route.RENDERERS, fmt, briefsupport.crash)
    monkeypatch.setattr(brief_pdf, "pdf_missing", lambda: None)
    r = app_client.get("/api/brief", params={"q": QUERY, "format": fmt})
    assert r.status_code == 503
    assert "异常退出" in r.json()["error"] and "Markdown" in r.json()["error"]
    assert "Traceback" not in r.text
    assert_alive(app_client)
    monkeypatch.undo()
    docx = app_client.get("/api/brief", params={"q": QUERY, "format": "docx"})
    assert docx.status_code == 200 and docx.content.startswith(b"PK")


def test_a_hanging_renderer_hits_the_time_limit(app_client: TestClient,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(brief_route.RENDERERS, "docx", briefsupport.hang)
    t0 = time.perf_counter()
    r = app_client.post("/api/brief", json={"q": QUERY, "format": "docx"})
    assert r.status_code == 503 and "超过 3 秒" in r.json()["error"]
    assert time.perf_counter() - t0 < 15
    assert_alive(app_client)


def test_every_worker_busy_answers_503_with_retry_after(app_client: TestClient,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(brief_route.RENDERERS, "docx", briefsupport.hang)
    slow: dict[str, int] = {}
    t = threading.Thread(target=lambda: slow.update(status=app_client.get(
        "/api/brief", params={"q": QUERY, "format": "docx"}).status_code))
    t.start()
    time.sleep(1.0)  # the only worker is now stuck in the hang
    r = app_client.get("/api/brief", params={"q": QUERY, "format": "docx"})
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
    assert "重试" in r.json()["error"]
    assert app_client.get("/api/health").status_code == 200  # searches are not queued behind
    t.join(20)
    assert slow["status"] == 503  # the stuck one hit the time limit


def test_without_pango_pdf_says_what_to_install_and_the_page_says_why(
        app_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    said = "PDF 简报需要 WeasyPrint 和 pango：apt-get install libpango-1.0-0 libpangoft2-1.0-0"
    page = app_client.get("/search", params={"q": QUERY}).text
    assert 'value="pdf" disabled' not in page and 'id="pdf-missing"' not in page
    monkeypatch.setattr(brief_pdf, "pdf_missing", lambda: said)
    r = app_client.get("/api/brief", params={"q": QUERY, "format": "pdf"})
    assert r.status_code == 503 and "libpango-1.0-0" in r.json()["error"]
    page = app_client.get("/search", params={"q": QUERY}).text
    assert 'value="pdf" disabled' in page and "libpango-1.0-0" in page
    docx = app_client.get("/api/brief", params={"q": QUERY, "format": "docx"})
    assert docx.status_code == 200


@pytest.mark.slow
def test_a_server_with_no_font_at_all_still_serves_after_a_pdf(tiny_settings, tiny_engine,  # type: ignore[no-untyped-def]
                                                                tmp_path: Path) -> None:
    """Issue 21's reproduction, end to end: ``tongdian serve`` started under a fontconfig
    that names only a cache directory (a slim container), asked for a PDF brief. Before,
    pango asserted and the whole server died (exit 139). Now the PDF is drawn with the
    shipped font or refused with a message, and the same process answers afterwards."""
    import socket
    import subprocess
    import sys

    import httpx

    del tiny_engine  # built: the server opens the same index
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = briefsupport.fontconfig_file(tmp_path / "nofont")
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "TONGDIAN_HOME": str(tmp_path / "home"),
           "TONGDIAN_CORPUS": str(tiny_settings.corpus), "TONGDIAN_DATA": str(tiny_settings.data)}
    proc = subprocess.Popen([sys.executable, "-m", "tongdian.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server not up in 120 s"
            time.sleep(0.2)
        r = httpx.get(f"{url}/api/brief", params={"q": QUERY, "format": "pdf"}, timeout=120)
        if r.status_code == 200:
            briefsupport.assert_cjk_drawn_in_shipped_font(r.content)
        else:
            assert r.status_code == 503 and r.json()["error"], r.text[:500]
        assert httpx.get(f"{url}/api/health", timeout=10).status_code == 200
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(20)
