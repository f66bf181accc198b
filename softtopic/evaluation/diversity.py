"""Topic diversity: TD (Dieng et al. 2020) and I-RBO (Terragni et al. 2021)."""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from .topics import prepare_topics


def topic_diversity(topics: Sequence[Sequence[str]], top_n: int = 15) -> float:
    """TD = distinct words among all topics' top-n words / (K x top-n)."""
    topics = prepare_topics(topics, top_n)
    return len(set(itertools.chain.from_iterable(topics))) / (len(topics) * top_n)


def rbo_ext(s: Sequence, t: Sequence, p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap (Webber, Moffat & Zobel 2010, eq. 32) as OCTIS/CTM's
    rbo.py computes it: agreement A_d = 2|S_:d & T_:d| / (|S_:d| + |T_:d|) (sets of the first d
    items), overlap X_d = A_d * min(d, |S|, |T|); with s = |short| <= l = |long|:

        RBO_ext = (1-p)/p [sum_{d=1..l} p^d A_d + sum_{d=s+1..l} p^d X_s (d-s)/(s d)]
                  + p^l ((X_l - X_s)/l + X_s/s).

    For two lists of equal length T this is (1-p)/p sum_d p^d A_d + p^T A_T."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    short, long_ = sorted((list(s), list(t)), key=len)
    n_s, n_l = len(short), len(long_)
    if n_s == 0:
        return 1.0 if n_l == 0 else 0.0

    def agreement(d):
        a, b = set(short[:d]), set(long_[:d])
        return 2 * len(a & b) / (len(a) + len(b))

    def overlap(d):
        return agreement(d) * min(d, n_s, n_l)

    x_s, x_l = overlap(n_s), overlap(n_l)
    sum1 = sum(p ** d * agreement(d) for d in range(1, n_l + 1))
    sum2 = sum(p ** d * x_s * (d - n_s) / (n_s * d) for d in range(n_s + 1, n_l + 1))
    return (1 - p) / p * (sum1 + sum2) + p ** n_l * ((x_l - x_s) / n_l + x_s / n_s)


def inverted_rbo(topics: Sequence[Sequence[str]], top_n: int = 15, p: float = 0.9) -> float:
    """I-RBO = 1 - mean RBO_ext over all unordered pairs of topics' top-n words (p = 0.9 as in
    OCTIS/CTM's InvertedRBO; their default top-k is 10, the paper's 15)."""
    topics = prepare_topics(topics, top_n)
    if len(topics) < 2:
        raise ValueError("I-RBO needs at least 2 topics")
    # all topics have exactly top_n distinct words, so A_d = |top-d(i) & top-d(j)| / d and the
    # K(K-1)/2 pairs can be done at once from each word's rank in each topic
    vocab = {w: i for i, w in enumerate(dict.fromkeys(itertools.chain.from_iterable(topics)))}
    K = len(topics)
    rank = np.full((K, len(vocab)), top_n, dtype=np.int64)  # top_n = "not in the top-n"
    for k, words in enumerate(topics):
        rank[k, [vocab[w] for w in words]] = np.arange(top_n)
    i, j = np.triu_indices(K, k=1)
    both = np.maximum(rank[i], rank[j])                      # depth at which a word is shared
    # shared[pair, d-1] = number of words in both top-d lists
    shared = np.stack([np.count_nonzero(both < d, axis=1) for d in range(1, top_n + 1)], axis=1)
    depth = np.arange(1, top_n + 1)
    agreement = shared / depth
    rbo = (1 - p) / p * (p ** depth * agreement).sum(axis=1) + p ** top_n * agreement[:, -1]
    return float(1.0 - rbo.mean())
