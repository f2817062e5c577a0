"""Linear probes on the embedding: P(pain point | text), and P(not a pain point | text).

Nearest-neighbour evidence asks "which statement does this text resemble?", so it follows
the voice of our own statements. A regularised logistic regression over the vectors asks
"which direction of the space is this text in?": it learns from every statement of an
entry at once, colloquial and written alike, which makes it steadier on text in a voice we
did not write in. Two probes, kept apart on purpose: the *entry* probe (one class per pain
point) feeds the ranking; the *scope* probe (pain point or not, with the bank-related
calibration text as negatives) feeds only the "no good match" decision. One probe with a
"none" class let bank news pull probability away from the entries and cost held-out P@1
(0.65 → 0.575, bench/ablate.py). Fitted at build time (scikit-learn), applied with one
matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: The probe's inverse regularisation, small so 1,500 statements cannot memorise wording.
#: Refitted: 0.5 costs dev P@1 -0.018; 8 costs real tune -0.009 and ask_dev -0.012
#: (``python -m bench.knobs --only PROBE_C``).
PROBE_C = 2.0
#: Folds of the out-of-fold probe probabilities the ranker trains on; 3 and 10 each cost one
#: real tune text (``bench.knobs --only PROBE_FOLDS``).
PROBE_FOLDS = 5


@dataclass(frozen=True)
class LinearProbe:
    """Weights over classes 0 … n-1 (entries, or pain point / not)."""

    coef: np.ndarray  # (n_classes, dim)
    intercept: np.ndarray  # (n_classes,)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(vectors) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_coef": self.coef, f"{prefix}_intercept": self.intercept}

    @classmethod
    def from_arrays(cls, d: Any, prefix: str) -> LinearProbe:
        return cls(np.asarray(d[f"{prefix}_coef"], dtype=np.float32),
                   np.asarray(d[f"{prefix}_intercept"], dtype=np.float32))


@dataclass(frozen=True)
class Probes:
    """The entry probe (for ranking) and the scope probe (for "no good match")."""

    entry: LinearProbe
    scope: LinearProbe  # class 1 is "not a pain point"

    def save(self, path: Path) -> None:
        with path.open("wb") as f:
            np.savez(f, **self.entry.arrays("entry"), **self.scope.arrays("scope"))

    @classmethod
    def load(cls, path: Path) -> Probes:
        with np.load(path, allow_pickle=False) as d:
            return cls(LinearProbe.from_arrays(d, "entry"), LinearProbe.from_arrays(d, "scope"))


def fit_probe(
    vectors: np.ndarray, labels: np.ndarray, n_classes: int, seed: int = 0
) -> tuple[LinearProbe, np.ndarray]:
    """Fit on all statements; also return each statement's out-of-fold probabilities.

    ``labels`` are class numbers below ``n_classes``. The out-of-fold probabilities are what
    the ranker learns from: a statement never votes for itself, exactly as it never finds
    itself among the nearest neighbours.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    lr = LogisticRegression(C=PROBE_C, max_iter=2000)
    oof = np.zeros((len(labels), n_classes), dtype=np.float32)
    folds = StratifiedKFold(PROBE_FOLDS, shuffle=True, random_state=seed)
    for train, test in folds.split(vectors, labels):
        m = LogisticRegression(C=PROBE_C, max_iter=2000).fit(vectors[train], labels[train])
        oof[np.ix_(test, m.classes_)] = m.predict_proba(vectors[test])
    lr.fit(vectors, labels)
    coef = np.zeros((n_classes, vectors.shape[1]), dtype=np.float32)
    intercept = np.full(n_classes, -1e4, dtype=np.float32)  # a class with no data: never
    if len(lr.classes_) == 2 and lr.coef_.shape[0] == 1:  # binary: one row for class 1
        coef[lr.classes_[1]], intercept[lr.classes_[1]] = lr.coef_[0], lr.intercept_[0]
        coef[lr.classes_[0]], intercept[lr.classes_[0]] = 0.0, 0.0
    else:
        coef[lr.classes_] = lr.coef_
        intercept[lr.classes_] = lr.intercept_
    return LinearProbe(coef, intercept), oof
