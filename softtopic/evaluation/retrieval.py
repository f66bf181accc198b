"""Document retrieval with topic proportions: Precision@k (the paper's metric).

Every document is a query; all other documents are ranked by a distance between theta rows,
smallest first; P@k = share of the top k with the query's label; the score is the mean over
queries. Exactly as the paper's code except where that code is not deterministic:
- rows are renormalised to sum to 1, and eps = 1e-12 is added inside the logarithms only:
  KL(q || d) = sum_k q_k (log(q_k + eps) - log(d_k + eps)), so zeros in theta are finite;
- Hellinger(q, d) = sqrt(max(0, 1 - sum_k sqrt(q_k d_k)));
- computed in float64 in blocks of queries, KL(q || .) = sum q log q - q . log(D)^T being one
  matrix product, so memory is block x N whatever N is;
- distances are rounded to 9 decimals, and equal distances are ordered by document position
  (identical theta rows, e.g. empty documents or one-hot models, are exact ties that the
  paper's float32 + unstable sort ordered arbitrarily);
- the query itself is excluded; a k larger than N - 1 is skipped.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

EPSILON = 1e-12
DECIMALS = 9
DISTANCES = ("kl", "hellinger")


def _prepare_theta(theta) -> np.ndarray:
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 2 or theta.shape[0] == 0:
        raise ValueError(f"theta must be a non-empty 2-d array (documents x topics), got shape "
                         f"{theta.shape}")
    if not np.isfinite(theta).all():
        raise ValueError("theta contains NaN or infinite values")
    if (theta < 0).any():
        raise ValueError("theta has negative entries; it must hold topic proportions")
    sums = theta.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise ValueError(f"theta row {int(np.flatnonzero(sums[:, 0] <= 0)[0])} sums to 0")
    return theta / sums


class _Distances:
    """Distances from blocks of query rows to all rows, with the per-corpus parts precomputed."""

    def __init__(self, theta: np.ndarray, distance: str, epsilon: float = EPSILON):
        if distance not in DISTANCES:
            raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
        self.theta, self.distance, self.epsilon = theta, distance, epsilon
        if distance == "kl":
            log_theta = np.log(theta + epsilon)
            self.right = log_theta.T                                  # K x N
            self.self_term = (theta * log_theta).sum(axis=1)          # sum_k q_k log(q_k + eps)
        else:
            self.right = np.sqrt(theta).T

    def block(self, lo: int, hi: int) -> np.ndarray:
        """(hi - lo) x N distances from the corpus's own rows lo..hi."""
        if self.distance == "kl":
            return self.between(self.theta[lo:hi], self.self_term[lo:hi])
        return self.between(self.theta[lo:hi])

    def between(self, queries: np.ndarray, query_self_term: np.ndarray | None = None,
                columns: np.ndarray | None = None) -> np.ndarray:
        """M x N distances from M query rows (normalised topic proportions) to all rows (or to
        the rows `columns`), computed in place in one array."""
        right = self.right if columns is None else self.right[:, columns]
        if self.distance == "kl":
            if query_self_term is None:
                query_self_term = (queries * np.log(queries + self.epsilon)).sum(axis=1)
            d = queries @ right
            np.subtract(query_self_term[:, None], d, out=d)
        else:
            d = np.sqrt(queries) @ right                               # Bhattacharyya coeff.
            np.subtract(1.0, d, out=d)
            np.maximum(d, 0.0, out=d)
            np.sqrt(d, out=d)
        return d


def default_block_size(n_documents: int) -> int:
    """Queries per block: about 32 MB per (block x N) float64 array."""
    return max(1, min(n_documents, 4_000_000 // n_documents))


def nearest(d: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """The k columns of each row of `d` with the smallest distance, nearest first.

    Distances are rounded to DECIMALS and equal ones ordered by column, through one integer
    key per entry, so partial sorting gives the order of a stable sort of rounded distances.
    `exclude[i]` (a column, or -1 for none) is never returned for row i. `d` is overwritten.
    """
    n = d.shape[1]
    np.multiply(d, 10.0 ** DECIMALS, out=d)
    np.rint(d, out=d)
    key = d.astype(np.int64)
    key *= n
    key += np.arange(n)
    if exclude is not None:
        rows = np.flatnonzero(exclude >= 0)
        key[rows, exclude[rows]] = np.iinfo(np.int64).max
    top = np.argpartition(key, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n),
                                                                            (len(key), 1))
    order = np.argsort(np.take_along_axis(key, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def retrieval_precision(theta, labels: Sequence, ks: Sequence[int] = (1, 5, 10),
                        distance: str = "kl", block_size: int | None = None,
                        epsilon: float = EPSILON) -> dict[int, float]:
    """Mean Precision@k over all documents as queries, for each k in `ks` (k <= N - 1)."""
    theta = _prepare_theta(theta)
    N = theta.shape[0]
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != N:
        raise ValueError(f"got {labels.shape[0] if labels.ndim else 'scalar'} labels for {N} "
                         "documents")
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    bad = [k for k in ks if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1]
    if bad:
        raise ValueError(f"k must be positive integers, got {bad}")
    ks = sorted({int(k) for k in ks if k <= N - 1})
    if not ks:
        return {}
    codes = np.unique(labels, return_inverse=True)[1]
    k_max = ks[-1]
    block_size = block_size or default_block_size(N)
    distances = _Distances(theta, distance, epsilon)
    hits = np.zeros(len(ks))
    for lo in range(0, N, block_size):
        hi = min(lo + block_size, N)
        top = nearest(distances.block(lo, hi), k_max, exclude=np.arange(lo, hi))
        same = codes[top] == codes[lo:hi, None]
        cum = np.cumsum(same, axis=1)
        for i, k in enumerate(ks):
            hits[i] += cum[:, k - 1].sum() / k
    return {k: float(h / N) for k, h in zip(ks, hits)}
