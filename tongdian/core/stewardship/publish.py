"""Publish a revision: build its index beside the served one, gate it, swap atomically.

Only entries that changed are embedded again: the served engine's vectors are reused for
every text it already embedded (the same text, prefix and model give the same vector), so
an edit to one pain point embeds a handful of texts; the ranker is refitted on the whole
corpus (seconds). The new index goes to its own directory (``revisions/rNNNNNN/``), the
quality gate compares the candidate with the served engine, and only then is the engine
swapped: searches running meanwhile finish on the old engine, which stays whole in memory
(its files stay open even when an older directory is pruned).

A restart serves the latest published revision (``open_served_engine``).

A publish says how it stands in the revision's ``publish_info`` before it builds anything
(``state: building`` with the publishing process's pid), and ends as ``published``,
``refused`` (the gate) or ``failed`` (an error, with its message). A process killed mid-way
(kill -9, a power cut, the OOM killer) cannot write its ending, so ``recover`` — run at every
start — finds ``building`` publishes whose process is gone, marks them ``interrupted`` (the
history and ``/api/revisions`` say so, and publishing again retries), and removes the build
folders no published revision needs.
"""

from __future__ import annotations

import calendar
import logging
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from tongdian.core.config import Settings
from tongdian.core.knowledge.corpus import Corpus, load_corpus
from tongdian.core.search.build import ensure_index
from tongdian.core.search.engine import Engine
from tongdian.core.stewardship.gate import GateReport, run_gate
from tongdian.core.stewardship.kb import KBSettings, KnowledgeBase, kb_exists
from tongdian.core.stewardship.kbedit import EditError, write_dir
from tongdian.index.embedders import Embedder, ReuseEmbedder, make_embedder
from tongdian.index.revstore import RevisionRow, RevisionStore, now
from tongdian.index.store import Store, slug

log = logging.getLogger(__name__)

#: A limit: revision directories kept besides the served one (the previous, for a rollback).
KEEP_REVISION_DIRS = 2
#: A limit: a publish "building" this long is taken as interrupted (its host may be another).
STALE_PUBLISH_SECONDS = 3600.0
#: A format: publish states as the history and the API show them.
PUBLISHED, BUILDING, REFUSED, FAILED, INTERRUPTED = (
    "published", "building", "refused", "failed", "interrupted")


def publish_state(row: RevisionRow) -> str | None:
    """How the revision's last publish stands; None if nobody tried to publish it."""
    if row.published_at:
        return PUBLISHED
    return (row.publish_info or {}).get("state")


def _this_process() -> dict[str, Any]:
    proc = psutil.Process()
    return {"host": socket.gethostname(), "pid": proc.pid, "pid_started": proc.create_time()}


def _process_alive(info: dict[str, Any]) -> bool | None:
    """Is the process that started this publish still running? None: cannot tell (another host)."""
    if info.get("host") != socket.gethostname():
        return None
    try:
        proc = psutil.Process(int(info.get("pid", -1)))
        # a pid is reused: the same pid started at another time is another process
        return abs(proc.create_time() - float(info.get("pid_started", 0))) < 1.0
    except (psutil.Error, ValueError, TypeError):
        return False


def _interrupted(info: dict[str, Any]) -> bool:
    alive = _process_alive(info)
    if alive is None:
        started = calendar.timegm(time.strptime(info.get("started_at", now()), "%Y-%m-%dT%H:%M:%SZ"))
        return time.time() - started > STALE_PUBLISH_SECONDS
    return not alive


def recover(settings: Settings, store: RevisionStore) -> list[int]:
    """After a crash: mark dead ``building`` publishes ``interrupted``, remove build folders
    that no published revision or running publish needs. Returns the revisions marked."""
    marked: list[int] = []
    live_builds: set[int] = set()
    published: set[int] = set()
    for row in store.revisions(limit=1_000_000):
        if row.published_at:
            published.add(row.id)
            continue
        info = row.publish_info or {}
        if info.get("state") != BUILDING:
            continue
        if _interrupted(info):
            store.set_publish_info(row.id, {**info, "state": INTERRUPTED, "interrupted_found": now(),
                                            "note": "the publishing process stopped before it "
                                                    "finished: publish again to retry"})
            store.audit("system", "publish-interrupted", f"revision/{row.id}",
                        {"by": info.get("by"), "started_at": info.get("started_at")})
            marked.append(row.id)
        else:
            live_builds.add(row.id)
    root = Path(settings.data or settings.home / "index") / "revisions"
    if root.is_dir() and not live_builds:  # a live build may own any temporary folder
        for d in root.iterdir():
            if not d.is_dir():
                continue
            unfinished = d.name.startswith(".")  # write_dir's temporary folder
            rid = int(d.name[1:]) if d.name[1:].isdigit() and d.name.startswith("r") else None
            if unfinished or (rid is not None and rid not in published):
                log.warning("removing the unfinished build folder %s", d)
                shutil.rmtree(d, ignore_errors=True)
    return marked


