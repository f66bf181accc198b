"""One tokenisation and vocabulary policy for every model, so that comparisons are fair.

Policy: lowercase; tokens are runs of 3 or more letters bounded by non-word characters (tokens
mixing letters and digits, such as "mp3", are not words); English stopwords removed
(scikit-learn's list); the vocabulary is the top-|V| words by corpus frequency after optional
min/max document-frequency filters. The bag of words is a SciPy CSR matrix.

Text without word boundaries (Chinese, Japanese) needs a `tokenizer` (a callable str ->
list[str], e.g. jieba.lcut); without one each clause becomes one "word", and the vocabulary
warns when most of the corpus is such runs.
"""
from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field, fields
from typing import Callable

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from .params import DOCUMENT_FREQUENCY, check_params, positive_integer

TOKEN_PATTERN = re.compile(r"(?<!\w)[^\W\d_]{3,}(?!\w)")
STOPWORDS = frozenset(ENGLISH_STOP_WORDS)
# a "word" of 5+ Han/kana characters is almost always a clause of unsegmented text
CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{5,}")


def tokenize(text: str, stopwords: frozenset[str] = STOPWORDS,
             tokenizer: Callable[[str], list[str]] | None = None) -> list[str]:
    """The shared policy: lowercase alphabetic tokens of 3+ letters, stopwords removed. A
    `tokenizer` replaces the 3+-letter pattern (its tokens are lowercased, blank ones and
    stopwords dropped)."""
    if tokenizer is None:
        tokens = TOKEN_PATTERN.findall(text.lower())
    else:
        tokens = [t.strip().lower() for t in tokenizer(text)]
    return [t for t in tokens if t and t not in stopwords]


@dataclass
class PreprocessingConfig:
    """vocab_size: the top words kept. min_df, max_df: as scikit-learn's CountVectorizer, an int
    is a number of documents, a float in [0, 1] a share of documents (min_df=5: in at least 5
    documents; max_df=1.0: in at most all of them). tokenizer: a callable str -> list[str] in
    place of the built-in pattern (needed for Chinese or Japanese); a callable is not saved,
    so a model fitted with one cannot be saved."""

    vocab_size: int = 2000
    min_df: float | int = 1
    max_df: float | int = 1.0
    stopwords: str = "english"     # "english" or "none"
    tokenizer: Callable[[str], list[str]] | None = field(default=None, compare=False)

    _parameter_constraints = {"vocab_size": positive_integer(), "min_df": DOCUMENT_FREQUENCY,
                              "max_df": DOCUMENT_FREQUENCY}

    def validate(self):
        check_params(self, self._parameter_constraints)
        if self.stopwords not in ("english", "none"):
            raise ValueError(f"stopwords must be 'english' or 'none', got {self.stopwords!r}")
        if self.tokenizer is not None and not callable(self.tokenizer):
            raise ValueError(f"tokenizer must be None or a callable str -> list[str], got "
                             f"{self.tokenizer!r}")

    def to_dict(self) -> dict:
        """The JSON-serialisable settings (the tokenizer, a callable, is not among them)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tokenizer"}

    @classmethod
    def of(cls, model) -> "PreprocessingConfig":
        """The preprocessing parameters of a model (every model has these four)."""
        return cls(model.vocab_size, model.min_df, model.max_df, tokenizer=model.tokenizer)


class Vocabulary:
    """The fitted word list and the CSR bag of words it induces."""

    def __init__(self, config: PreprocessingConfig | None = None):
        self.config = config or PreprocessingConfig()
        self.config.validate()
        self.words: list[str] | None = None
        self.notes: list[str] = []
        self._vectorizer: CountVectorizer | None = None

    # The analyzer is a method so a pickled or rebuilt vectorizer sees the same policy.
    def _analyzer(self, text: str) -> list[str]:
        return tokenize(text, STOPWORDS if self.config.stopwords == "english" else frozenset(),
                        self.config.tokenizer)

    def fit_transform(self, texts: list[str]) -> sp.csr_matrix:
        c = self.config
        vec = CountVectorizer(analyzer=self._analyzer, max_features=c.vocab_size,
                              min_df=c.min_df, max_df=c.max_df, dtype=np.float32)
        try:
            bow = vec.fit_transform(texts)
        except ValueError as e:  # sklearn: "empty vocabulary" / "max_df corresponds to < min_df"
            raise ValueError(f"could not build a vocabulary: {e} (documents: {len(texts)}, "
                             f"settings: {c.to_dict()})") from None
        self.set_words(vec.get_feature_names_out(), np.asarray(bow.sum(axis=0)).ravel())
        return sp.csr_matrix(bow, dtype=np.float32)

    def set_words(self, words, counts: np.ndarray | None = None):
        """Fix the vocabulary to `words` (in column order); `counts` (each word's occurrences
        in the training corpus) feed the check for unsegmented text. `fit_transform` and the
        streaming reader (`softtopic.streaming`) both end here."""
        self.words = list(words)
        if counts is not None:
            self._warn_if_unsegmented(np.asarray(counts))
        self._vectorizer = CountVectorizer(analyzer=self._analyzer,
                                           vocabulary={w: i for i, w in enumerate(self.words)},
                                           dtype=np.float32)
        return self

    def _warn_if_unsegmented(self, counts: np.ndarray):
        """Warn when most word occurrences are long CJK runs: text without word boundaries
        that the built-in pattern cannot split."""
        cjk = np.array([CJK_RUN.fullmatch(w) is not None for w in self.words], dtype=bool)
        if self.config.tokenizer is None and counts.sum() and counts[cjk].sum() > counts.sum() / 2:
            note = (f"{counts[cjk].sum() / counts.sum():.0%} of the word occurrences are runs of 5+ "
                    "Chinese/Japanese characters: the text seems to have no word boundaries, "
                    "so each clause became one word; pass a tokenizer (a callable str -> "
                    "list[str], e.g. jieba.lcut) to split it")
            self.notes.append(note)
            warnings.warn(note, stacklevel=4)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        if self._vectorizer is None:
            raise RuntimeError("the vocabulary is not fitted yet")
        return sp.csr_matrix(self._vectorizer.transform(texts), dtype=np.float32)

    @classmethod
    def from_words(cls, words: list[str], config: PreprocessingConfig | None = None):
        return cls(config).set_words(words)

    def __len__(self) -> int:
        return len(self.words or [])

    def content_hash(self) -> str:
        return hashlib.sha256("\n".join(self.words or []).encode()).hexdigest()

    def to_dict(self) -> dict:
        return {"words": self.words, "config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        return cls.from_words(d["words"], PreprocessingConfig(**d["config"]))


def empty_rows(bow: sp.csr_matrix) -> np.ndarray:
    """Indices of documents with no vocabulary word."""
    return np.flatnonzero(np.diff(bow.indptr) == 0)
