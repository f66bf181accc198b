"""One tokenisation and vocabulary policy for every model, so that comparisons are fair.

Policy: lowercase; tokens are runs of 3 or more letters bounded by non-word characters (tokens
mixing letters and digits, such as "mp3", are not words); English stopwords removed
(scikit-learn's list); the vocabulary is the top-|V| words by corpus frequency after optional
min/max document-frequency filters. The bag of words is a SciPy CSR matrix.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

TOKEN_PATTERN = re.compile(r"(?<!\w)[^\W\d_]{3,}(?!\w)")
STOPWORDS = frozenset(ENGLISH_STOP_WORDS)


def tokenize(text: str, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """The shared policy: lowercase alphabetic tokens of 3+ letters, stopwords removed."""
    return [t for t in TOKEN_PATTERN.findall(text.lower()) if t not in stopwords]


@dataclass
class PreprocessingConfig:
    vocab_size: int = 2000
    min_df: float | int = 1        # int: documents; float in (0, 1]: share of documents
    max_df: float | int = 1.0
    stopwords: str = "english"     # "english" or "none"

    def validate(self):
        if not isinstance(self.vocab_size, int) or self.vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive integer, got {self.vocab_size!r}")
        if self.stopwords not in ("english", "none"):
            raise ValueError(f"stopwords must be 'english' or 'none', got {self.stopwords!r}")
        for name in ("min_df", "max_df"):
            v = getattr(self, name)
            if isinstance(v, float) and not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} as a float must be in [0, 1], got {v}")
            if isinstance(v, int) and v < 0:
                raise ValueError(f"{name} must be non-negative, got {v}")


class Vocabulary:
    """The fitted word list and the CSR bag of words it induces."""

    def __init__(self, config: PreprocessingConfig | None = None):
        self.config = config or PreprocessingConfig()
        self.config.validate()
        self.words: list[str] | None = None
        self._vectorizer: CountVectorizer | None = None

    # The analyzer is a method so a pickled or rebuilt vectorizer sees the same policy.
    def _analyzer(self, text: str) -> list[str]:
        return tokenize(text, STOPWORDS if self.config.stopwords == "english" else frozenset())

    def fit_transform(self, texts: list[str]) -> sp.csr_matrix:
        c = self.config
        vec = CountVectorizer(analyzer=self._analyzer, max_features=c.vocab_size,
                              min_df=c.min_df, max_df=c.max_df, dtype=np.float32)
        try:
            bow = vec.fit_transform(texts)
        except ValueError as e:  # sklearn: "empty vocabulary" / "max_df corresponds to < min_df"
            raise ValueError(f"could not build a vocabulary: {e} (documents: {len(texts)}, "
                             f"settings: {asdict(c)})") from None
        self.words = list(vec.get_feature_names_out())
        self._vectorizer = CountVectorizer(analyzer=self._analyzer,
                                           vocabulary={w: i for i, w in enumerate(self.words)},
                                           dtype=np.float32)
        return sp.csr_matrix(bow, dtype=np.float32)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        if self._vectorizer is None:
            raise RuntimeError("the vocabulary is not fitted yet")
        return sp.csr_matrix(self._vectorizer.transform(texts), dtype=np.float32)

    @classmethod
    def from_words(cls, words: list[str], config: PreprocessingConfig | None = None):
        vocab = cls(config)
        vocab.words = list(words)
        vocab._vectorizer = CountVectorizer(analyzer=vocab._analyzer,
                                            vocabulary={w: i for i, w in enumerate(vocab.words)},
                                            dtype=np.float32)
        return vocab

    def __len__(self) -> int:
        return len(self.words or [])

    def content_hash(self) -> str:
        return hashlib.sha256("\n".join(self.words or []).encode()).hexdigest()

    def to_dict(self) -> dict:
        return {"words": self.words, "config": asdict(self.config)}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        return cls.from_words(d["words"], PreprocessingConfig(**d["config"]))


def empty_rows(bow: sp.csr_matrix) -> np.ndarray:
    """Indices of documents with no vocabulary word."""
    return np.flatnonzero(np.diff(bow.indptr) == 0)
