"""One tokenisation and vocabulary policy for every model, so that comparisons are fair.

Default policy (unchanged since the first release, so earlier results repeat): lowercase;
tokens are runs of 3 or more letters bounded by non-word characters; English stopwords removed
(scikit-learn's list); the vocabulary is the top-|V| words by corpus frequency after optional
min/max document-frequency filters. The bag of words is a SciPy CSR matrix.

The token policy is a parameter of the vocabulary (and of every model):
- min_token_length (default 3): the built-in pattern's shortest token; 2 keeps "qt", "js",
  "os", "ui" of technical titles. Applies to the built-in pattern only.
- token_pattern (default None: the built-in pattern): a regular expression whose matches in the
  lowercased text are the tokens, as scikit-learn's CountVectorizer token_pattern (with one
  capturing group the group is the token).
- stopwords: "english" (default), "none", or a list of words (lowercased, removed exactly).
- tokenizer: a callable str -> list[str] in place of any pattern (Chinese, Japanese).

What the built-in pattern does with letters mixed with digits or symbols: a token is a whole run
of letters between non-word characters, and digits and "_" are word characters, so "mp3",
"x86", "python3", "42abc" and "snake_case" give no token at all; "+", "#" and "." are not word
characters, so "c++" and "c#" give "c" (dropped unless min_token_length is 1), ".net" gives
"net", "node.js" gives "node" and "js" (the latter kept at min_token_length 2). For such text
pass a token_pattern, e.g. CODE_TOKEN_PATTERN (a token starts with a letter, or a "." then a
letter, where no word character, "+" or "#" precedes it, and goes on over letters, digits, "_",
"+" and "#"): "c++", "c#", "f#", ".net", "mp3", "x86", "c++11", "snake_case"; "node.js" gives
"node" and "js", "v1.2" gives "v1". It keeps single letters and 2-letter words too, so combine
it with a stopword list or min_df as needed.

Text without word boundaries (Chinese, Japanese) needs a `tokenizer` (a callable str ->
list[str], e.g. jieba.lcut); without one each clause becomes one "word", and the vocabulary
warns when most of the corpus is such runs.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import warnings
from dataclasses import dataclass, field, fields
from typing import Callable, Iterable

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from .params import (DOCUMENT_FREQUENCY, Choice, IsCallable, OneOf, RegexPattern, Words,
                     check_params, positive_integer)

DEFAULT_MIN_TOKEN_LENGTH = 3
TOKEN_PATTERN = re.compile(r"(?<!\w)[^\W\d_]{3,}(?!\w)")   # the default policy's pattern
STOPWORDS = frozenset(ENGLISH_STOP_WORDS)
# a token_pattern for programming and product text: "c++", "c#", ".net", "mp3", "x86"
CODE_TOKEN_PATTERN = r"(?<![\w+#])\.?[^\W\d_][\w+#]*"
# a "word" of 5+ Han/kana characters is almost always a clause of unsegmented text
CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{5,}")

# The ranges of the preprocessing parameters, shared by PreprocessingConfig and every model
# (softtopic/models/base.py merges this table into TopicModel's).
PREPROCESSING_CONSTRAINTS = {
    "vocab_size": positive_integer(), "min_df": DOCUMENT_FREQUENCY,
    "max_df": DOCUMENT_FREQUENCY, "min_token_length": positive_integer(),
    "token_pattern": OneOf(None, RegexPattern()),
    "stopwords": OneOf(Choice("english", "none"), Words()),
    "tokenizer": OneOf(None, IsCallable()),
}


@functools.lru_cache(maxsize=64)
def letters_pattern(min_token_length: int) -> re.Pattern:
    """The built-in pattern: runs of `min_token_length` or more letters bounded by non-word
    characters (3 gives TOKEN_PATTERN exactly)."""
    if min_token_length == DEFAULT_MIN_TOKEN_LENGTH:
        return TOKEN_PATTERN
    return re.compile(r"(?<!\w)[^\W\d_]{%d,}(?!\w)" % min_token_length)


@functools.lru_cache(maxsize=64)
def compiled_pattern(token_pattern: str) -> re.Pattern:
    return re.compile(token_pattern)


def stopword_set(stopwords: str | Iterable[str]) -> frozenset[str]:
    """"english": scikit-learn's list; "none": nothing; a list: those words, lowercased."""
    if isinstance(stopwords, str):
        return STOPWORDS if stopwords == "english" else frozenset()
    return frozenset(w.strip().lower() for w in stopwords)


def tokenize(text: str, stopwords: frozenset[str] = STOPWORDS,
             tokenizer: Callable[[str], list[str]] | None = None,
             pattern: re.Pattern = TOKEN_PATTERN) -> list[str]:
    """The shared policy: the matches of `pattern` in the lowercased text (by default the
    lowercase alphabetic tokens of 3+ letters), stopwords removed. A `tokenizer` replaces the
    pattern (its tokens are lowercased, blank ones and stopwords dropped)."""
    if tokenizer is None:
        tokens = pattern.findall(text.lower())
    else:
        tokens = [t.strip().lower() for t in tokenizer(text)]
    return [t for t in tokens if t and t not in stopwords]


