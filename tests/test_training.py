"""Training the ranker: held-out exclusion really excludes, the threshold rule does what it says."""

from __future__ import annotations

import numpy as np
import pytest

from tongdian.core.knowledge.passages import EXAMPLE_KINDS
from tongdian.core.ranking.training import THRESHOLD_BOUNDS, pick_threshold, training_set
from tongdian.core.search.engine import Engine


@pytest.mark.parametrize(("p", "f", "rejected"), [
    (np.linspace(0.1, 0.9, 10), 0.10, 1),   # one of ten may fall below
    (np.linspace(0.1, 0.9, 10), 0.0, 0),    # none may: the threshold sits at the lowest
    (np.linspace(0.1, 0.9, 100), 0.02, 2),
])  # fmt: skip
def test_threshold_rejects_at_most_the_allowed_share(p: np.ndarray, f: float, rejected: int) -> None:
    t = pick_threshold(p, f)
    assert int((p < t).sum()) == rejected
    # and it is the highest such threshold: the next value up would reject one more
    assert int((p < sorted(p)[rejected] + 1e-3).sum()) == rejected + 1


def test_threshold_is_clamped() -> None:
    assert pick_threshold(np.array([0.999, 0.9999]), 0.0) == THRESHOLD_BOUNDS[1]
    assert pick_threshold(np.array([0.0001, 0.001]), 0.0) == THRESHOLD_BOUNDS[0]


def test_held_out_example_never_finds_itself(tiny_engine: Engine) -> None:
    ev = tiny_engine.evidence
    i = next(j for j, v in enumerate(ev.views) if v.kind in EXAMPLE_KINDS)
    q = ev.prepare(ev.views[i].text, ev.dense.vectors()[i])
    own = ev.views[i].entry
    seen = ev.candidates(q)
    held = ev.candidates(q, exclude_view=i)
    pos_seen = int(np.flatnonzero(seen.entries == own)[0])
    assert seen.best_view[pos_seen] == i and seen.ex_max[pos_seen] > 0.999
    pos = np.flatnonzero(held.entries == own)
    assert not len(pos) or (held.best_view[pos[0]] != i and held.ex_max[pos[0]] < 0.999)


def test_training_set_scores_every_example_held_out(tiny_engine: Engine) -> None:
    ev = tiny_engine.evidence
    vecs = ev.dense.vectors()
    ts = training_set(tiny_engine.corpus, ev.views, vecs, ev)
    ex_ids = [j for j, v in enumerate(ev.views) if v.kind in EXAMPLE_KINDS]
    assert len(ts.in_scope) == len(ex_ids)
    assert len(ts.out_of_scope) == len(tiny_engine.corpus.out_of_scope)
    for view_id, (cand, true_e) in zip(ex_ids, ts.in_scope, strict=True):
        assert true_e == ev.views[view_id].entry
        assert view_id not in set(cand.best_view.tolist())
        # the text's own vector would give a similarity of 1.0 to itself
        assert float(cand.ex_max.max()) < 0.999


def test_scope_model_separates_what_it_was_trained_on(tiny_engine: Engine) -> None:
    r = tiny_engine.ranker
    lo, hi = THRESHOLD_BOUNDS
    assert lo <= r.threshold <= hi
    inside = [tiny_engine.search(pp.examples[0]).in_scope for pp in tiny_engine.corpus.painpoints]
    assert min(inside) >= r.threshold