def known_vectors(engine: Engine) -> dict[tuple[bool, str], np.ndarray]:
    """Every text the engine's index embedded, with its vector."""
    ev = engine.evidence
    vecs = ev.dense.vectors()
    known = {(v.is_query_like, v.text): vecs[i] for i, v in enumerate(ev.views)}
    for text, vec in zip(engine.corpus.out_of_scope, ev.oos_vectors, strict=False):
        known[(True, text)] = np.asarray(vec)
    for text, vec in zip(engine.asker.questions, engine.asker.q_vecs, strict=True):
        known[(True, text)] = np.asarray(vec)
    return known


def revision_dir(settings: Settings, rid: int) -> Path:
    return Path(settings.data or settings.home / "index") / "revisions" / f"r{rid:06d}"


def revision_corpus(settings: Settings, kb: KnowledgeBase, rid: int) -> Corpus:
    return load_corpus(write_dir(kb.files(rid), revision_dir(settings, rid) / "corpus"))


def revision_store(settings: Settings, rid: int, spec: str) -> Store:
    return Store(revision_dir(settings, rid) / "index" / slug(spec))


def build_revision_engine(settings: Settings, kb: KnowledgeBase, rid: int, embedder: Embedder,
                          previous: Engine | None, rebuild: bool | None = None) -> tuple[Engine, dict[str, int]]:
    corpus = revision_corpus(settings, kb, rid)
    emb: Any = ReuseEmbedder(embedder, known_vectors(previous)) if previous else embedder
    index = ensure_index(revision_store(settings, rid, embedder.spec), corpus, emb, rebuild=rebuild)
    stats = {"embedded": getattr(emb, "embedded", -1), "reused": getattr(emb, "reused", 0)}
    return Engine(corpus, embedder, index, compose_segments=settings.compose_segments), stats


@dataclass
class PublishOutcome:
    revision: int
    published: bool
    override: bool
    gate: GateReport | None
    seconds: float
    embedded: int
    reused: int
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "published": self.published, "override": self.override,
                "gate": self.gate.to_json() if self.gate else None, "seconds": self.seconds,
                "embedded": self.embedded, "reused": self.reused, "message": self.message}


class Publisher:
    """Builds, gates and swaps in revisions for one serving process, one at a time."""

    def __init__(self, settings: Settings, kb: KnowledgeBase, kbs: KBSettings,
                 current: Callable[[], Engine], swap: Callable[[Engine, int], None]) -> None:
        self.settings = settings
        self.kb = kb
        self.kbs = kbs
        self.current = current
        self.swap = swap
        self._lock = threading.Lock()

    def publish(self, rid: int, actor: str, override: bool = False,
                gate_sets: list[str] | None = None) -> PublishOutcome:
        """Build, gate and serve ``rid``; every way it ends is recorded on the revision."""
        with self._lock:
            row = self.kb.store.revision(rid)
            if row is None:
                raise EditError([("revision", f"no revision {rid}")], status=404)
            served = self.kb.store.published()
            if served is not None and rid < served:
                raise EditError([("revision", f"revision {rid} is older than the published "
                                  f"revision {served}: restore it as a new revision instead")],
                                status=409)
            started = {"state": BUILDING, "by": actor, "started_at": now(), **_this_process()}
            self.kb.store.set_publish_info(rid, started)
            try:
                return self._publish(rid, actor, override, gate_sets, served, started)
            except Exception as e:
                self.kb.store.set_publish_info(rid, {**started, "state": FAILED,
                                                     "error": str(e)[:500], "ended_at": now()})
                raise

    def _publish(self, rid: int, actor: str, override: bool, gate_sets: list[str] | None,
                 served: int | None, started: dict[str, Any]) -> PublishOutcome:
        t0 = time.perf_counter()
        old = self.current()
        cand, stats = build_revision_engine(self.settings, self.kb, rid, old.embedder, old)
        sets = self.kbs.resolved_gate_sets() if gate_sets is None else gate_sets
        report = run_gate(old, cand, sets, self.kbs.gate_margin) if sets else None
        refused = bool(report and report.refused)
        took = round(time.perf_counter() - t0, 2)
        if refused and not override:
            self.kb.store.set_publish_info(rid, {**started, "state": REFUSED,
                                                 "reasons": report.reasons if report else [],
                                                 "ended_at": now()})
            self.kb.store.audit(actor, "publish-refused", f"revision/{rid}",
                                {"reasons": report.reasons if report else []})
            return PublishOutcome(rid, False, False, report, took, stats["embedded"],
                                  stats["reused"], "refused by the quality gate: "
                                  + "; ".join(report.reasons if report else []))
        info = {"state": PUBLISHED, "by": actor, "override": bool(refused and override),
                "gate": report.to_json() if report else None,
                "embedded": stats["embedded"], "reused": stats["reused"], "seconds": took}
        self.kb.store.mark_published(rid, info)
        self.kb.store.audit(actor, "publish-override" if refused else "publish",
                            f"revision/{rid}", {"override": bool(refused and override)})
        self.swap(cand, rid)
        self._prune(rid, served)
        msg = (f"revision {rid} published despite the gate (override recorded)"
               if refused else f"revision {rid} published")
        return PublishOutcome(rid, True, bool(refused and override), report, took,
                              stats["embedded"], stats["reused"], msg)

    def _prune(self, keep: int, previous: int | None) -> None:
        """Remove revision directories other than the served and the previous one. Engines
        still holding an old one keep working: their files are open or in memory."""
        root = revision_dir(self.settings, keep).parent
        keepers = {revision_dir(self.settings, keep).name}
        if previous is not None:
            keepers.add(revision_dir(self.settings, previous).name)
        dirs = sorted(d for d in root.iterdir() if d.is_dir() and d.name.startswith("r"))
        for d in dirs[:-KEEP_REVISION_DIRS] if len(dirs) > KEEP_REVISION_DIRS else []:
            if d.name not in keepers:
                shutil.rmtree(d, ignore_errors=True)


