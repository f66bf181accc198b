"""The estimator around the variational backbone: corpus in, topics and theta out.

`NeuralTopicModel` turns a corpus into features (the views a model reads or reconstructs),
builds the backbone from its preset's choices and trains it with the shared trainer. Presets
subclass it and override at most `default_input`, `_build_decoder`, `_build_target` and
`_build_regularizers`; the rest (preprocessing, features, training, inference, persistence) is
the same code for every model.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from ..corpus import Corpus, as_corpus
from ..params import Device, Number, OneOf, Sizes, positive_integer, positive_number
from ..preprocessing import PreprocessingConfig, Vocabulary, empty_rows
from ..training import TrainingConfig, infer, train
from ..views.sentence import DEFAULT_ENCODER, SentenceEmbeddings
from .backbone import VariationalTopicModel
from .base import TopicModel
from .decoders import DECODERS
from .targets import BowReconstruction

# feature name -> function(estimator, corpus, vocabulary, bow) -> {name: array (N rows)}.
# One function may return several arrays from one computation (the LM view gives the hidden
# state and the restricted logits of one forward pass); later modules register theirs here.
FEATURE_PROVIDERS: dict[str, Callable] = {}


def feature_provider(*names: str):
    def register(fn):
        for name in names:
            FEATURE_PROVIDERS[name] = fn
        return fn
    return register


@feature_provider("bow")
def _bow_feature(model, corpus, vocabulary, bow):
    return {"bow": bow}


@feature_provider("bow_norm")
def _normalized_bow_feature(model, corpus, vocabulary, bow):
    """The bag of words divided by document length (ETM's encoder input); empty rows stay 0."""
    lengths = np.asarray(bow.sum(axis=1)).ravel()
    scale = sp.diags(1.0 / np.maximum(lengths, 1.0)).astype(np.float32)
    return {"bow_norm": sp.csr_matrix(scale @ bow, dtype=np.float32)}


@feature_provider("embedding")
def _embedding_feature(model, corpus, vocabulary, bow):
    encoder = SentenceEmbeddings(model.encoder, max_seq_length=model.max_seq_length,
                                 device=model.device, cache_dir=model.cache_dir,
                                 progress=model.progress)
    return {"embedding": encoder(corpus.texts, corpus.content_hash())}


@dataclass
class BuildContext:
    """What component builders may look at: sizes, the vocabulary, the training features (absent
    when a saved model is being rebuilt: builders must then create shapes only)."""
    n_topics: int
    vocabulary: Vocabulary
    feature_dims: dict[str, int]
    features: dict | None = None
    train_rows: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    @property
    def loading(self) -> bool:
        return self.features is None


def parse_input(spec) -> tuple[str, ...]:
    if isinstance(spec, str):
        return tuple(s.strip() for s in spec.split("+") if s.strip())
    return tuple(spec)


class NeuralTopicModel(TopicModel):
    """A variational neural topic model. Use a preset (ProdLDA, ZeroShotTM, CombinedTM, ...) or
    set `input` (e.g. "bow", "embedding", "bow+embedding") and `decoder` directly.

    Documents with no vocabulary word are reported and left out of training. Their theta row is
    the uniform distribution when the encoder reads the bag of words (there is nothing to read);
    when it reads an embedding they get the model's estimate like any document.

    vocab_size, min_df, max_df, tokenizer: the vocabulary (`softtopic.preprocessing`); min_df
    and max_df count documents when ints, share of documents when floats. tokenizer is a
    callable str -> list[str] for text without spaces between words (Chinese, Japanese); a
    model fitted with a callable tokenizer cannot be saved (it is not a JSON value).
    min_token_length, token_pattern, stopwords: the token policy (`softtopic.preprocessing`;
    default: runs of 3+ letters, English stopwords removed), saved with the model.
    """

    default_input = "bow"
    default_decoder = "prodlda"
    encoder_batch_norm = True   # batch norm on mu / log-variance (off for ETM)

    _parameter_constraints = {
        "hidden_sizes": Sizes(), "dropout": Number(0, 1, closed="left"),
        "theta_dropout": Number(0, 1, closed="left"),
        "prior_alpha": OneOf(None, positive_number()),   # None: ETM's N(0, I) prior
        "epochs": positive_integer(),
        "batch_size": Number(2, kind="integer"),   # batch norm needs two documents a batch
        "lr": positive_number(),
        "n_samples": Number(0, kind="integer"),    # 0: theta from the posterior mean
        "max_seq_length": OneOf(None, positive_integer()), "device": Device(),
    }

    def __init__(self, n_topics: int = 50, *, input: str | None = None, decoder: str | None = None,
                 vocab_size: int = 2000, min_df: float | int = 1, max_df: float | int = 1.0,
                 tokenizer: Callable[[str], list[str]] | None = None,
                 min_token_length: int = 3, token_pattern: str | None = None,
                 stopwords: str | list[str] = "english",
                 hidden_sizes: tuple[int, ...] = (200, 200), activation: str = "softplus",
                 dropout: float = 0.2, theta_dropout: float = 0.2, prior_alpha: float = 1.0,
                 learn_prior: bool = True, reduction: str = "sum", epochs: int = 100,
                 batch_size: int = 64, lr: float = 2e-3, lr_schedule: str | None = None,
                 n_samples: int = 20, encoder: str = DEFAULT_ENCODER,
                 max_seq_length: int | None = 256, device: str | None = None, seed: int = 0,
                 cache_dir: str | None = None, progress: bool = True):
        self.n_topics = n_topics
        self.input = input
        self.decoder = decoder
        self.vocab_size = vocab_size
        self.min_df = min_df
        self.max_df = max_df
        self.tokenizer = tokenizer
        self.min_token_length = min_token_length
        self.token_pattern = token_pattern
        self.stopwords = stopwords
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.dropout = dropout
        self.theta_dropout = theta_dropout
        self.prior_alpha = prior_alpha
        self.learn_prior = learn_prior
        self.reduction = reduction
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.n_samples = n_samples
        self.encoder = encoder
        self.max_seq_length = max_seq_length
        self.device = device
        self.seed = seed
        self.cache_dir = cache_dir
        self.progress = progress

    # ------------------------------------------------------------------ preset hooks
    def _build_decoder(self, ctx: BuildContext):
        kind = self.decoder or self.default_decoder
        if kind not in DECODERS:
            raise ValueError(f"decoder must be one of {sorted(DECODERS)}, got {kind!r}")
        return DECODERS[kind](ctx.n_topics, ctx.vocab_size)

    def _target_feature(self) -> str:
        """The feature the decoder reconstructs (read by the target built below)."""
        return "bow"

    def _extra_features(self) -> tuple[str, ...]:
        """Features only regularisers (or a target reading several arrays) read during training;
        never needed at inference."""
        return ()

    def _build_target(self, ctx: BuildContext):
        return BowReconstruction()

    def _build_regularizers(self, ctx: BuildContext) -> list:
        return []

    def _training_rows(self, n_documents: int) -> np.ndarray:
        """Documents that take part in training: all but those with no vocabulary word."""
        return np.setdiff1d(np.arange(n_documents), self.empty_documents_)

    # ------------------------------------------------------------------ validation
    def _check_input_known(self, given: dict | None):
        for name in self._input_features():
            if name not in FEATURE_PROVIDERS and name not in (given or {}):
                raise ValueError(f"input feature {name!r} is unknown; known: "
                                 f"{sorted(FEATURE_PROVIDERS)} (or pass it in features=)")

    def _input_features(self) -> tuple[str, ...]:
        return parse_input(self.input or self.default_input)

    # ------------------------------------------------------------------ features
    def _compute_features(self, corpus: Corpus, bow, names, given: dict | None = None) -> dict:
        """The arrays `names`, taken from `given` (precomputed by the user) when there, else
        computed by their providers."""
        features = self._check_given(given or {}, len(corpus))
        for name in sorted(names):
            if name not in features:
                if name not in FEATURE_PROVIDERS:
                    raise ValueError(f"feature {name!r} has no provider and was not passed in "
                                     f"features=; known: {sorted(FEATURE_PROVIDERS)}")
                features.update(FEATURE_PROVIDERS[name](self, corpus, self.vocabulary_, bow))
        return features

    def _check_given(self, given: dict, n_documents: int) -> dict:
        """Validate precomputed features: 2-D, one row per document; a reconstruction target's
        columns follow the vocabulary (`vocabulary_for(X)` gives its words in order)."""
        checked = {}
        for name, array in given.items():
            if not hasattr(array, "shape") or len(array.shape) != 2:
                array = np.asarray(array, dtype=np.float32)
            if array.ndim != 2 or array.shape[0] != n_documents:
                raise ValueError(f"features[{name!r}] must be a 2-D array with one row per "
                                 f"document ({n_documents}), got shape {array.shape}")
            if name == self._target_feature() and array.shape[1] != len(self.vocabulary_):
                raise ValueError(
                    f"features[{name!r}] is the reconstruction target and must have one column "
                    f"per vocabulary word ({len(self.vocabulary_)}), in the order of "
                    f"model.vocabulary_for(texts); got {array.shape[1]} columns")
            checked[name] = array
        return checked

    def vocabulary_for(self, X) -> list[str]:
        """The vocabulary words (in column order) that `fit(X)` will use with these settings;
        precomputed target features (e.g. an LM's restricted logits) must follow this order."""
        vocabulary = Vocabulary(PreprocessingConfig.of(self))
        vocabulary.fit_transform(as_corpus(X).texts)
        return list(vocabulary.words)

    @staticmethod
    def _feature_dims(features: dict) -> dict[str, int]:
        return {name: int(a.shape[1]) for name, a in features.items() if a.ndim == 2}

    def _build_module(self, ctx: BuildContext) -> VariationalTopicModel:
        torch.manual_seed(self.seed)  # the initial weights are part of what the seed fixes
        projections = self._input_projections(ctx)
        input_dim = sum(projections[f][1] if f in projections else ctx.feature_dims[f]
                        for f in self._input_features())
        return VariationalTopicModel(
            self._input_features(), input_dim, self.n_topics, self._build_decoder(ctx),
            self._build_target(ctx), self._build_regularizers(ctx), tuple(self.hidden_sizes),
            self.activation, self.dropout, self.theta_dropout, self.prior_alpha,
            self.learn_prior, self.reduction, encoder_batch_norm=self.encoder_batch_norm,
            input_projections=projections)

    def _input_projections(self, ctx: BuildContext) -> dict[str, tuple[int, int]]:
        """{feature: (in_dim, out_dim)} linear layers applied to input features before they are
        concatenated; none by default."""
        return {}

    # ------------------------------------------------------------------ fit / transform
    def fit(self, X, y=None, features: dict | None = None):
        """Fit on documents (list of str, a Corpus, or a corpus file path).

        features: optional precomputed arrays by feature name, one row per document (e.g.
        {"lm_hidden": H, "lm_logits": L} from an LM run elsewhere); they are used instead of
        computing those features. A target's columns follow `vocabulary_for(X)`.
        """
        self._validate_params()
        self._check_input_known(features)
        corpus = as_corpus(X)
        self._remember_documents(corpus)
        self.vocabulary_ = Vocabulary(PreprocessingConfig.of(self))
        bow = self.vocabulary_.fit_transform(corpus.texts)
        self.empty_documents_ = empty_rows(bow)
        rows = self._training_rows(len(corpus))
        self._report_empty(corpus)
        if len(rows) < 2 or self.n_topics > len(rows):
            raise ValueError(f"n_topics={self.n_topics} needs at least as many documents with "
                             f"vocabulary words; this corpus has {len(rows)} of {len(corpus)}")
        if self.n_topics > len(self.vocabulary_):
            raise ValueError(f"n_topics={self.n_topics} exceeds the vocabulary size "
                             f"({len(self.vocabulary_)} words)")
        needed = {*self._input_features(), self._target_feature(), *self._extra_features()}
        features = self._compute_features(corpus, bow, needed, features)
        ctx = BuildContext(self.n_topics, self.vocabulary_, self._feature_dims(features),
                           features, rows)
        self.module_ = self._build_module(ctx)
        self.history_ = train(self.module_, features, rows, self._training_config())
        self.feature_dims_ = ctx.feature_dims
        self.topic_word_ = self.module_.topic_word().cpu().numpy().astype(np.float32)
        self.theta_ = self._theta(features, len(corpus), self.empty_documents_)
        self._after_fit(ctx)
        return self

    def _after_fit(self, ctx: BuildContext):
        """Hook for presets that derive something from the trained module (e.g. topic groups)."""

    def _training_config(self) -> TrainingConfig:
        return TrainingConfig(self.epochs, self.batch_size, self.lr, (0.99, 0.99),
                              self.lr_schedule, self.seed, self.device, self.progress)

    def _report_empty(self, corpus: Corpus):
        n = len(self.empty_documents_)
        if n and self.progress:
            ids = [corpus.ids[i] for i in self.empty_documents_[:10]]
            print(f"softtopic: {n} of {len(corpus)} documents have no vocabulary word and are "
                  f"left out of training (ids: {ids}{' ...' if n > 10 else ''}); see "
                  "model.empty_documents_", file=sys.stderr)

    def _theta(self, features: dict, n_documents: int, empty: np.ndarray) -> np.ndarray:
        theta = infer(self.module_, features, np.arange(n_documents), self.n_samples, self.seed,
                      self.device)
        if any(f.startswith("bow") for f in self._input_features()) and len(empty):
            theta[empty] = 1.0 / self.n_topics
        return theta / theta.sum(axis=1, keepdims=True)

    def fit_transform(self, X, y=None, features: dict | None = None) -> np.ndarray:
        return self.fit(X, y, features=features).theta_

    def transform(self, X, features: dict | None = None) -> np.ndarray:
        """theta (M x K) for new documents; repeatable (sampling noise is seeded).
        features: precomputed input arrays for these documents, as in `fit`."""
        self._check_fitted()
        corpus = as_corpus(X)
        bow = self.vocabulary_.transform(corpus.texts)
        features = self._compute_features(corpus, bow, self._input_features(), features)
        return self._theta(features, len(corpus), empty_rows(bow))

    # ------------------------------------------------------------------ persistence
    def _state_tensors(self):
        tensors = super()._state_tensors()
        tensors.update({f"module.{k}": v for k, v in self.module_.state_dict().items()})
        return tensors

    def _state_config(self):
        return {**super()._state_config(), "feature_dims": self.feature_dims_,
                "history": {"final_loss": self.history_["loss"][-1] if self.history_["loss"]
                            else None, "seconds": float(sum(self.history_["seconds"]))}}

    def _restore(self, config, tensors):
        super()._restore(config, tensors)
        self.feature_dims_ = config["feature_dims"]
        self.history_ = {"loss": [], "parts": [], "seconds": []}
        ctx = BuildContext(self.n_topics, self.vocabulary_, self.feature_dims_)
        self.module_ = self._build_module(ctx)
        state = {k[len("module."):]: v for k, v in tensors.items() if k.startswith("module.")}
        self.module_.load_state_dict(state)
        self.module_.eval()
