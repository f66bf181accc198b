"""Planted-topic corpora: documents generated from known topics, to test topic recovery."""
from __future__ import annotations

import numpy as np

LETTERS = "bcdfghjklmnpqrstvwz"


def planted_words(n_topics: int, per_topic: int = 10) -> list[list[str]]:
    """Distinct, pronounceable, stopword-free words of 3+ letters: topic t, word j -> 'qa..'."""
    return [[f"{LETTERS[t]}{'aeiou'[j % 5]}{LETTERS[j]}{'aeiou'[t % 5]}x" for j in range(per_topic)]
            for t in range(n_topics)]


def planted_corpus(n_topics=5, n_docs=600, doc_len=40, noise_words=30, noise=0.15, seed=0,
                   topics_per_doc=1):
    """Each document mixes `topics_per_doc` planted topics; a share `noise` of its tokens come
    from shared noise words. Returns (texts, topic word lists, dominant topic per document)."""
    rng = np.random.default_rng(seed)
    topics = planted_words(n_topics)
    noise_vocab = [f"noise{LETTERS[i % 19]}{LETTERS[(i // 19) % 19]}x" for i in range(noise_words)]
    weights = 1.0 / np.arange(1, 11) ** 0.3   # a clear but not degenerate ranking inside a topic
    weights /= weights.sum()
    texts, dominant = [], []
    for _ in range(n_docs):
        ks = rng.choice(n_topics, size=topics_per_doc, replace=False)
        tokens = []
        for _ in range(doc_len):
            if rng.random() < noise:
                tokens.append(noise_vocab[rng.integers(noise_words)])
            else:
                k = ks[rng.integers(len(ks))]
                tokens.append(topics[k][rng.choice(10, p=weights)])
        texts.append(" ".join(tokens))
        dominant.append(int(ks[0]))
    return texts, topics, np.array(dominant)


def recovered(learned: list[list[str]], planted: list[list[str]], min_shared: int = 8) -> list[bool]:
    """For each planted topic: is there a learned topic sharing >= min_shared of its top words?"""
    return [max(len(set(p) & set(t[:len(p)])) for t in learned) >= min_shared for p in planted]
