"""Topic coherence from reference window statistics: C_V, its Palmetto 0.1.0 variant, NPMI.

All three share one NPMI (Röder et al. 2015; gensim and Palmetto alike):

    NPMI(i, j) = log((P(i,j) + eps) / (P(i) P(j))) / -log(P(i,j) + eps),   eps = 1e-12,

with P(i, i) = P(i). It is *undefined*, and set to 0, when P(i) or P(j) is 0. That rule is the
whole treatment of topic words absent from the reference (Palmetto's): the word is kept, every
NPMI with it is 0, so in C_V it has a zero context vector and scores cosine 0, and in NPMI its
pairs score 0; the mean is still over all top-n words or pairs, and the absent words are
listed in the result. gensim instead drops them (shifting the scores) or returns NaN;
`absent="drop"` reproduces the dropping.

- C_V: one-set segmentation; context vector of word i: v_i[j] = NPMI(i, j)^gamma over the
  topic's words; topic vector v = sum_i v_i; score of i = cos(v_i, v); topic = mean over i.
- `cv` (Röder et al., gensim's formula): window 110, gamma 1, no minimum count, cosine with a
  zero vector = 0 (gensim gives NaN).
- `cv_palmetto` (the palmetto-0.1.0 jar the paper used): gamma 2, a word or pair counted in
  fewer than 1100 windows has probability 0, cosine of two zero vectors = 1 (one zero = 0).
- `npmi`: window 10, mean NPMI over the topic's unordered word pairs (= gensim's c_npmi, whose
  ordered pairs give the same mean).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .. import __version__
from .reference import ReferenceStats
from .topics import prepare_topics

EPSILON = 1e-12


@dataclass(frozen=True)
class CoherenceVariant:
    name: str
    kind: str               # "cv" or "npmi"
    window: int
    gamma: float = 1.0
    min_count: int = 0      # counts below this are treated as 0 (probability 0)
    cos_zero_zero: float = 0.0
    epsilon: float = EPSILON
    definition: str = ""


VARIANTS = {
    "cv": CoherenceVariant(
        "cv", "cv", 110, definition="C_V (Röder et al. 2015; gensim's formula): one-set "
        "segmentation, boolean sliding window 110, NPMI with epsilon 1e-12, indirect cosine "
        "with gamma 1, mean over words, mean over topics"),
    "cv_palmetto": CoherenceVariant(
        "cv_palmetto", "cv", 110, gamma=2.0, min_count=1100, cos_zero_zero=1.0,
        definition="C_V as computed by palmetto-0.1.0-jar-with-dependencies.jar: as cv but "
        "gamma 2, word and pair counts under 1100 windows treated as 0, cosine of two zero "
        "vectors = 1"),
    "npmi": CoherenceVariant(
        "npmi", "npmi", 10, definition="NPMI coherence: boolean sliding window 10, NPMI with "
        "epsilon 1e-12, mean over the topic's word pairs, mean over topics"),
}


@dataclass
class CoherenceResult:
    name: str
    score: float                       # mean over topics with a defined score
    per_topic: np.ndarray
    absent_words: list[list[str]]      # per topic: words with count 0 in the reference
    rare_words: list[list[str]]        # per topic: 0 < count < min_count (cv_palmetto)
    provenance: dict = field(default_factory=dict)

    @property
    def n_absent_words(self) -> int:
        return sum(len(a) for a in self.absent_words)

    def to_dict(self) -> dict:
        return {"score": _float(self.score), "per_topic": [_float(x) for x in self.per_topic],
                "n_absent_words": self.n_absent_words,
                "n_rare_words": sum(len(r) for r in self.rare_words),
                "absent_words": {str(k): a for k, a in enumerate(self.absent_words) if a},
                "rare_words": {str(k): r for k, r in enumerate(self.rare_words) if r},
                "provenance": self.provenance}


def _float(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


# --------------------------------------------------------------------------- formulas

def npmi_matrix(singles: np.ndarray, pairs: np.ndarray, n_windows: int,
                epsilon: float = EPSILON, min_count: int = 0) -> np.ndarray:
    """NPMI for every pair of a topic's words from window counts; (..., T) and (..., T, T) in,
    (..., T, T) out. Undefined entries (a word with probability 0) are 0."""
    singles = np.asarray(singles, dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.float64)
    if min_count > 0:
        singles = np.where(singles >= min_count, singles, 0.0)
        pairs = np.where(pairs >= min_count, pairs, 0.0)
    p = singles / n_windows
    p_joint = pairs / n_windows
    diag = np.arange(p.shape[-1])
    p_joint[..., diag, diag] = p  # P(i, i) = P(i), whatever the diagonal held
    p_prod = p[..., :, None] * p[..., None, :]
    defined = p_prod > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.log((p_joint + epsilon) / p_prod) / -np.log(p_joint + epsilon)
    return np.where(defined, value, 0.0)


def cv_from_npmi(npmi: np.ndarray, gamma: float = 1.0, cos_zero_zero: float = 0.0
                 ) -> np.ndarray:
    """Per-topic C_V from (K, T, T) NPMI matrices: mean over words of cos(v_i, sum_j v_j)."""
    vectors = npmi ** gamma                         # (K, T, T): row i is word i's vector
    topic_vector = vectors.sum(axis=1)              # (K, T)
    dots = np.einsum("kij,kj->ki", vectors, topic_vector)
    norms = np.linalg.norm(vectors, axis=2) * np.linalg.norm(topic_vector, axis=1)[:, None]
    both_zero = (np.linalg.norm(vectors, axis=2) == 0) & \
        (np.linalg.norm(topic_vector, axis=1) == 0)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(norms > 0, dots / norms, 0.0)
    cos = np.where(both_zero, cos_zero_zero, cos)
    return cos.mean(axis=1)


def npmi_from_matrix(npmi: np.ndarray) -> np.ndarray:
    """Per-topic mean NPMI over unordered pairs i < j from (K, T, T) matrices."""
    T = npmi.shape[-1]
    iu = np.triu_indices(T, k=1)
    return npmi[:, iu[0], iu[1]].mean(axis=1)


# --------------------------------------------------------------------------- entry points

def _pick_stats(stats, window: int) -> ReferenceStats:
    if isinstance(stats, ReferenceStats):
        if stats.window != window:
            raise ValueError(f"these reference statistics use window {stats.window}; this "
                             f"measure needs window {window}")
        return stats
    if isinstance(stats, Mapping):
        if window not in stats:
            raise ValueError(f"no reference statistics for window {window} (have windows "
                             f"{sorted(stats)})")
        return stats[window]
    raise TypeError("stats must be ReferenceStats or a dict {window: ReferenceStats}")


def coherence(topics: Sequence[Sequence[str]], stats, measure: str = "cv", top_n: int = 15,
              absent: str = "zero") -> CoherenceResult:
    """Coherence of each topic's top-n words. `measure`: 'cv', 'cv_palmetto' or 'npmi'.
    `stats`: ReferenceStats for the measure's window, or a dict {window: ReferenceStats}.
    `absent`: 'zero' (keep absent words, their NPMI is 0; the default) or 'drop' (remove them
    first, as gensim does with a Dictionary built from the reference texts)."""
    if measure not in VARIANTS:
        raise ValueError(f"unknown coherence measure {measure!r}; choose from {sorted(VARIANTS)}")
    if absent not in ("zero", "drop"):
        raise ValueError(f"absent must be 'zero' or 'drop', got {absent!r}")
    v = VARIANTS[measure]
    stats = _pick_stats(stats, v.window)
    topics = prepare_topics(topics, top_n)
    counted = [stats.counts(t) for t in topics]
    absent_words = [[w for w, c in zip(t, s) if c == 0] for t, (s, _) in zip(topics, counted)]
    rare = [[w for w, c in zip(t, s) if 0 < c < v.min_count] for t, (s, _) in zip(topics, counted)]
    if absent == "zero":
        singles = np.stack([s for s, _ in counted])
        pairs = np.stack([p for _, p in counted])
        per_topic = _score(singles, pairs, stats.n_windows, v)
        # A topic none of whose words is counted (absent, or under the measure's min_count)
        # has no evidence either way: its score is undefined, not 0 and not palmetto's 1.0
        # (the cosine of two zero vectors).
        unseen = (singles < max(v.min_count, 1)).all(axis=1)
        per_topic = np.where(unseen, np.nan, per_topic)
    else:  # topics now differ in length: score one by one
        per_topic = np.full(len(topics), np.nan)
        for k, (s, p) in enumerate(counted):
            keep = np.flatnonzero(s > 0)
            if keep.size >= 2:
                per_topic[k] = _score(s[keep][None], p[np.ix_(keep, keep)][None],
                                      stats.n_windows, v)[0]
    defined = ~np.isnan(per_topic)
    score = float(per_topic[defined].mean()) if defined.any() else float("nan")
    provenance = {
        "definition": v.definition, "window": v.window, "epsilon": v.epsilon,
        "top_n": top_n, "absent_words": _ABSENT_TEXT[absent],
        "implementation": "softtopic.evaluation.coherence", "softtopic_version": __version__,
        "reference": stats.provenance(), "n_topics_scored": int(defined.sum()),
        "n_topics_undefined": int((~defined).sum())}
    if v.kind == "cv":
        provenance.update(gamma=v.gamma, min_count=v.min_count, cos_zero_zero=v.cos_zero_zero)
    return CoherenceResult(measure, score, per_topic, absent_words, rare, provenance)


_ABSENT_TEXT = {
    "zero": "kept: a word with count 0 in the reference has NPMI 0 with every word (undefined "
            "-> 0), so a zero context vector (cosine 0) in C_V and 0 for its pairs in NPMI; "
            "the mean stays over all top-n words/pairs",
    "drop": "dropped before scoring (as gensim with Dictionary(reference texts)); a topic left "
            "with fewer than 2 words has no score",
}


def _score(singles, pairs, n_windows, v: CoherenceVariant) -> np.ndarray:
    npmi = npmi_matrix(singles, pairs, n_windows, v.epsilon, v.min_count)
    if v.kind == "cv":
        return cv_from_npmi(npmi, v.gamma, v.cos_zero_zero)
    return npmi_from_matrix(npmi)


def c_v(topics, stats, top_n: int = 15, absent: str = "zero") -> CoherenceResult:
    return coherence(topics, stats, "cv", top_n, absent)


def c_v_palmetto(topics, stats, top_n: int = 15, absent: str = "zero") -> CoherenceResult:
    return coherence(topics, stats, "cv_palmetto", top_n, absent)


def npmi(topics, stats, top_n: int = 15, absent: str = "zero") -> CoherenceResult:
    return coherence(topics, stats, "npmi", top_n, absent)
