"""Ranking: the features of a (text, pain point) pair, the probes, the fitted ranker and its training."""
