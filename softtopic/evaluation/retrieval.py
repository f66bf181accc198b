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


def distance_block(queries: np.ndarray, theta: np.ndarray, distance: str = "kl",
                   epsilon: float = EPSILON) -> np.ndarray:
    """Distances from each (normalised) query row to every row of `theta`: (B, N)."""
    if distance == "kl":
        log_theta = np.log(theta + epsilon)
        self_term = (queries * np.log(queries + epsilon)).sum(axis=1, keepdims=True)
        return self_term - queries @ log_theta.T
    if distance == "hellinger":
        bc = np.sqrt(queries) @ np.sqrt(theta).T
        return np.sqrt(np.maximum(0.0, 1.0 - bc))
    raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")


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
    scale = 10.0 ** DECIMALS
    if distance == "kl":
        log_theta = np.log(theta + epsilon)
    hits = np.zeros(len(ks))
    for lo in range(0, N, block_size):
        hi = min(lo + block_size, N)
        if distance == "kl":
            q = theta[lo:hi]
            d = (q * np.log(q + epsilon)).sum(axis=1, keepdims=True) - q @ log_theta.T
        else:
            d = distance_block(theta[lo:hi], theta, distance, epsilon)
        # one integer key per (query, document): rounded distance, then document position, so
        # that partial sorting gives the same order as a stable sort of the rounded distances
        key = np.rint(d * scale).astype(np.int64) * N + np.arange(N)
        key[np.arange(hi - lo), np.arange(lo, hi)] = np.iinfo(np.int64).max  # not itself
        top = np.argpartition(key, k_max - 1, axis=1)[:, :k_max]
        top = np.take_along_axis(top, np.argsort(np.take_along_axis(key, top, axis=1), axis=1),
                                 axis=1)
        same = codes[top] == codes[lo:hi, None]
        cum = np.cumsum(same, axis=1)
        for i, k in enumerate(ks):
            hits[i] += cum[:, k - 1].sum() / k
    return {k: float(h / N) for k, h in zip(ks, hits)}