@dataclass
class PreprocessingConfig:
    """vocab_size: the top words kept. min_df, max_df: as scikit-learn's CountVectorizer, an int
    is a number of documents, a float in [0, 1] a share of documents (min_df=5: in at least 5
    documents; max_df=1.0: in at most all of them).

    Token policy (module docstring): min_token_length (int >= 1, default 3) of the built-in
    letters-only pattern; token_pattern (None, or a regular expression whose matches in the
    lowercased text are the tokens); stopwords ("english", "none" or a list of words);
    tokenizer (a callable str -> list[str] in place of any pattern, needed for Chinese or
    Japanese; a callable is not saved, so a model fitted with one cannot be saved).
    min_token_length applies to the built-in pattern only: with a token_pattern or a tokenizer
    it must stay 3 (write the length into the pattern)."""

    vocab_size: int = 2000
    min_df: float | int = 1
    max_df: float | int = 1.0
    stopwords: str | list[str] = "english"     # "english", "none" or a list of words
    tokenizer: Callable[[str], list[str]] | None = field(default=None, compare=False)
    min_token_length: int = DEFAULT_MIN_TOKEN_LENGTH
    token_pattern: str | None = None

    _parameter_constraints = PREPROCESSING_CONSTRAINTS

    def validate(self):
        check_params(self, self._parameter_constraints)
        if self.token_pattern is not None and self.tokenizer is not None:
            raise ValueError("parameters token_pattern and tokenizer both given: a tokenizer "
                             "replaces the pattern; pass one of them")
        if self.min_token_length != DEFAULT_MIN_TOKEN_LENGTH and (
                self.token_pattern is not None or self.tokenizer is not None):
            which = "token_pattern" if self.token_pattern is not None else "tokenizer"
            raise ValueError(f"parameter min_token_length={self.min_token_length} applies to "
                             f"the built-in pattern only, but {which} is given; leave "
                             f"min_token_length at {DEFAULT_MIN_TOKEN_LENGTH} and make the "
                             f"{which} produce the tokens you want")

    def to_dict(self) -> dict:
        """The JSON-serialisable settings (the tokenizer, a callable, is not among them; a
        stopword list becomes a sorted list)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tokenizer"}
        if not isinstance(self.stopwords, str):
            out["stopwords"] = sorted(stopword_set(self.stopwords))
        return out

    def policy(self) -> dict | None:
        """What, besides the word list, decides a document's bag of words: None for the
        built-in pattern (at any min_token_length and with any stopwords, the count of a
        vocabulary word is the number of letter runs equal to it); else the token_pattern or
        the tokenizer's name and code."""
        if self.token_pattern is not None:
            return {"token_pattern": self.token_pattern}
        if self.tokenizer is not None:
            return {"tokenizer": callable_identity(self.tokenizer)}
        return None

    def analyzer(self) -> Callable[[str], list[str]]:
        """str -> tokens under this policy."""
        stop = stopword_set(self.stopwords)
        pattern = (compiled_pattern(self.token_pattern) if self.token_pattern is not None
                   else letters_pattern(self.min_token_length))
        return functools.partial(tokenize, stopwords=stop, tokenizer=self.tokenizer,
                                 pattern=pattern)

    @classmethod
    def of(cls, model) -> "PreprocessingConfig":
        """The preprocessing parameters of a model (every model has these seven)."""
        return cls(model.vocab_size, model.min_df, model.max_df, stopwords=model.stopwords,
                   tokenizer=model.tokenizer, min_token_length=model.min_token_length,
                   token_pattern=model.token_pattern)


def callable_identity(fn) -> str:
    """A callable's module and qualified name plus a hash of its code when it has Python code
    (so an edited lambda is not mistaken for the old one); builtins by name only."""
    name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is not None:
        digest = hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()[:16]
        name += f"#{digest}"
    return name


class Vocabulary:
    """The fitted word list and the CSR bag of words it induces."""

    def __init__(self, config: PreprocessingConfig | None = None):
        self.config = config or PreprocessingConfig()
        self.config.validate()
        self.words: list[str] | None = None
        self.notes: list[str] = []
        self._vectorizer: CountVectorizer | None = None
        self._analyze = None

    # The analyzer is a method so a pickled or rebuilt vectorizer sees the same policy.
    def _analyzer(self, text: str) -> list[str]:
        if self._analyze is None:
            self._analyze = self.config.analyzer()
        return self._analyze(text)

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
        """Identifies the vocabulary in view cache keys: the word list, and the token policy
        when it can change a bag of words over the same words (a token_pattern or tokenizer;
        see PreprocessingConfig.policy). For the built-in pattern it is the hash of the word
        list alone, as before the policy was a parameter, so caches stay valid."""
        text = "\n".join(self.words or [])
        policy = self.config.policy()
        if policy is not None:
            text += "\n\0" + json.dumps(policy, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def to_dict(self) -> dict:
        return {"words": self.words, "config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        return cls.from_words(d["words"], PreprocessingConfig(**d["config"]))


def empty_rows(bow: sp.csr_matrix) -> np.ndarray:
    """Indices of documents with no vocabulary word."""
    return np.flatnonzero(np.diff(bow.indptr) == 0)
