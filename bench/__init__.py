"""Benchmarks run from a checkout (``python -m bench.quality``); not part of the package."""
