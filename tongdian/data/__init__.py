"""Data files shipped inside the package: the quality gate's own query set (``gate.jsonl``)
and the vector cache of the shipped corpus (``vectors.npz``, see ``tongdian.core.search.vectors``)."""
