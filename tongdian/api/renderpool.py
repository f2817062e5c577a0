"""Heavy document rendering (PDF, DOCX briefs) in a small pool of worker processes.

A PDF goes through pango, fontconfig and freetype: native code that can assert, crash
or spin on a font it dislikes, and that holds a few hundred MB while it works. Run in
the server, one bad render killed every client (issue 21) and sixteen at once took the
server to 3 GB (issue 24). Here each render runs in a worker process (``pebble``'s
pool), so:

- a crash (segfault, abort) or a hang fails that request alone: the worker is replaced,
  the request gets a clear 503, the server keeps answering;
- at most ``workers`` renders run at once; past that a request waits up to
  ``queue_wait`` seconds for a free worker, then gets 503 with ``Retry-After``;
- a render has ``timeout`` seconds; a worker's address space is capped at ``memory_mib``
  (a render that needs more fails alone instead of swelling the machine), and a worker
  is replaced after ``max_jobs`` renders, so nothing creeps;
- workers may run at a lower CPU priority (``nice``; default 0, fair sharing: the
  worker limit is what keeps searches fast, and a niced worker starves on a saturated
  CPU).

Workers start on the first render (a server that never renders pays nothing) from a
fresh interpreter (forkserver, else spawn), never a fork of the threaded server.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessPool

T = TypeVar("T")

#: How often a waiting request looks for a free worker, in seconds.
POLL_S = 0.05


class RenderBusy(Exception):
    """Every worker stayed busy for the whole wait: try again after ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"所有渲染进程都在忙，请 {retry_after} 秒后重试")
        self.retry_after = retry_after


class RenderFailed(Exception):
    """The render itself failed (crash, time limit, memory ceiling); the message is safe
    to show."""


def _start_worker(memory_bytes: int, nice: int, env: Mapping[str, str]) -> None:
    """Runs first in every worker: its CPU priority, a hard memory ceiling, extra
    environment (set before any native library reads it, e.g. ``FONTCONFIG_FILE``)."""
    import resource

    os.environ.update(env)
    os.nice(nice)
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class RenderPool:
    """A bounded pool of render workers shared by every request of one server process."""

    def __init__(self, workers: int = 2, timeout: float = 30.0, queue_wait: float = 5.0,
                 max_jobs: int = 100, memory_mib: int = 1024, nice: int = 0,
                 env: Mapping[str, str] | None = None) -> None:
        if workers < 1:
            raise ValueError("a render pool needs at least one worker")
        self.workers = workers
        self.timeout = timeout
        self.queue_wait = queue_wait
        self.max_jobs = max_jobs
        self.memory_mib = memory_mib
        self.nice = nice
        self.env = dict(env or {})
        self.retry_after = max(1, math.ceil(queue_wait))
        # a thread-safe count, not an asyncio primitive: requests may come from more
        # than one event loop (test clients start one per request)
        self._free = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._pool: ProcessPool | None = None

    def _new_pool(self) -> ProcessPool:
        return ProcessPool(max_workers=self.workers, max_tasks=self.max_jobs,
                           initializer=_start_worker,
                           initargs=(self.memory_mib * 2**20, self.nice, self.env), context=_context())

    def _schedule(self, fn: Callable[..., T], args: tuple[Any, ...]) -> Future[T]:
        with self._lock:
            if self._pool is None:
                self._pool = self._new_pool()
            try:
                return self._pool.schedule(fn, args, timeout=self.timeout)
            except RuntimeError:  # the pool broke (no worker could start): start afresh
                self._pool.stop()
                self._pool = self._new_pool()
                return self._pool.schedule(fn, args, timeout=self.timeout)

    async def _acquire(self) -> None:
        deadline = time.monotonic() + self.queue_wait
        while not self._free.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise RenderBusy(self.retry_after)
            await asyncio.sleep(POLL_S)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker. ``fn`` and its arguments must be picklable (a
        module-level function and plain data). Raises ``RenderBusy`` when no worker
        frees up in time, ``RenderFailed`` when the worker crashes, runs out of time or
        memory; an exception ``fn`` raises comes back as itself."""
        await self._acquire()
        try:
            future = self._schedule(fn, args)
            try:
                return await asyncio.wrap_future(future)
            except TimeoutError:
                raise RenderFailed(f"渲染超过 {self.timeout:g} 秒，已中止") from None
            except ProcessExpired as e:
                raise RenderFailed(f"渲染进程异常退出（代码 {e.exitcode}），"
                                   "本次请求失败，服务不受影响") from None
            except MemoryError:
                raise RenderFailed(f"渲染所需内存超过上限 {self.memory_mib} MiB") from None
            except BrokenProcessPool:
                raise RenderFailed("渲染进程无法启动，本次请求失败，服务不受影响") from None
        finally:
            self._free.release()

    def close(self) -> None:
        """Stop the workers (a render still running is cut off)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            pool.join(timeout=10)
