"""BM25 over jieba tokens (bm25s), with full score vectors for per-entry aggregation."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np


class Lexical:
    """A bm25s index whose scores come back for every document, not only a top-k.

    With twenty entries and a thousand views the full vector is cheap, and the ranker
    needs it to compare an entry's lexical evidence with its dense evidence.
    """

    def __init__(self, retriever: bm25s.BM25, n_docs: int) -> None:
        self._r = retriever
        self.n_docs = n_docs

    @classmethod
    def build(cls, docs_tokens: list[list[str]]) -> Lexical:
        # bm25s rejects empty documents; a placeholder token keeps positions aligned.
        safe = [toks if toks else ["\u2205"] for toks in docs_tokens]
        r = bm25s.BM25(k1=1.2, b=0.75)
        r.index(safe, show_progress=False)
        return cls(r, len(safe))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        ids = self._r.get_tokens_ids(query_tokens)
        if not ids:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._r.get_scores_from_ids(ids), dtype=np.float32)

    def known(self, query_tokens: list[str]) -> int:
        return len(self._r.get_tokens_ids(query_tokens))

    def save(self, path: Path) -> None:
        self._r.save(str(path), show_progress=False)

    @classmethod
    def load(cls, path: Path, n_docs: int) -> Lexical:
        r = bm25s.BM25.load(str(path), load_corpus=False, show_progress=False)
        return cls(r, n_docs)
