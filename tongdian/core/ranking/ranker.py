"""The learned combiner: a linear score per candidate entry, and P(the text is in scope).

A logistic regression over ``FEATURES`` scores the candidates; a second one, over
``SCOPE_FEATURES`` of the best candidate, says whether the text is one of the pain points
at all. Both are fitted by ``training.py``; this module only applies them, so a server
never imports scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tongdian.core.ranking.features import FEATURES, Candidates

#: Not a knob: the features of the scope model (P(in scope)), by name, in the fitted order.
SCOPE_FEATURES = (
    "ex_max",
    "doc_max",
    "bm25_entry_log",
    "top_score",
    "margin",
    "oos_margin",
    "probe_none",
)


@dataclass
class Ranker:
    """Linear scores over FEATURES, and an in-scope probability over SCOPE_FEATURES."""

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    std: np.ndarray
    scope_coef: np.ndarray
    scope_intercept: float
    scope_mean: np.ndarray
    scope_std: np.ndarray
    threshold: float
    temperature: float

    def scores(self, c: Candidates) -> np.ndarray:
        return ((c.X - self.mean) / self.std) @ self.coef + self.intercept

    def scope_features(self, c: Candidates, s: np.ndarray) -> np.ndarray:
        top = int(np.argmax(s))
        srt = np.sort(s)[::-1]
        margin = float(srt[0] - srt[1]) if len(srt) > 1 else float(srt[0])
        return np.array(
            [
                c.ex_max[top],
                c.doc_max[top],
                np.log1p(max(float(c.bm25_entry.max()), 0.0)),
                float(srt[0]),
                margin,
                float(c.ex_max.max()) - c.oos_max,
                c.p_none,
            ],
            dtype=np.float64,
        )

    def in_scope(self, c: Candidates, s: np.ndarray) -> float:
        z = (self.scope_features(c, s) - self.scope_mean) / self.scope_std
        return float(1.0 / (1.0 + np.exp(-(z @ self.scope_coef + self.scope_intercept))))

    def distribution(self, s: np.ndarray) -> np.ndarray:
        z = (s - s.max()) / self.temperature
        p = np.exp(z)
        return p / p.sum()

    def to_json(self) -> dict:
        return {
            "features": list(FEATURES),
            "scope_features": list(SCOPE_FEATURES),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "scope_coef": self.scope_coef.tolist(),
            "scope_intercept": self.scope_intercept,
            "scope_mean": self.scope_mean.tolist(),
            "scope_std": self.scope_std.tolist(),
            "threshold": self.threshold,
            "temperature": self.temperature,
        }

    @classmethod
    def from_json(cls, d: dict) -> Ranker:
        if tuple(d["features"]) != FEATURES or tuple(d["scope_features"]) != SCOPE_FEATURES:
            raise ValueError("ranker was trained on a different feature set")
        return cls(
            coef=np.asarray(d["coef"], dtype=np.float32),
            intercept=float(d["intercept"]),
            mean=np.asarray(d["mean"], dtype=np.float32),
            std=np.asarray(d["std"], dtype=np.float32),
            scope_coef=np.asarray(d["scope_coef"]),
            scope_intercept=float(d["scope_intercept"]),
            scope_mean=np.asarray(d["scope_mean"]),
            scope_std=np.asarray(d["scope_std"]),
            threshold=float(d["threshold"]),
            temperature=float(d["temperature"]),
        )


