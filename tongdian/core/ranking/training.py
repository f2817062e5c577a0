"""Fitting the ranker on the corpus's own statements, each scored with itself held out.

The combiner learns from honest evidence: an example's own passage (and, for the
entry-level BM25, its whole fold) is excluded when its features are computed, so the
weights are those that rank *unseen* text well. The scope model learns in-scope examples
against the out-of-scope statements; its threshold is chosen on out-of-fold predictions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from tongdian.core.knowledge.corpus import Corpus
from tongdian.core.knowledge.passages import EXAMPLE_KINDS, Passage, entry_document
from tongdian.core.ranking.features import Candidates, Evidence, Query
from tongdian.core.ranking.probe import LinearProbe, Probes, fit_probe
from tongdian.core.ranking.ranker import SCOPE_FEATURES, Ranker
from tongdian.core.reading.text import normalize
from tongdian.index.lexical import Lexical

#: Folds of the held-out entry BM25 an example is scored with; 3 and 10 each move one real
#: tune text (+0.009), within the interval (``bench.knobs --only N_FOLDS``).
N_FOLDS = 5


@dataclass
class TrainingSet:
    """Held-out candidates of each in-scope example, with its true entry, and the OOS ones."""

    in_scope: list[tuple[Candidates, int]]
    out_of_scope: list[Candidates]


#: A guard, not a tuned knob: the scope threshold never reaches "all match" or "none does".
THRESHOLD_BOUNDS = (0.05, 0.95)


def pick_threshold(p_in_scope: np.ndarray, max_false_reject: float) -> float:
    """The highest threshold that rejects at most ``max_false_reject`` of in-scope texts.

    ``p_in_scope`` are out-of-fold P(in scope) of texts known to be in scope; a text is
    rejected when its P is below the threshold. The result is clamped to THRESHOLD_BOUNDS.
    """
    p = np.sort(np.asarray(p_in_scope, dtype=np.float64))
    allowed = int(np.floor(max_false_reject * len(p)))  # how many may fall below
    threshold = float(p[min(allowed, len(p) - 1)]) - 1e-6
    lo, hi = THRESHOLD_BOUNDS
    return min(max(threshold, lo), hi)


def fit_ranker(ts: TrainingSet, max_false_reject: float = 0.02, seed: int = 0) -> Ranker:
    """Fit the combiner and the scope model; pick the threshold on out-of-fold predictions.

    The threshold is the highest that rejects at most ``max_false_reject`` of held-out
    in-scope examples, so "no good match" stays rare for real problems.
    """
    # scikit-learn is needed only to build an index; importing it here keeps ~0.8 s off
    # every server start.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    Xs, ys = [], []
    for c, true_e in ts.in_scope:
        Xs.append(c.X)
        ys.append((c.entries == true_e).astype(int))
    X = np.vstack(Xs)
    y = np.concatenate(ys)
    # Standardise: the relative dense features vary on a 0.01 scale, and without scaling
    # the L2 penalty keeps the model from weighting them as much as they deserve.
    mean = X.mean(0).astype(np.float32)
    std = (X.std(0) + 1e-6).astype(np.float32)
    lr = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced")
    lr.fit((X - mean) / std, y)
    coef = lr.coef_[0].astype(np.float32)
    intercept = float(lr.intercept_[0])
    tmp = Ranker(coef, intercept, mean, std, np.zeros(len(SCOPE_FEATURES)), 0.0,
                 np.zeros(len(SCOPE_FEATURES)), np.ones(len(SCOPE_FEATURES)), 0.5, 1.0)

    # temperature: make softmax over entries a calibrated P(entry | in scope)
    logits = [(tmp.scores(c), c.entries == t) for c, t in ts.in_scope if (c.entries == t).any()]
    best_t, best_nll = 1.0, np.inf
    for t in np.geomspace(0.05, 5.0, 40):
        nll = 0.0
        for s, m in logits:
            z = (s - s.max()) / t
            nll -= float(z[m][0] - np.log(np.exp(z).sum()))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    tmp.temperature = best_t

    F_in = np.array([tmp.scope_features(c, tmp.scores(c)) for c, _ in ts.in_scope])
    F_out = np.array([tmp.scope_features(c, tmp.scores(c)) for c in ts.out_of_scope])
    F = np.vstack([F_in, F_out])
    yy = np.r_[np.ones(len(F_in)), np.zeros(len(F_out))]
    s_mean, s_std = F.mean(0), F.std(0) + 1e-6
    Z = (F - s_mean) / s_std
    scope = LogisticRegression(C=0.5, max_iter=2000, class_weight="balanced")
    oof = cross_val_predict(
        scope, Z, yy, cv=StratifiedKFold(5, shuffle=True, random_state=seed), method="predict_proba"
    )[:, 1]
    scope.fit(Z, yy)
    threshold = pick_threshold(oof[: len(F_in)], max_false_reject)
    return Ranker(
        coef=coef,
        intercept=intercept,
        mean=mean,
        std=std,
        scope_coef=scope.coef_[0],
        scope_intercept=float(scope.intercept_[0]),
        scope_mean=s_mean,
        scope_std=s_std,
        threshold=threshold,
        temperature=best_t,
    )


@dataclass(frozen=True)
class ProbeOOF:
    """Out-of-fold probe outputs: entry probabilities of each example (in passage order),
    and P(not a pain point) of each example and each out-of-scope statement."""

    entry: np.ndarray
    none_examples: np.ndarray
    none_statements: np.ndarray


def probe_training(
    views: list[Passage], vecs: np.ndarray, oos: np.ndarray, n_entries: int
) -> tuple[Probes, ProbeOOF]:
    """Fit both probes; return them with the out-of-fold outputs the ranker trains on."""
    ex_ids = [i for i, v in enumerate(views) if v.kind in EXAMPLE_KINDS]
    X_ex = vecs[ex_ids].astype(np.float32)
    y_ex = np.array([views[i].entry for i in ex_ids], dtype=np.int64)
    entry, entry_oof = fit_probe(X_ex, y_ex, n_entries)
    if len(oos):
        X = np.vstack([X_ex, oos]).astype(np.float32)
        y = np.r_[np.zeros(len(ex_ids)), np.ones(len(oos))].astype(np.int64)
        scope, scope_oof = fit_probe(X, y, 2)
        none = scope_oof[:, 1]
    else:  # nothing to learn "not a pain point" from
        scope = LinearProbe(np.zeros((2, X_ex.shape[1]), np.float32), np.array([0, -1e4], np.float32))
        none = np.zeros(len(ex_ids))
    oof = ProbeOOF(entry_oof, none[: len(ex_ids)], none[len(ex_ids) :])
    return Probes(entry, scope), oof


def training_set(
    corpus: Corpus,
    views: list[Passage],
    vecs: np.ndarray,
    evidence: Evidence,
    progress: bool = False,
    probe_oof: ProbeOOF | None = None,
) -> TrainingSet:
    """Held-out candidates for every example, plus candidates for the out-of-scope statements.

    ``probe_oof`` are the probes' out-of-fold outputs, so that no text's probe features come
    from a model that saw it.
    """
    tok = evidence.tokenizer
    ex_ids = [i for i, v in enumerate(views) if v.kind in EXAMPLE_KINDS]
    rng = np.random.default_rng(0)
    fold_of = {i: int(f) for i, f in zip(ex_ids, rng.integers(0, N_FOLDS, len(ex_ids)), strict=True)}
    fold_lex = []
    for f in range(N_FOLDS):
        docs = []
        for e, pp in enumerate(corpus.painpoints):
            kept = [views[i].text for i in ex_ids if views[i].entry == e and fold_of[i] != f]
            docs.append(tok.tokens(entry_document(pp, with_examples=False) + "\n" + "\n".join(kept)))
        fold_lex.append(Lexical.build(docs))
    in_scope = []
    for i in tqdm(ex_ids, desc="score held-out examples", disable=not progress):
        v = views[i]
        norm = normalize(v.text)
        n = len(in_scope)
        q = Query(v.text, norm, tok.tokens(v.text), vecs[i], evidence.techs_in(norm),
                  None if probe_oof is None else probe_oof.entry[n],
                  0.0 if probe_oof is None else float(probe_oof.none_examples[n]))
        in_scope.append((evidence.candidates(q, exclude_view=i, lex_entries=fold_lex[fold_of[i]]), v.entry))
    out = []
    for j, t in enumerate(corpus.out_of_scope):
        q = evidence.prepare(t, evidence.oos_vectors[j])
        if probe_oof is not None:
            q = dataclasses.replace(q, p_none=float(probe_oof.none_statements[j]))
        out.append(evidence.candidates(q, exclude_oos=j))
    return TrainingSet(in_scope, out)

