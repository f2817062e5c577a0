"""Benchmarks run from a checkout (``python bench/quality.py``); not part of the package."""
