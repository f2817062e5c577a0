"""A vector cache in front of the embedder: vectors keyed by (text, model digest).

Embedding the corpus is most of an index build (about three minutes of the default
model's CPU time on two cores); everything else, the lexical indexes and the ranker's fit,
takes seconds. So the package ships the vectors of its own corpus (``tongdian/data``),
and a build looks every text up there first and embeds only what is missing: a fresh
install answers in seconds, an edited corpus embeds only its new text, and the ranker is
still fitted at build time from whatever the vectors are (so a change of ranker needs no
new artifact, only ``make vectors`` when the corpus or the model changes).

A vector is only reused under the model that made it: the cache file names its model
digest (``model_digest``), and a file made by another model is ignored whole. Query-side
and passage-side texts are separate keys (e5 encodes them with different prefixes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

#: Bump when the file layout changes; a file of another format is ignored.
CACHE_FORMAT = 1

Key = tuple[bool, str]  # (query side?, text)


class _Model(Protocol):
    spec: str
    dim: int
    version: str

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...
    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def model_digest(embedder: _Model) -> str:
    """What decides whether a stored vector is still the vector of its text: the model's
    spec, its version (for a model file of one's own, its SHA-256) and the dimension."""
    raw = f"{embedder.spec}\0{embedder.version}\0{embedder.dim}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass
class VectorCache:
    """Known vectors of one model, as loaded from (and saved to) one ``.npz`` file."""

    model: str
    dim: int
    vectors: dict[Key, np.ndarray] = field(default_factory=dict)
    #: free-form facts about how the file was made (corpus digest, counts), for humans
    meta: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, model: str, dim: int) -> VectorCache:
        """The vectors stored for ``model``; an empty cache if the file is absent, damaged,
        of another format or of another model (never an error: the cache only saves time)."""
        empty = cls(model, dim)
        try:
            with np.load(path, allow_pickle=False) as z:
                head = json.loads(bytes(z["head"]).decode("utf-8"))
                if head.get("format") != CACHE_FORMAT or head.get("model") != model:
                    log.info("vector cache %s is for another model or format: not used", path)
                    return empty
                vecs = np.asarray(z["vectors"], dtype=np.float32)
                texts = json.loads(bytes(z["texts"]).decode("utf-8"))
                query = np.asarray(z["query"], dtype=bool)
        except FileNotFoundError:
            return empty
        except (OSError, ValueError, KeyError) as e:
            log.warning("vector cache %s is unreadable (%s): not used", path, e)
            return empty
        if vecs.ndim != 2 or vecs.shape != (len(texts), dim) or len(query) != len(texts):
            log.warning("vector cache %s is inconsistent: not used", path)
            return empty
        out = cls(model, dim, meta={k: str(v) for k, v in head.get("meta", {}).items()})
        out.vectors = {(bool(q), t): vecs[i] for i, (q, t) in enumerate(zip(query, texts, strict=True))}
        return out

    def save(self, path: Path, keep: Iterable[Key] | None = None) -> int:
        """Write the cache (only the ``keep`` keys if given) atomically; returns the count."""
        keys = sorted(self.vectors if keep is None else (k for k in keep if k in self.vectors))
        head = {"format": CACHE_FORMAT, "model": self.model, "dim": self.dim, "meta": self.meta}
        vecs = (np.stack([self.vectors[k] for k in keys]).astype(np.float32) if keys
                else np.zeros((0, self.dim), np.float32))
        as_bytes = lambda o: np.frombuffer(json.dumps(o, ensure_ascii=False).encode(), np.uint8)  # noqa: E731
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
        try:
            os.chmod(tmp, 0o644)  # package data: readable by whoever runs the install
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(f, head=as_bytes(head), texts=as_bytes([t for _, t in keys]),
                                    query=np.array([q for q, _ in keys], dtype=bool), vectors=vecs)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(keys)


class CachedEmbedder:
    """The embedder behind a vector cache: known texts are looked up, the rest embedded
    (and remembered, so a later call in the same build does not embed them again).

    It keeps the inner embedder's ``spec``, ``version`` and ``dim``: an index built through
    the cache is the same index, recorded under the same model.
    """

    def __init__(self, inner: _Model, cache: VectorCache) -> None:
        if cache.model != model_digest(inner):
            raise ValueError("a vector cache serves only the model that made it")
        self.inner = inner
        self.cache = cache
        self.spec, self.dim, self.version = inner.spec, inner.dim, inner.version
        self.hits = 0
        self.embedded = 0

    def _embed(self, texts: list[str], query: bool) -> np.ndarray:
        known = self.cache.vectors
        missing = [t for t in dict.fromkeys(texts) if (query, t) not in known]
        if missing:
            fn = self.inner.embed_queries if query else self.inner.embed_passages
            for t, v in zip(missing, fn(missing), strict=True):
                known[(query, t)] = np.asarray(v, dtype=np.float32)
        self.embedded += len(missing)
        self.hits += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([known[(query, t)] for t in texts])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, True)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, False)
