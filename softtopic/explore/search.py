"""Search a corpus by topic distribution: the k training documents nearest to a query.

The paper's retrieval metric (softtopic.evaluation.retrieval) ranks documents by KL(q || d) or
the Hellinger distance between theta rows; this module is the same computation as a tool. It is
exact (no index, no approximation), runs in blocks of queries so memory is block x N, and ranks
exactly as the metric does: distances rounded to 9 decimals, ties ordered by position, the
query document itself excluded.

Speed without losing exactness: both distances rank by one inner product per document (KL by
q . log d, Hellinger by sqrt q . sqrt d), so a float32 matrix product screens all N documents
and the float64 distances are computed only for the candidates whose float32 score is within a
proven error bound of the k-th best. The bound is that of a K-term float32 dot product,
2 (K + 2) 2^-24 max|term sum|, plus the 9-decimal rounding of ties; every document that could
rank in the top k under float64 is therefore a candidate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..evaluation.retrieval import DISTANCES, _Distances, _prepare_theta, default_block_size, \
    nearest


@dataclass
class SearchResult:
    """indices[i, j] is the j-th nearest document to query i; distances alike."""
    indices: np.ndarray
    distances: np.ndarray


class TopicSearch:
    """Exact nearest neighbours of topic distributions.

    >>> index = TopicSearch(model.theta_, metric="hellinger")
    >>> index.query(model.transform(["a query"]), k=10).indices
    """

    def __init__(self, theta, metric: str = "kl", block_size: int | None = None):
        if metric not in DISTANCES:
            raise ValueError(f"metric must be one of {DISTANCES}, got {metric!r}")
        self.metric = metric
        self._distances = _Distances(_prepare_theta(theta), metric)
        self.n_documents, self.n_topics = self._distances.theta.shape
        self.block_size = block_size or default_block_size(self.n_documents)
        right = self._distances.right                 # K x N: log(theta + eps) or sqrt(theta)
        self._screen = np.ascontiguousarray(right, dtype=np.float32)
        # |sum_k a_k b_k| <= max|b| for a query row a summing to <= 1 (sqrt rows: <= 1 too)
        magnitude = float(np.abs(right).max()) if right.size else 0.0
        self._tolerance = 2 * (self.n_topics + 2) * 2.0 ** -24 * max(magnitude, 1.0) + 1e-8

    def query(self, queries, k: int = 10, exclude=None) -> SearchResult:
        """The k nearest documents to each query row (topic proportions, M x K).
        exclude: per query, a document index never to return (its own row), or -1."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        queries = _prepare_theta(np.atleast_2d(queries))
        if queries.shape[1] != self.n_topics:
            raise ValueError(f"queries have {queries.shape[1]} topics, the index has "
                             f"{self.n_topics}")
        m = len(queries)
        exclude = (np.full(m, -1) if exclude is None
                   else np.broadcast_to(np.asarray(exclude, dtype=np.int64), (m,)))
        k = min(int(k), self.n_documents - int((exclude >= 0).any()))
        indices = np.empty((m, max(k, 0)), dtype=np.int64)
        distances = np.empty((m, max(k, 0)))
        if k < 1:
            return SearchResult(indices, distances)
        for lo in range(0, m, self.block_size):
            hi = min(lo + self.block_size, m)
            candidates = self._screened(queries[lo:hi], k, exclude[lo:hi])
            for i, cols in enumerate(candidates, lo):
                d = self._distances.between(queries[i:i + 1], columns=cols)
                top = nearest(d.copy(), k)[0]      # the excluded row is never a candidate
                indices[i], distances[i] = cols[top], d[0, top]
        return SearchResult(indices, distances)

    def _screened(self, queries: np.ndarray, k: int, exclude: np.ndarray) -> list[np.ndarray]:
        """Per query, the sorted documents whose float32 score (minus the inner product) is
        within the error bound of the k-th best: a superset of the exact top k."""
        left = queries if self.metric == "kl" else np.sqrt(queries)
        score = left.astype(np.float32) @ self._screen
        np.negative(score, out=score)
        rows = np.flatnonzero(exclude >= 0)
        score[rows, exclude[rows]] = np.inf
        kth = np.partition(score, k - 1, axis=1)[:, k - 1]
        return [np.flatnonzero(row <= bound) for row, bound in
                zip(score, kth.astype(np.float64) + self._tolerance)]

    def query_documents(self, rows, k: int = 10) -> SearchResult:
        """The k nearest documents to training documents `rows`, each excluding itself."""
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if ((rows < 0) | (rows >= self.n_documents)).any():
            raise IndexError(f"document rows must be in [0, {self.n_documents})")
        return self.query(self._distances.theta[rows], k, exclude=rows)
