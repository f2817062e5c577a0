"""The knowledge base as the app holds it: opened on first use, and the engine swap.

The app serves ``app.state.engine``; ``deps.get_engine`` reads it per request, so
replacing it is an atomic pointer swap: a request that started on the old engine finishes
on it. The MCP server was built around one engine and one catalog, so it is handed
``Live`` references that follow the swap.

The revision database is opened lazily (the first history view, edit or feedback): a
replica serving a read-only index directory never needs it. Other workers and replicas
follow a publish by polling the published revision (``FOLLOW_SECONDS``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import FastAPI, Request, Response

from tongdian.core.config import Settings
from tongdian.core.search.engine import Engine
from tongdian.core.stewardship.kb import KBSettings, KnowledgeBase
from tongdian.core.stewardship.publish import Publisher, build_revision_engine, recover
from tongdian.index.revstore import RevisionConflict, RevisionStoreError

from .links import LinkedCatalog

log = logging.getLogger(__name__)

#: How often a worker checks whether another worker or replica published a revision.
FOLLOW_SECONDS = 5.0
#: The furthest a history page may start: beyond any real history (a revision a second for
#: thirty years), and far below SQLite's 2**63 integers, which a larger offset overflows (a 500).
MAX_OFFSET = 1_000_000_000


class Live:
    """A reference that forwards every attribute to its current target."""

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_target"), name)

    def retarget(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)


class KBState:
    """One app's knowledge base, publisher and served revision."""

    def __init__(self, app: FastAPI, settings: Settings, kbs: KBSettings,
                 revision: int | None, live: list[tuple[Live, str]]) -> None:
        self.app = app
        self.settings = settings
        self.kbs = kbs
        self.revision = revision
        self.live = live
        self._kb: KnowledgeBase | None = None
        self._publisher: Publisher | None = None
        self._open_lock = threading.Lock()
        self._stop = threading.Event()

    @property
    def kb(self) -> KnowledgeBase:
        with self._open_lock:
            if self._kb is None:
                engine: Engine = self.app.state.engine
                kb = KnowledgeBase.open(self.settings, self.kbs, source=engine.corpus.root)
                recover(self.settings, kb.store)  # a publish a crash cut short says so
                head = kb.store.head()
                if head is None:
                    self.revision = kb.ensure_initial()  # the served corpus, published
                elif self.revision is None:
                    # which published revision is this engine? (a worker started before the
                    # latest publish serves an older one, and will follow)
                    self.revision = next(
                        (r.id for r in kb.store.revisions(limit=1_000_000)
                         if r.published_at and r.meta.get("digest") == engine.corpus.digest), None)
                self._kb = kb
            return self._kb

    @property
    def publisher(self) -> Publisher:
        kb = self.kb
        if self._publisher is None:
            self._publisher = Publisher(self.settings, kb, self.kbs,
                                        lambda: self.app.state.engine, self.swap)
        return self._publisher

    def swap(self, engine: Engine, revision: int) -> None:
        """Serve ``engine`` from now on: the catalog is built first, then both pointers move."""
        catalog = LinkedCatalog(engine)
        self.app.state.engine = engine
        self.app.state.catalog = catalog
        for ref, attr in self.live:
            ref.retarget(engine if attr == "engine" else catalog)
        self.revision = revision
        log.info("now serving revision %s", revision)

    # -- following publishes made elsewhere ---------------------------------------------------
    def follow_once(self) -> bool:
        """Load the published revision if it is newer than ours; True if we swapped."""
        if self._kb is None:
            from tongdian.core.stewardship.kb import kb_exists

            if not kb_exists(self.settings, self.kbs):
                return False
        pub = self.kb.store.published()
        # an app that does not serve a revision of this knowledge base (started on another
        # corpus) must not be switched to it behind its operator's back
        if pub is None or self.revision is None or pub <= self.revision:
            return False
        with self.publisher._lock:  # not while this process publishes itself
            if pub <= self.revision:
                return False
            old: Engine = self.app.state.engine
            engine, _ = build_revision_engine(self.settings, self.kb, pub, old.embedder, old)
            self.swap(engine, pub)
        return True

    def follow(self) -> None:
        while not self._stop.wait(FOLLOW_SECONDS):
            try:
                self.follow_once()
            except Exception as e:  # keep serving the old revision; say why once per poll
                log.warning("could not follow the published revision: %s", e)

    def start_following(self) -> None:
        threading.Thread(target=self.follow, name="kb-follow", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def install_kb(app: FastAPI, settings: Settings, revision: int | None,
               live: list[tuple[Live, str]]) -> KBState:
    from .handlers import error_response

    async def _store_error(request: Request, exc: Exception) -> Response:
        """The database went away mid-request (PostgreSQL restarting, a locked file): a 503
        that says so, wherever in a route it happened — never a 500."""
        if isinstance(exc, RevisionConflict):
            return error_response(request, 409, str(exc))
        return error_response(request, 503, f"the revision database is unavailable: {exc}")

    app.add_exception_handler(RevisionStoreError, _store_error)
    kbs = KBSettings()
    app.state.kb_settings = kbs
    state = KBState(app, settings, kbs, revision, live)
    app.state.kb = state
    return state


def kb_state(request: Request) -> KBState:
    return request.app.state.kb  # type: ignore[no-any-return]
