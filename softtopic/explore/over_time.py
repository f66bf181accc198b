"""Topics over time: each topic's share of the documents in each time bin, and the words the
topic uses in that bin.

A topic's words in a bin are the bin's word occurrences attributed to the topic by their
posterior responsibility, r(d, k, w) = theta_dk beta_kw / sum_j theta_dj beta_jw (the share of
an occurrence of w in d that topic k explains, as an LDA topic assignment would). Summed over
the bin's documents this is beta * (theta^T @ S), where S holds bow_dw / (theta_d . beta_w) on
the bag of words' non-zeros: one sparse product per bin, no N x V array.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp


def time_bins(timestamps: Sequence, bins: int = 20) -> tuple[np.ndarray, list]:
    """Equal-width bins over the time range: (bin index per document, bin start per bin).
    Timestamps are numbers, datetimes or strings pandas can parse."""
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    values = pd.Series(list(timestamps))
    if values.isna().any():
        raise ValueError(f"timestamp {int(np.flatnonzero(values.isna())[0])} is missing")
    if not pd.api.types.is_numeric_dtype(values):   # numbers read from a file are strings
        values = values.astype(float) if values.map(_is_number).all() else values
    numeric = pd.api.types.is_numeric_dtype(values)
    if not numeric:
        try:
            values = pd.to_datetime(values, utc=True, format="mixed")
        except (ValueError, TypeError) as e:
            raise ValueError(f"timestamps must be numbers or dates: {e}") from None
    cut, edges = pd.cut(values, bins=int(bins), labels=False, retbins=True, include_lowest=True)
    starts = list(edges[:-1])
    if not numeric:  # pd.cut's edges of datetimes are Timestamps or nanoseconds
        starts = list(pd.to_datetime(starts, utc=True))
    return np.asarray(cut, dtype=int), starts


def _is_number(x) -> bool:
    try:
        float(x)
        return True
    except (TypeError, ValueError):
        return False


def topics_over_time(theta: np.ndarray, topic_word: np.ndarray, bow: sp.csr_matrix,
                     words: Sequence[str], timestamps: Sequence, bins: int = 20,
                     top_n: int = 5, empty: Sequence[int] = ()) -> pd.DataFrame:
    """One row per (bin, topic): bin start, share (mean theta of the bin's non-empty
    documents), documents (those whose most probable topic it is), and top words in the bin."""
    theta = np.asarray(theta, dtype=np.float64)
    beta = np.asarray(topic_word, dtype=np.float64)       # K x V, rows sum to 1
    n, k = theta.shape
    if len(timestamps) != n:
        raise ValueError(f"got {len(timestamps)} timestamps for {n} documents")
    bin_of, starts = time_bins(timestamps, bins)
    keep = np.ones(n, bool)
    keep[np.asarray(list(empty), dtype=int)] = False
    bow = sp.csr_matrix(bow, dtype=np.float64)
    words = np.asarray(list(words), dtype=object)
    rows = []
    for b, start in enumerate(starts):
        docs = np.flatnonzero((bin_of == b) & keep)
        if len(docs) == 0:
            continue
        attributed = _attributed_counts(theta[docs], beta, bow[docs])   # K x V
        argmax = np.bincount(theta[docs].argmax(1), minlength=k)
        share = theta[docs].mean(axis=0)
        for t in range(k):
            order = np.argsort(-attributed[t], kind="stable")[:top_n]
            top = [str(w) for w, c in zip(words[order], attributed[t, order]) if c > 0]
            rows.append({"bin": b, "start": start, "topic": t, "share": float(share[t]),
                         "documents": int(argmax[t]), "words": top})
    return pd.DataFrame(rows, columns=["bin", "start", "topic", "share", "documents", "words"])


def _attributed_counts(theta: np.ndarray, beta: np.ndarray, bow: sp.csr_matrix,
                       block: int = 2048) -> np.ndarray:
    scaled = sp.csr_matrix(bow, dtype=np.float64, copy=True)
    for lo in range(0, bow.shape[0], block):      # theta_d . beta_w, a block of rows at a time
        part = scaled[lo:lo + block].tocoo()
        mix = (theta[lo:lo + block] @ beta)[part.row, part.col]
        start, end = scaled.indptr[lo], scaled.indptr[min(lo + block, bow.shape[0])]
        scaled.data[start:end] = part.data / np.maximum(mix, 1e-300)
    return beta * np.asarray((scaled.T @ theta).T)
