"""Topics as clusters: each document goes to its argmax topic, compared with gold labels.

Contingency n[c, k] = documents of class c assigned to topic k; n_c, n_k its margins; N total.
- purity          = (1/N) sum_k max_c n[c, k]                    (Zhao & Karypis 2001)
- inverse_purity  = (1/N) sum_c max_k n[c, k]
- harmonic_purity_f1  = sum_c (n_c/N) max_k F1(c, k),  F1(c, k) = 2 n[c, k] / (n_c + n_k)
  (class-weighted best-match F1: the "harmonic purity" the paper's text describes)
- harmonic_purity_pip = 2 P IP / (P + IP)  (what the paper's code returns as harmonic_purity)
- nmi: sklearn normalized_mutual_info_score (arithmetic mean normalisation)
- ari: sklearn adjusted_rand_score
Ties in argmax go to the first topic (numpy), as in every implementation compared.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix


def hard_assignments(theta) -> np.ndarray:
    theta = np.asarray(theta)
    if theta.ndim != 2 or theta.shape[0] == 0:
        raise ValueError(f"theta must be a non-empty 2-d array (documents x topics), got "
                         f"shape {theta.shape}")
    if not np.isfinite(theta).all():
        raise ValueError("theta contains NaN or infinite values")
    return theta.argmax(axis=1)


def _check_labels(labels, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"got {labels.shape[0] if labels.ndim else 'scalar'} labels for {n} "
                         "documents")
    return labels


def purity_scores(labels, assignments) -> dict[str, float]:
    """purity, inverse_purity and the two harmonic purities (see the module docstring)."""
    assignments = np.asarray(assignments)
    labels = _check_labels(labels, assignments.shape[0])
    n = contingency_matrix(labels, assignments)        # classes x clusters
    N = n.sum()
    purity = n.max(axis=0).sum() / N
    inverse = n.max(axis=1).sum() / N
    n_c = n.sum(axis=1, keepdims=True)
    n_k = n.sum(axis=0, keepdims=True)
    f1 = 2 * n / (n_c + n_k)
    hp_f1 = float((n_c[:, 0] / N * f1.max(axis=1)).sum())
    hp_pip = 2 * purity * inverse / (purity + inverse) if purity + inverse > 0 else 0.0
    return {"purity": float(purity), "inverse_purity": float(inverse),
            "harmonic_purity_f1": hp_f1, "harmonic_purity_pip": float(hp_pip)}


def clustering_scores(theta, labels) -> dict[str, float]:
    """Purity family, NMI and ARI of the argmax-topic clustering of `theta` against `labels`."""
    assignments = hard_assignments(theta)
    labels = _check_labels(labels, assignments.shape[0])
    return {**purity_scores(labels, assignments),
            "nmi": float(normalized_mutual_info_score(labels, assignments)),
            "ari": float(adjusted_rand_score(labels, assignments))}
