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


def mixture_corpus(n_topics=5, words_per_topic=10, n_docs=300, doc_len=40, seed=0,
                   n_background=30):
    """Documents drawn from K planted topics mixed by theta ~ Dirichlet(0.2); each topic puts
    90% of its mass on its own 10 words, the rest spread over all words (including
    `n_background` shared ones). Returns texts, the planted topics' words, theta, each
    document's true word distribution p_d = theta_d @ beta (the ideal teacher's soft label)
    and the words (columns of p)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("bcdfghjklmnpqrstvwxz"))
    words = sorted({"".join(rng.choice(letters, 6)) for _ in range(400)})
    words = words[:n_topics * words_per_topic + n_background]
    v = len(words)
    beta = np.full((n_topics, v), 0.1 / v)
    for k in range(n_topics):
        own = np.arange(k * words_per_topic, (k + 1) * words_per_topic)
        beta[k, own] += 0.9 * np.linspace(2, 1, words_per_topic) / np.linspace(2, 1, words_per_topic).sum()
    theta = rng.dirichlet(np.full(n_topics, 0.2), n_docs)
    p = theta @ beta
    texts = [" ".join(rng.choice(words, doc_len, p=p[d] / p[d].sum())) for d in range(n_docs)]
    planted = [words[k * words_per_topic:(k + 1) * words_per_topic] for k in range(n_topics)]
    return texts, planted, theta, p, words


def shared_words(planted, learned, need=8):
    """For each planted topic: does some learned topic share >= need of its words?"""
    return [max(len(set(t) & set(l)) for l in learned) >= need for t in planted]
