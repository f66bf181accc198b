"""Checking the top-word lists every topic-word metric starts from."""
from __future__ import annotations

from typing import Sequence


def prepare_topics(topics: Sequence[Sequence[str]], top_n: int) -> list[list[str]]:
    """Each topic's first `top_n` words, after checking that the input is a list of word lists,
    that every topic has at least `top_n` words and that no topic repeats a word.

    A short topic is an error rather than silently scored on fewer words: TD, I-RBO and C_V all
    change with the number of words (and gensim's truncation rule makes mixed lengths worse)."""
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ValueError(f"top_n must be a positive integer, got {top_n!r}")
    if isinstance(topics, str) or not hasattr(topics, "__len__"):
        raise TypeError("topics must be a list of word lists")
    if len(topics) == 0:
        raise ValueError("no topics given")
    out = []
    for k, topic in enumerate(topics):
        if isinstance(topic, str):
            raise TypeError(f"topic {k} is a string, not a list of words (did you pass one "
                            "topic instead of a list of topics?)")
        words = list(topic)
        bad = [w for w in words if not isinstance(w, str) or not w]
        if bad:
            raise ValueError(f"topic {k} contains non-words: {bad[:3]}")
        if len(words) < top_n:
            raise ValueError(f"topic {k} has {len(words)} words, fewer than top_n={top_n}; "
                             f"pass a smaller top_n")
        words = words[:top_n]
        if len(set(words)) < len(words):
            seen, dup = set(), None
            for w in words:
                if w in seen:
                    dup = w
                    break
                seen.add(w)
            raise ValueError(f"topic {k} repeats the word {dup!r} in its top {top_n}")
        out.append(words)
    return out
