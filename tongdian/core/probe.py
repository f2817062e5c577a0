"""A linear probe on the embedding: P(pain point | text), with "not a pain point" as a class.

Nearest-neighbour evidence asks "which statement does this text resemble?", so it follows
the voice of our own statements. A regularised multinomial logistic regression over the
vectors asks "which direction of the space is this text in?": it learns from every
statement of an entry at once, colloquial and written alike, and from the bank-related
text that is not a pain point, which makes it steadier on text in a voice we did not
write in. It is fitted at build time (scikit-learn) and applied with one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Inverse regularisation: small enough that 1,500 statements cannot memorise their wording.
PROBE_C = 2.0
#: Folds for the out-of-fold probabilities the ranker is trained on.
PROBE_FOLDS = 5


@dataclass(frozen=True)
class LinearProbe:
    """Weights over ``n_entries + 1`` classes; the last class is "not a pain point"."""

    coef: np.ndarray  # (n_classes, dim)
    intercept: np.ndarray  # (n_classes,)

    @property
    def n_entries(self) -> int:
        return len(self.intercept) - 1

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(vectors) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        with path.open("wb") as f:
            np.savez(f, coef=self.coef, intercept=self.intercept)

    @classmethod
    def load(cls, path: Path) -> LinearProbe:
        with np.load(path, allow_pickle=False) as d:
            return cls(np.asarray(d["coef"], dtype=np.float32),
                       np.asarray(d["intercept"], dtype=np.float32))


def fit_probe(
    vectors: np.ndarray, labels: np.ndarray, n_entries: int, seed: int = 0
) -> tuple[LinearProbe, np.ndarray]:
    """Fit on all statements; also return each statement's out-of-fold probabilities.

    ``labels`` are entry positions, with ``n_entries`` for "not a pain point". The
    out-of-fold probabilities are what the ranker learns from: a statement never votes for
    itself, exactly as it never finds itself among the nearest neighbours.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    lr = LogisticRegression(C=PROBE_C, max_iter=2000)
    oof = np.zeros((len(labels), n_entries + 1), dtype=np.float32)
    folds = StratifiedKFold(PROBE_FOLDS, shuffle=True, random_state=seed)
    for train, test in folds.split(vectors, labels):
        m = LogisticRegression(C=PROBE_C, max_iter=2000).fit(vectors[train], labels[train])
        oof[np.ix_(test, m.classes_)] = m.predict_proba(vectors[test])
    lr.fit(vectors, labels)
    coef = np.zeros((n_entries + 1, vectors.shape[1]), dtype=np.float32)
    intercept = np.full(n_entries + 1, -1e4, dtype=np.float32)  # a class with no data: never
    coef[lr.classes_] = lr.coef_
    intercept[lr.classes_] = lr.intercept_
    return LinearProbe(coef, intercept), oof
