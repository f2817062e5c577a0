"""The shipped fit: the probes and the ranker fitted on the shipped corpus, loaded instead of
fitted when a build's inputs are the shipped ones.

Fitting them is most of a build once the vectors come from the vector cache (~15 s of CPU of
a ~20 s build on two cores): a fresh install would wait for it before its first answer. They
are a function of the corpus text, the model's vectors of it (``model_digest``), the index
format and the fitting library, so that is the key; a bank's own corpus or model fits as
before. ``make vectors`` regenerates this file with the vectors (``tongdian.core.search.vectors``).
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path

import numpy as np

from tongdian.core.knowledge.corpus import Corpus
from tongdian.core.ranking.probe import LinearProbe, Probes
from tongdian.core.ranking.ranker import Ranker
from tongdian.index.store import FORMAT_VERSION

#: A file name, not a knob: the shipped fit inside the package.
SHIPPED_NAME = "fitted.npz"
#: The variable naming another fit file, or ``off`` to fit every build (``make vectors``, benches).
ENV = "TONGDIAN_FIT_CACHE"


def shipped_path() -> Path:
    return Path(str(files("tongdian.data").joinpath(SHIPPED_NAME)))


def fit_key(corpus: Corpus, model: str) -> str:
    """What the fit depends on: the corpus, the model's vectors of it, the index format and
    scikit-learn (whose solvers decide the weights)."""
    try:
        sk = version("scikit-learn")
    except PackageNotFoundError:
        sk = "absent"
    raw = f"{FORMAT_VERSION}\0{corpus.digest}\0{model}\0{sk}".encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def load_fitted(key: str, path: Path | None = None) -> tuple[Probes, Ranker] | None:
    """The shipped probes and ranker when they were fitted for ``key``; None otherwise (a
    missing, stale or unreadable file means: fit)."""
    if os.environ.get(ENV, "").strip().lower() in ("off", "0", "none"):
        return None
    p = path or shipped_path()
    try:
        with np.load(p, allow_pickle=False) as d:
            if str(d["key"]) != key:
                return None
            probes = Probes(LinearProbe.from_arrays(d, "entry"), LinearProbe.from_arrays(d, "scope"))
            ranker = Ranker.from_json(json.loads(str(d["ranker"])))
    except (OSError, KeyError, ValueError):
        return None
    return probes, ranker


def save_fitted(path: Path, key: str, probes: Probes, ranker: Ranker) -> None:
    """Write atomically: a crash mid-write leaves the previous file."""
    tmp = path.with_suffix(".tmp.npz")
    with tmp.open("wb") as f:
        np.savez_compressed(f, key=np.array(key), ranker=np.array(json.dumps(ranker.to_json())),
                            **probes.entry.arrays("entry"), **probes.scope.arrays("scope"))
    os.replace(tmp, path)
