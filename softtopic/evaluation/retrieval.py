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
        self.theta, self.distance = theta, distance
        if distance == "kl":
            log_theta = np.log(theta + epsilon)
            self.right = log_theta.T                                  # K x N
            self.self_term = (theta * log_theta).sum(axis=1)          # sum_k q_k log(q_k + eps)
        else:
            self.right = np.sqrt(theta).T

    def block(self, lo: int, hi: int) -> np.ndarray:
        """(hi - lo) x N distances, computed in place in one array."""
        if self.distance == "kl":
            d = self.theta[lo:hi] @ self.right
            np.subtract(self.self_term[lo:hi, None], d, out=d)
        else:
            d = np.sqrt(self.theta[lo:hi]) @ self.right                # Bhattacharyya coeff.
            np.subtract(1.0, d, out=d)
            np.maximum(d, 0.0, out=d)
            np.sqrt(d, out=d)
        return d


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
    if block_size is None:  # about 32 MB per (block x N) array
        block_size = max(1, min(N, 4_000_000 // N))
    distances = _Distances(theta, distance, epsilon)
    scale = 10.0 ** DECIMALS
    hits = np.zeros(len(ks))
    for lo in range(0, N, block_size):
        hi = min(lo + block_size, N)
        d = distances.block(lo, hi)
        # one integer key per (query, document): rounded distance, then document position, so
        # that partial sorting gives the same order as a stable sort of the rounded distances
        np.multiply(d, scale, out=d)
        np.rint(d, out=d)
        key = d.astype(np.int64)
        del d
        key *= N
        key += np.arange(N)
        key[np.arange(hi - lo), np.arange(lo, hi)] = np.iinfo(np.int64).max  # not itself
        top = np.argpartition(key, k_max - 1, axis=1)[:, :k_max]
        top = np.take_along_axis(top, np.argsort(np.take_along_axis(key, top, axis=1), axis=1),
                                 axis=1)
        same = codes[top] == codes[lo:hi, None]
        cum = np.cumsum(same, axis=1)
        for i, k in enumerate(ks):
            hits[i] += cum[:, k - 1].sum() / k
    return {k: float(h / N) for k, h in zip(ks, hits)}
