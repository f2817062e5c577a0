"""Vector store on faiss: exact inner product for small corpora, HNSW above a size."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

#: Above this many vectors the store switches from exact search to HNSW.
EXACT_LIMIT = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 512


class Dense:
    """Normalised vectors in faiss; ``search`` returns (scores, ids) best first."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index
        self.n = index.ntotal

    @property
    def exact(self) -> bool:
        return isinstance(self._index, faiss.IndexFlat)

    @classmethod
    def build(cls, vectors: np.ndarray, exact_limit: int = EXACT_LIMIT) -> Dense:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        if len(vectors) <= exact_limit:
            index: faiss.Index = faiss.IndexFlatIP(dim)
        else:
            # Knowledge bases cluster tightly (many statements of one problem): a graph
            # built with efConstruction 80 left recall@10 at 0.96 whatever efSearch was;
            # 200/512 reach 0.997 against exact search (bench/perf.py, scale section).
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        index.add(vectors)
        return cls(index)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(queries.reshape(-1, self._index.d), dtype=np.float32)
        return self._index.search(q, min(k, self.n))

    def vectors(self) -> np.ndarray:
        """All stored vectors (faiss keeps them; exact and HNSW indexes both reconstruct)."""
        return self._index.reconstruct_n(0, self.n)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> Dense:
        """Memory-mapped and read-only: worker processes serving one index share its pages
        through the page cache instead of each holding a private copy."""
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:  # an index type faiss cannot map: read it into memory
            index = faiss.read_index(str(path))
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index)
