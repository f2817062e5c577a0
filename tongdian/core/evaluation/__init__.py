"""Evaluation: the metrics of ranking and of typed answers."""