def open_served_engine(settings: Settings, rebuild: bool | None = None, progress: bool = False,
                       on_step: Callable[[str], None] | None = None,
                       embedder: Embedder | None = None,
                       kbs: KBSettings | None = None) -> tuple[Engine, int | None]:
    """The engine a server should serve at start-up, and the revision it is.

    Without a knowledge base yet (no edit ever made), or when the published revision is
    the shipped corpus itself, that is ``Engine.open`` on the corpus directory (its index
    is the one ``tongdian build`` made). Otherwise it is the latest published revision,
    loaded from its own index directory (built now if missing and ``rebuild`` allows).
    """
    kbs = kbs or KBSettings()
    if not kb_exists(settings, kbs):
        return Engine.open(settings, rebuild=rebuild, progress=progress, on_step=on_step,
                           embedder=embedder), None
    kb = KnowledgeBase.open(settings, kbs)
    for rid in recover(settings, kb.store):
        log.warning("the publish of revision %s was interrupted (the process stopped): "
                    "publish it again to retry", rid)
    pub = kb.store.published()
    row = kb.store.revision(pub) if pub is not None else None
    source_digest = load_corpus(Path(settings.corpus)).digest
    head = kb.store.revision(kb.store.head() or 0)
    if (row is not None and head is not None and head.id == row.id and row.action == "import"
            and row.meta.get("digest") != source_digest):
        # nobody edited through tongdian since the last import, and corpus/ changed on disk
        # (a git pull, an upgrade): that is the new knowledge, recorded as a revision
        rid = kb.import_dir(Path(settings.corpus), "system", "corpus directory changed on disk")
        kb.store.mark_published(rid, {"by": "system", "note": "re-imported at start-up"})
        return Engine.open(settings, rebuild=rebuild, progress=progress, on_step=on_step,
                           embedder=embedder), rid
    if row is not None and row.meta.get("digest") != source_digest:
        log.warning("serving revision %s of the knowledge base; %s differs from it (import it "
                    "with `tongdian revisions import` to serve it)", row.id, settings.corpus)
    if row is None or row.meta.get("digest") == source_digest:
        engine = Engine.open(settings, rebuild=rebuild, progress=progress, on_step=on_step,
                             embedder=embedder)
        return engine, pub
    emb = embedder or make_embedder(settings.embedder, settings.query_prefix,
                                    settings.passage_prefix, settings.embed_threads)
    corpus = revision_corpus(settings, kb, row.id)
    index = ensure_index(revision_store(settings, row.id, emb.spec), corpus, emb, rebuild=rebuild,
                         progress=progress, on_step=on_step)
    return Engine(corpus, emb, index, compose_segments=settings.compose_segments), row.id
