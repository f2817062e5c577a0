"""The editable knowledge base: every change a validated revision, with history and diffs.

The YAML corpus stays the canonical form: a revision *is* a corpus directory (a snapshot
of its files), revision 1 is the shipped ``corpus/`` imported as is, any revision exports
back to a directory, and importing a directory adds a revision. Nothing here builds an
index or touches the running server; ``publish.py`` does that, through the quality gate.

Every edit goes through the corpus loader on the whole resulting snapshot, so an edit is
refused with the file, field and problem before it is stored (``EditError`` → 422).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tongdian.core.config import Settings, source_checkout
from tongdian.core.stewardship import kbedit
from tongdian.core.stewardship.kbedit import EditError, Files
from tongdian.index.revstore import RevisionRow, RevisionStore, open_store

#: Default P@1 / rejection drop the gate tolerates: one borderline flip in forty queries, not two.
GATE_MARGIN = 0.03
#: A file, not a knob: the gate's own labelled queries, shipped so every install is gated.
BUILTIN_GATE_SET = Path(str(files("tongdian.data").joinpath("gate.jsonl")))
#: A limit: revisions listed per page of history.
HISTORY_PAGE = 100


class KBSettings(BaseSettings):
    """The knowledge base's own settings (``TONGDIAN_*``), apart from the search settings."""

    model_config = SettingsConfigDict(env_prefix="TONGDIAN_")

    db_url: str | None = Field(
        None, description="postgresql://user@host/db to share one knowledge base between "
        "replicas; default: SQLite, one file (kb.sqlite) under the data directory")
    admin_token: str | None = Field(
        None, description="Bearer token for writes; also the sign-in password of the forms. "
        "Without it every write is refused")
    gate_sets: Annotated[list[str], NoDecode] | None = Field(
        None, description="comma-separated eval files the quality gate runs ('file.jsonl' or "
        "'file.jsonl#tune' for one half; 'builtin' is the set shipped in the package); "
        "default: the shipped set, plus the dev sets beside a checkout")
    gate_margin: float = Field(GATE_MARGIN, ge=0.0, le=1.0,
                               description="largest P@1 or rejection drop the gate accepts")

    @field_validator("gate_sets", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [x.strip() for x in v.split(",") if x.strip()]
        return v

    def resolved_gate_sets(self) -> list[str]:
        """The configured sets, or the shipped set plus the project's dev sets when running
        from a checkout that has them (``../shared/eval``)."""
        if self.gate_sets is not None:
            return [str(BUILTIN_GATE_SET) if s == "builtin" else s for s in self.gate_sets]
        out = [str(BUILTIN_GATE_SET)]
        root = source_checkout()
        if root is None:
            return out
        ev = root.parent / "shared" / "eval"
        if (ev / "dev_queries.jsonl").is_file():
            out.append(str(ev / "dev_queries.jsonl"))
        if (ev / "real_dev.jsonl").is_file():
            out.append(f"{ev / 'real_dev.jsonl'}#tune")
        return out


def db_path(settings: Settings) -> Path:
    return Path(settings.data or settings.home / "index") / "kb.sqlite"


def open_kb_store(settings: Settings, kbs: KBSettings) -> RevisionStore:
    return open_store(kbs.db_url, db_path(settings))


def kb_exists(settings: Settings, kbs: KBSettings) -> bool:
    """Is there a knowledge base to serve from? (PostgreSQL: always asked; SQLite: the file.)"""
    return bool(kbs.db_url) or db_path(settings).is_file()


@dataclass
class FileDiff:
    path: str
    status: str  # added | removed | changed
    diff: str


@dataclass
class RevisionView:
    row: RevisionRow
    files: list[FileDiff] = field(default_factory=list)


def _normalised(path: str, body: bytes | None) -> bytes | None:
    """YAML as the editor writes it, so a diff shows what changed, not how it was quoted
    (the first edit of a hand-written file rewrites its flow lists and quotes)."""
    if body is None or not path.endswith(".yaml"):
        return body
    try:
        return kbedit.dump_yaml(kbedit.load_yaml(body))
    except ValueError:
        return body


def diff_files(old: Files, new: Files) -> list[FileDiff]:
    out = []
    for path in sorted(set(old) | set(new)):
        if old.get(path) == new.get(path):
            continue
        a, b = _normalised(path, old.get(path)), _normalised(path, new.get(path))
        status = "added" if a is None else "removed" if b is None else "changed"
        lines = difflib.unified_diff(
            (a or b"").decode("utf-8").splitlines(keepends=True),
            (b or b"").decode("utf-8").splitlines(keepends=True),
            fromfile=f"a/{path}", tofile=f"b/{path}", n=2)
        out.append(FileDiff(path, status, "".join(lines)))
    return out


class KnowledgeBase:
    """Revisions of the corpus over a ``RevisionStore``; the first use imports ``source``."""

    def __init__(self, store: RevisionStore, source: Path) -> None:
        self.store = store
        self.source = Path(source)

    @classmethod
    def open(cls, settings: Settings, kbs: KBSettings | None = None,
             source: Path | None = None) -> KnowledgeBase:
        kbs = kbs or KBSettings()
        return cls(open_kb_store(settings, kbs), Path(source or settings.corpus))

    # -- reading -------------------------------------------------------------------------------
    def ensure_initial(self) -> int:
        """The head revision, importing the source corpus as revision 1 on first use."""
        head = self.store.head()
        if head is not None:
            return head
        try:
            rid = self.import_dir(self.source, "system", f"import of {self.source.name}/",
                                  base=None)
            # the corpus the server already serves: published as it stands, no gate to pass
            self.store.mark_published(rid, {"by": "system", "note": "initial import"})
            return rid
        except Exception:
            head = self.store.head()  # another process imported it first
            if head is None:
                raise
            return head

    def head(self) -> tuple[int, Files]:
        rid = self.ensure_initial()
        return rid, self.store.files(rid)

    def files(self, rid: int) -> Files:
        if self.store.revision(rid) is None:
            raise kbedit.EntryMissing(f"no revision {rid}")
        return self.store.files(rid)

    def revision(self, rid: int) -> RevisionView:
        row = self.store.revision(rid)
        if row is None:
            raise kbedit.EntryMissing(f"no revision {rid}")
        if row.parent is None:  # the first import: its "diff" would be the whole corpus
            return RevisionView(row, [])
        return RevisionView(row, diff_files(self.store.files(row.parent), self.store.files(rid)))

    def history(self, limit: int = HISTORY_PAGE, offset: int = 0) -> list[RevisionRow]:
        self.ensure_initial()
        return self.store.revisions(limit, offset)

    def entry_history(self, kind: str, eid: str) -> list[tuple[RevisionRow, FileDiff]]:
        """The revisions that changed one entry, newest first, each with that entry's diff."""
        self.ensure_initial()
        out: list[tuple[RevisionRow, FileDiff]] = []
        rows = list(reversed(self.store.revisions(limit=1_000_000)))
        prev: dict[str, Any] | None = None
        path = kbedit.entry_path(kind, eid)
        for row in rows:
            body = self.store.file(row.id, path)
            cur = None if body is None else self._entry({path: body}, kind, eid)
            if cur != prev:
                old = kbedit.dump_yaml(prev) if prev is not None else b""
                new = kbedit.dump_yaml(cur) if cur is not None else b""
                status = "added" if prev is None else "removed" if cur is None else "changed"
                d = diff_files({path: old} if old else {}, {path: new} if new else {})
                out.append((row, d[0] if d else FileDiff(path, status, "")))
            prev = cur
        return list(reversed(out))

    @staticmethod
    def _entry(files: Files, kind: str, eid: str) -> dict[str, Any] | None:
        if kind == "painpoints":
            body = files.get(kbedit.painpoint_path(eid))
            return None if body is None else kbedit.load_yaml(body)  # type: ignore[no-any-return]
        if kbedit.LISTS[kind][0] not in files:
            return None
        return next((e for e in kbedit.list_entries(files, kind) if e.get("id") == eid), None)

    # -- writing -------------------------------------------------------------------------------
    def commit(self, base: int | None, files: Files, author: str, message: str, action: str,
               meta: dict[str, Any] | None = None) -> int:
        """Validate the whole snapshot with the corpus loader, then store it as a revision."""
        corpus = kbedit.validate(files)
        if base is not None and files == self.store.files(base):
            raise EditError([("body", "nothing changed: the entry already reads like this")],
                            status=409)
        rid = self.store.add_revision(base, files, author, message or action, action,
                                      {**(meta or {}), "digest": corpus.digest,
                                       "painpoints": [p.id for p in corpus.painpoints]})
        self.store.audit(author, action, f"revision/{rid}", {"message": message, **(meta or {})})
        return rid

    def import_dir(self, src: Path, author: str, message: str, base: int | str | None = "head") -> int:
        files = kbedit.read_dir(Path(src))
        if not files:
            raise EditError([("directory", f"{src} holds no corpus files")])
        b = self.store.head() if base == "head" else base
        return self.commit(b, files, author, message, "import",  # type: ignore[arg-type]
                           {"source": str(Path(src).resolve())})

    def export(self, rid: int, dst: Path) -> Path:
        """Write revision ``rid`` as a corpus directory (``dst`` must not exist yet)."""
        dst = Path(dst)
        if dst.exists() and any(dst.iterdir()):
            raise EditError([("directory", f"{dst} exists and is not empty")], status=409)
        if dst.exists():
            dst.rmdir()
        return kbedit.write_dir(self.files(rid), dst)

    def put_painpoint(self, pid: str, body: dict[str, Any], author: str, message: str = "") -> int:
        head, files = self.head()
        new = kbedit.put_painpoint(files, pid, body)
        return self.commit(head, new, author, message or f"edit {pid}", "edit",
                           {"entry": f"painpoints/{pid}"})

    def add_painpoint(self, body: dict[str, Any], author: str, message: str = "") -> tuple[int, str]:
        head, files = self.head()
        pid = kbedit.next_painpoint_id(files, self.store.paths_ever())
        if isinstance(body, dict) and body.get("id") not in (None, pid):
            raise EditError([("id", f"new pain points are numbered by the server: this one "
                                    f"will be {pid}; leave id out")])
        new = kbedit.put_painpoint(files, pid, {k: v for k, v in body.items() if k != "number"}
                                   if isinstance(body, dict) else body, create=True)
        rid = self.commit(head, new, author, message or f"add {pid}", "add",
                          {"entry": f"painpoints/{pid}"})
        return rid, pid

    def retire(self, kind: str, eid: str, author: str, message: str = "") -> int:
        head, files = self.head()
        new = (kbedit.retire_painpoint(files, eid) if kind == "painpoints"
               else kbedit.retire_list_entry(files, kind, eid))
        return self.commit(head, new, author, message or f"retire {eid}", "retire",
                           {"entry": f"{kind}/{eid}"})

    def put_entry(self, kind: str, eid: str, body: dict[str, Any], author: str,
                  message: str = "", create: bool = False) -> int:
        head, files = self.head()
        new = kbedit.put_list_entry(files, kind, eid, body, create=create)
        return self.commit(head, new, author, message or f"{'add' if create else 'edit'} {eid}",
                           "add" if create else "edit", {"entry": f"{kind}/{eid}"})

    def restore(self, rid: int, author: str, message: str = "") -> int:
        """A new revision whose content is revision ``rid``'s (history is never rewritten)."""
        files = self.files(rid)
        head, _ = self.head()
        return self.commit(head, files, author, message or f"restore revision {rid}", "restore",
                           {"restored": rid})

    def restore_entry(self, kind: str, eid: str, rid: int, author: str, message: str = "") -> int:
        """Bring one entry back as it was in revision ``rid`` (also un-retires it)."""
        old = self._entry(self.files(rid), kind, eid)
        if old is None:
            raise kbedit.EntryMissing(f"{eid} is not in revision {rid}")
        head, files = self.head()
        if kind == "painpoints":
            new = dict(files)
            new[kbedit.painpoint_path(eid)] = kbedit.dump_yaml(old)
        else:
            exists = self._entry(files, kind, eid) is not None
            new = kbedit.put_list_entry(files, kind, eid, old, create=not exists)
        return self.commit(head, new, author, message or f"restore {eid} from revision {rid}",
                           "restore", {"entry": f"{kind}/{eid}", "restored": rid})

    def add_statement(self, target: str, text: str, author: str, message: str,
                      meta: dict[str, Any] | None = None) -> int:
        head, files = self.head()
        new = kbedit.add_statement(files, target, text)
        return self.commit(head, new, author, message, "feedback", meta)
