"""The estimator around the variational backbone: corpus in, topics and theta out.

`NeuralTopicModel` turns a corpus into features (the views a model reads or reconstructs),
builds the backbone from its preset's choices and trains it with the shared trainer. Presets
subclass it and override at most `default_input`, `_build_decoder`, `_build_target` and
`_build_regularizers`; the rest (preprocessing, features, training, inference, persistence) is
the same code for every model.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from ..corpus import Corpus, as_corpus
from ..params import (Choice, Device, Number, OneOf, Sizes, non_negative_number, positive_integer,
                      positive_number)
from ..preprocessing import PreprocessingConfig, Vocabulary, empty_rows
from ..streaming import TextsNotKept, _npy_header
from ..training import MappedPages, Trainer, TrainingConfig, infer
from ..views.sentence import DEFAULT_ENCODER, SentenceEmbeddings
from .backbone import MU_BATCH_NORMS, VariationalTopicModel
from .base import TopicModel
from .decoders import DECODERS
from .partition import Partition, kmeans_partition
from .regularizers import ClusterAssignmentRegularizer
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


# feature name -> function(estimator, corpus, features, bow) -> {name: array}: a feature computed
# from the fit's other features (e.g. the neighbourhood bag of words, from the input's nearest
# neighbours; the soft-label target, from the teacher's logits and those words), after them and
# after the derived features named in `after`.
DERIVED_FEATURES: dict[str, Callable] = {}


def derived_feature(*names: str, after: tuple[str, ...] = ()):
    def register(fn):
        fn.after = after
        for name in names:
            DERIVED_FEATURES[name] = fn
        return fn
    return register


def derived_order(names) -> list[str]:
    """`names` (derived features) ordered so that each comes after those it is derived from."""
    ordered: list[str] = []

    def visit(name):
        if name not in ordered:
            for earlier in DERIVED_FEATURES[name].after:
                if earlier in names:
                    visit(earlier)
            ordered.append(name)

    for name in sorted(names):
        visit(name)
    return ordered


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


def _npy_header_placeholder(shape=(0, 0)) -> bytes:
    return _npy_header(np.float32, shape)


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
    mu_batch_norm: what follows the posterior mean's linear map: "fixed" (batch norm without
    affine parameters, CTM's; topics come out of about equal size), "scale" (a learned scale
    per topic after it: topic sizes can follow the data), "affine" (scale and shift) or "none";
    None (default) is the preset's reference choice ("fixed", or "none" for ETM).
    cluster_weight: weight of the k-means cluster term (`ClusterAssignmentRegularizer`): the
    topic of each training document's k-means cluster (K clusters of the encoder's input, see
    cluster_neighbours) must lead its posterior mean by a margin, so theta's argmax partitions
    the documents as well as the input does; 0 (default) turns it off. Needs a model whose
    encoder reads one feature.
    cluster_neighbours: k-means runs on the input smoothed over each training document's
    cluster_neighbours - 1 nearest neighbours (twice averaged, "cluster_input",
    `softtopic.models.neighbourhood`), which it partitions better than the input itself; 1 = the
    input as it is (no neighbour search: for millions of documents; needs cluster_oversplit=1).
    cluster_oversplit: k-means first cuts cluster_oversplit x K cells, which are merged to K by
    greedy modularity on the same neighbours' graph and refined by k-means, and a cell the
    refined boundary cuts no better than a random split is kept whole
    (`softtopic.models.partition`): groups of very unequal size stay whole; 1 (default) = plain
    k-means; the soft-label model's default is 3.
    """

    default_input = "bow"
    default_decoder = "prodlda"
    # models saved before the cluster term (issue 10, round 7) and its neighbourhood (round 8)
    # and its merged partition (round 10)
    _parameters_added_later = {"cluster_weight": 0.0, "cluster_neighbours": 1,
                               "cluster_oversplit": 1}
    encoder_batch_norm = True   # batch norm on mu / log-variance (off for ETM)

    _parameter_constraints = {
        "hidden_sizes": Sizes(), "dropout": Number(0, 1, closed="left"),
        "theta_dropout": Number(0, 1, closed="left"),
        "prior_alpha": OneOf(None, positive_number()),   # None: ETM's N(0, I) prior
        "mu_batch_norm": OneOf(None, Choice(*MU_BATCH_NORMS)),
        "cluster_weight": non_negative_number(), "cluster_neighbours": positive_integer(),
        "cluster_oversplit": positive_integer(),
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
                 learn_prior: bool = True, reduction: str = "sum",
                 mu_batch_norm: str | None = None, cluster_weight: float = 0.0,
                 cluster_neighbours: int = 10, cluster_oversplit: int = 1, epochs: int = 100,
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
        self.mu_batch_norm = mu_batch_norm
        self.cluster_weight = cluster_weight
        self.cluster_neighbours = cluster_neighbours
        self.cluster_oversplit = cluster_oversplit
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
        return tuple(sorted(self._neighbourhood_sizes().keys() & {"cluster_input",
                                                                   "neighbour_graph"}))

    def _neighbourhood_sizes(self) -> dict[str, int]:
        """{derived neighbourhood feature: k} for those this model reads (`neighbourhood`)."""
        if not self.cluster_weight or self.cluster_neighbours == 1:
            return {}
        sizes = {"cluster_input": self.cluster_neighbours}
        if self.cluster_oversplit > 1:
            sizes["neighbour_graph"] = self.cluster_neighbours
        return sizes

    def _neighbour_feature(self) -> str:
        """The feature whose cosine finds a document's neighbours: the first input feature."""
        return self._input_features()[0]

    def _build_target(self, ctx: BuildContext):
        return BowReconstruction()

    def _build_regularizers(self, ctx: BuildContext) -> list:
        return [self._cluster_regularizer(ctx)] if self.cluster_weight else []

    def _cluster_feature(self) -> str:
        """What the cluster term's k-means reads: the smoothed input, or the input itself."""
        return ("cluster_input" if "cluster_input" in self._neighbourhood_sizes()
                else self._input_features()[0])

    def _cluster_regularizer(self, ctx: BuildContext) -> ClusterAssignmentRegularizer:
        feature = self._cluster_feature()
        if ctx.loading:   # shapes only (the smoothed input is as wide as the input itself);
            # the saved state holds the partition
            width = ctx.feature_dims[self._input_features()[0]]
            partition = Partition(np.zeros((self.n_topics, width), dtype=np.float32),
                                  np.zeros((0, width), dtype=np.float32), np.zeros(0, np.int64))
        else:
            partition = kmeans_partition(ctx.features[feature], self.n_topics, self.seed,
                                         rows=ctx.train_rows,
                                         graph=ctx.features.get("neighbour_graph"),
                                         oversplit=self.cluster_oversplit)
        return ClusterAssignmentRegularizer(self.cluster_weight, feature,
                                            torch.from_numpy(partition.centroids),
                                            cells=torch.from_numpy(partition.cells),
                                            cell_cluster=torch.from_numpy(partition.cell_cluster))

    def _training_rows(self, n_documents: int) -> np.ndarray:
        """Documents that take part in training: all but those with no vocabulary word."""
        return np.setdiff1d(np.arange(n_documents), self.empty_documents_)

    # ------------------------------------------------------------------ validation
    def _validate_params(self):
        super()._validate_params()
        inputs = self._input_features()
        if self.cluster_weight and len(inputs) != 1:
            raise ValueError(f"cluster_weight needs an encoder that reads one feature; "
                             f"{type(self).__name__} reads {'+'.join(inputs)}")
        if self.cluster_weight and self.cluster_oversplit > 1 and self.cluster_neighbours == 1:
            raise ValueError(f"cluster_oversplit={self.cluster_oversplit} merges k-means cells "
                             "along the nearest-neighbour graph, which cluster_neighbours=1 "
                             "turns off; set cluster_oversplit=1 for plain k-means")

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
        derived = derived_order({n for n in names if n in DERIVED_FEATURES and n not in features})
        for name in sorted(set(names) - set(derived)):
            if name not in features:
                if name not in FEATURE_PROVIDERS:
                    raise ValueError(f"feature {name!r} has no provider and was not passed in "
                                     f"features=; known: {sorted(FEATURE_PROVIDERS)}")
                try:
                    features.update(FEATURE_PROVIDERS[name](self, corpus, self.vocabulary_, bow))
                except TextsNotKept:
                    raise ValueError(
                        f"feature {name!r} is computed from the texts, which a streamed corpus "
                        f"({corpus.source}) does not hold in memory; compute it separately and "
                        "pass it in features= (a memory-mapped array is read in minibatches)"
                    ) from None
        for name in derived:
            if name not in features:   # one function may give several derived arrays; those
                # passed in features= are kept
                for key, array in DERIVED_FEATURES[name](self, corpus, features, bow).items():
                    features.setdefault(key, array)
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
        corpus = as_corpus(X)
        if getattr(corpus, "is_stream", False):
            corpus.fit_vocabulary(vocabulary)      # one pass over the file, no bag of words
        else:
            vocabulary.fit_transform(corpus.texts)
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
            input_projections=projections, mu_batch_norm=self.mu_batch_norm)

    def _input_projections(self, ctx: BuildContext) -> dict[str, tuple[int, int]]:
        """{feature: (in_dim, out_dim)} linear layers applied to input features before they are
        concatenated; none by default."""
        return {}

    # ------------------------------------------------------------------ fit / transform
    def fit(self, X, y=None, features: dict | None = None):
        """Fit on documents (list of str, a Corpus, a corpus file path, or a corpus file to
        stream from disk: `softtopic.stream_corpus(path)`).

        features: optional precomputed arrays by feature name, one row per document (e.g.
        {"lm_hidden": H, "lm_logits": L} from an LM run elsewhere; memory maps are read in
        minibatches); they are used instead of computing those features. A target's columns
        follow `vocabulary_for(X)`.

        A streamed corpus (`softtopic.streaming`) is read in two passes and never held in
        memory: the bag of words is a memory-mapped CSR matrix on disk, `theta_` a memory map
        in the stream's work folder, `document_ids_` ids on disk, and `documents_` None (the
        texts are not kept). The fitted model equals the one fitted in memory (same seed).
        """
        self._validate_params()
        self._check_input_known(features)
        corpus = as_corpus(X)
        self.vocabulary_ = Vocabulary(PreprocessingConfig.of(self))
        bow = corpus.fit_bag_of_words(self.vocabulary_)
        self._remember_documents(corpus)
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
        self._trainer = Trainer(self.module_, self._training_config())
        self.history_ = self._trainer.run(features, rows, self.epochs)
        self.feature_dims_ = ctx.feature_dims
        self.topic_word_ = self.module_.topic_word().cpu().numpy().astype(np.float32)
        theta = corpus.new_array("theta", (len(corpus), self.n_topics))
        self.theta_ = self._theta(features, len(corpus), self.empty_documents_, out=theta)
        self._after_fit(ctx)
        return self

    # ------------------------------------------------------------------ online training
    def partial_fit(self, X, y=None, vocabulary=None, features: dict | None = None):
        """Continue training on new documents: one pass (epoch) over X, with the same module
        and optimiser (Adam state, shuffling generator) as the calls before.

        The first call fixes the vocabulary: from `vocabulary` (a list of words or a
        `Vocabulary`) when given, else from these documents with the model's vocab_size /
        min_df / max_df; later calls keep it (their words outside it are ignored). A model
        fitted with `fit` (in this session) continues with its own optimiser; a loaded one
        with a new optimiser. lr_schedule is not applied (a stream has no planned length).
        After a call, theta_, document_ids_, documents_ and empty_documents_ describe that
        call's documents; topic_word_ is the model so far; history_ gathers every epoch.
        """
        corpus = as_corpus(X)
        first = getattr(self, "module_", None) is None
        if first:
            self._validate_params()
            self._check_input_known(features)
            self.vocabulary_ = self._given_vocabulary(vocabulary)
            if self.vocabulary_ is None:
                self.vocabulary_ = Vocabulary(PreprocessingConfig.of(self))
                bow = corpus.fit_bag_of_words(self.vocabulary_)
            else:
                bow = self._bag_of_words(corpus)
        else:
            given = self._given_vocabulary(vocabulary)
            if given is not None and given.words != self.vocabulary_.words:
                raise ValueError("vocabulary= differs from the vocabulary the first partial_fit "
                                 f"fixed ({len(self.vocabulary_)} words); a model's vocabulary "
                                 "cannot change (pass no vocabulary after the first call)")
            bow = self._bag_of_words(corpus)
        self._remember_documents(corpus)
        self.empty_documents_ = empty_rows(bow)
        rows = self._training_rows(len(corpus))
        if len(rows) < 2:
            raise ValueError(f"partial_fit needs at least two documents with vocabulary words; "
                             f"these have {len(rows)} of {len(corpus)}")
        needed = {*self._input_features(), self._target_feature(), *self._extra_features()}
        features = self._compute_features(corpus, bow, needed, features)
        dims = self._feature_dims(features)
        if first:
            if self.n_topics > len(self.vocabulary_):
                raise ValueError(f"n_topics={self.n_topics} exceeds the vocabulary size "
                                 f"({len(self.vocabulary_)} words)")
            ctx = BuildContext(self.n_topics, self.vocabulary_, dims, features, rows)
            self.module_ = self._build_module(ctx)
            self.feature_dims_ = ctx.feature_dims
            self.history_ = {"loss": [], "parts": [], "seconds": []}
        else:
            changed = {k: (self.feature_dims_[k], v) for k, v in dims.items()
                       if k in self.feature_dims_ and self.feature_dims_[k] != v}
            if changed:
                raise ValueError(f"features have other widths than in the first call "
                                 f"(name: (before, now)): {changed}")
        if getattr(self, "_trainer", None) is None or self._trainer.module is not self.module_:
            config = self._training_config()
            config.lr_schedule = None
            self._trainer = Trainer(self.module_, config)
        step = self._trainer.run(features, rows, 1)
        for key in self.history_:
            self.history_[key].extend(step[key])
        self.topic_word_ = self.module_.topic_word().cpu().numpy().astype(np.float32)
        theta = corpus.new_array("theta", (len(corpus), self.n_topics))
        self.theta_ = self._theta(features, len(corpus), self.empty_documents_, out=theta)
        return self

    def _given_vocabulary(self, vocabulary) -> Vocabulary | None:
        if vocabulary is None:
            return None
        if isinstance(vocabulary, Vocabulary):
            if vocabulary.words is None:
                raise ValueError("vocabulary= is a Vocabulary that is not fitted yet")
            return vocabulary
        if isinstance(vocabulary, str) or not all(isinstance(w, str) for w in vocabulary):
            raise ValueError("vocabulary= must be a list of words (str) or a Vocabulary")
        words = list(vocabulary)
        if len(set(words)) != len(words):
            raise ValueError("vocabulary= has repeated words")
        if not words:
            raise ValueError("vocabulary= is empty")
        return Vocabulary.from_words(words, PreprocessingConfig.of(self))

    def _bag_of_words(self, corpus):
        if getattr(corpus, "is_stream", False):
            raise ValueError("partial_fit takes documents in memory (a list of texts or a "
                             "Corpus) after the vocabulary is fixed; read a file in blocks "
                             "with softtopic.stream_corpus(path).blocks(n)")
        return self.vocabulary_.transform(corpus.texts)

    # ------------------------------------------------------------------ streamed transform
    def transform_file(self, X, out, chunk_documents: int = 16384,
                       features: dict | None = None) -> np.ndarray:
        """theta for the documents of a corpus file, read in blocks of `chunk_documents` and
        written in chunks to the .npy file `out` (a temporary name, renamed when complete);
        returns it memory-mapped. Equals `transform` on the same documents in memory.
        X: a path or a `softtopic.stream_corpus(...)` (for column names). features: precomputed
        input arrays with one row per document of the file (memory maps are read block by
        block); input features not given are computed per block, as `transform` would."""
        from ..streaming import CorpusStream
        from ..files import temporary_path
        self._check_fitted()
        stream = X if isinstance(X, CorpusStream) else CorpusStream(X)
        out = Path(out)
        batch = 2048   # infer's batch: blocks of a multiple of it draw the same noise
        chunk_documents = max(batch, chunk_documents // batch * batch)
        generator = torch.Generator().manual_seed(self.seed)
        tmp = temporary_path(out)
        file = open(tmp, "wb")
        n = 0
        try:
            file.write(_npy_header_placeholder())
            for texts in stream.blocks(chunk_documents):
                corpus = Corpus(texts)
                bow = self.vocabulary_.transform(texts)
                given = {k: v[n:n + len(texts)] for k, v in (features or {}).items()}
                block = self._compute_features(corpus, bow, self._input_features(), given)
                theta = self._theta(block, len(texts), empty_rows(bow), generator=generator)
                file.write(np.ascontiguousarray(theta, np.float32).tobytes())
                n += len(texts)
            if features and any(len(v) != n for v in features.values()):
                raise ValueError(f"features have {[len(v) for v in features.values()]} rows; "
                                 f"{stream.path} has {n} documents")
            file.seek(0)
            file.write(_npy_header_placeholder((n, self.n_topics)))
            file.flush()
            os.fsync(file.fileno())
            file.close()
            os.replace(tmp, out)
        except BaseException:
            file.close()
            tmp.unlink(missing_ok=True)
            raise
        return np.load(out, mmap_mode="r")

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

    def _theta(self, features: dict, n_documents: int, empty: np.ndarray,
               out: np.ndarray | None = None, generator=None) -> np.ndarray:
        """theta of documents 0..n-1 of `features`, written into `out` when given (a memory map
        for a streamed corpus) and normalised in place, block by block."""
        theta = infer(self.module_, features, np.arange(n_documents), self.n_samples, self.seed,
                      self.device, out=out, generator=generator)
        if any(f.startswith("bow") for f in self._input_features()) and len(empty):
            theta[empty] = 1.0 / self.n_topics
        pages = MappedPages(theta, every=1)
        for start in range(0, n_documents, 65536):
            block = theta[start:start + 65536]
            block /= block.sum(axis=1, keepdims=True)
            pages.tick()
        if isinstance(theta, np.memmap):
            theta.flush()
        return theta

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
