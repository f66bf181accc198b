"""BERTopic (Grootendorst 2022) through the official `bertopic` package.

softtopic gives it the cached sentence embeddings of `encoder` (bundled offline default; the
loaded local model is also passed as BERTopic's embedding model, so nothing is downloaded) and a
CountVectorizer with softtopic's fixed vocabulary and tokenizer, so c-TF-IDF is over the shared
vocabulary. UMAP (5 components, 15 neighbours, cosine, min_dist 0, seeded) and HDBSCAN
(min_cluster_size 10, prediction data) are BERTopic's defaults; topics are reduced with
`nr_topics = n_topics + 1` as the soft-label paper's code does (the +1 is the outlier topic -1,
when HDBSCAN leaves outliers), and `calculate_probabilities=True`.

Outputs:
- topic -1 (outliers) is not a topic here: topic_word_ has one row per real topic (log of its
  c-TF-IDF row normalised to sum to one), in BERTopic's order 0..K'-1.
- Fewer topics than asked: HDBSCAN decides the number of clusters, and `nr_topics` can only
  merge topics, never split them, so on small or homogeneous data BERTopic often finds
  K' < n_topics. The outputs then have K' topics, not n_topics: theta is N x K', topic_word_
  K' x V, get_topics() K' lists. Nothing is padded: an invented topic (a uniform or empty row)
  would have arbitrary top words and enter coherence and diversity scores as if it were learned.
  The shortfall is explicit instead: `n_topics_found_` (also `n_topics_`) is K', `n_topics` stays
  what was asked, a `TopicShortfallWarning` (a RuntimeWarning: bertopic silences every
  UserWarning when imported) names both when K' < n_topics, and the saved model and run
  folder (`topics.json`'s n_topics) carry K'. If HDBSCAN finds no cluster at all, fit raises.
- theta_ (training documents): BERTopic's HDBSCAN membership probabilities, renormalised per row.
  Outlier documents keep their soft membership over the real topics (they are not given an
  outlier column); a row with no probability mass gets its assigned topic one-hot, or uniform
  for an outlier. `topic_assignments_` keeps BERTopic's hard labels, -1 included.
- transform(new documents): cosine similarity of the document embedding to each topic's
  embedding (BERTopic's `topic_embeddings_`), clipped at 0 and renormalised (uniform when all are
  <= 0). This is what a BERTopic model saved with safetensors does, and it needs no UMAP/HDBSCAN
  object, so a reloaded model gives identical results.

Persistence: topic embeddings, topic-word weights and theta as tensors; no pickle.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from ...corpus import as_corpus
from ...views.sentence import DEFAULT_ENCODER, load_sentence_encoder
from ...params import Device, Number, OneOf, positive_integer
from ..base import TopicModel
from ._common import document_embeddings, fit_vocabulary, log_rows, require


class TopicShortfallWarning(RuntimeWarning):
    """A model found fewer topics than asked. A RuntimeWarning, not a UserWarning: importing
    bertopic installs a global filter that ignores every UserWarning."""


class BERTopic(TopicModel):
    _parameter_constraints = {
        "min_cluster_size": Number(2, kind="integer"), "n_neighbors": Number(2, kind="integer"),
        "n_components": positive_integer(), "max_seq_length": OneOf(None, positive_integer()),
        "device": Device(),
    }

    def __init__(self, n_topics: int = 50, *, min_cluster_size: int = 10, n_neighbors: int = 15,
                 n_components: int = 5, vocab_size: int = 2000, min_df: float | int = 1,
                 max_df: float | int = 1.0, tokenizer=None,
                 min_token_length: int = 3, token_pattern: str | None = None,
                 stopwords: str | list[str] = "english", encoder: str = DEFAULT_ENCODER,
                 max_seq_length: int | None = 256, device: str | None = None, seed: int = 0,
                 cache_dir: str | None = None, progress: bool = True):
        self.n_topics = n_topics
        self.min_cluster_size = min_cluster_size
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.vocab_size = vocab_size
        self.min_df = min_df
        self.max_df = max_df
        self.tokenizer = tokenizer
        self.min_token_length = min_token_length
        self.token_pattern = token_pattern
        self.stopwords = stopwords
        self.encoder = encoder
        self.max_seq_length = max_seq_length
        self.device = device
        self.seed = seed
        self.cache_dir = cache_dir
        self.progress = progress

    def fit(self, X, y=None):
        bertopic = require("bertopic", "BERTopic")
        umap = require("umap", "BERTopic")
        hdbscan = require("hdbscan", "BERTopic")
        from sklearn.feature_extraction.text import CountVectorizer
        self._validate_params()
        corpus = as_corpus(X)
        self._remember_documents(corpus)
        fit_vocabulary(self, corpus)
        embeddings = document_embeddings(self, corpus)
        vectorizer = CountVectorizer(analyzer=self.vocabulary_._analyzer,
                                     vocabulary={w: i for i, w in
                                                 enumerate(self.vocabulary_.words)})
        model = bertopic.BERTopic(
            embedding_model=load_sentence_encoder(self.encoder, self.device),
            umap_model=umap.UMAP(n_neighbors=self.n_neighbors, n_components=self.n_components,
                                 min_dist=0.0, metric="cosine", random_state=self.seed),
            hdbscan_model=hdbscan.HDBSCAN(min_cluster_size=self.min_cluster_size,
                                          metric="euclidean", cluster_selection_method="eom",
                                          prediction_data=True),
            vectorizer_model=vectorizer, nr_topics=self.n_topics + 1,
            calculate_probabilities=True, verbose=False)
        topics, probs = model.fit_transform(corpus.texts, embeddings=embeddings)
        topics = np.asarray(topics)
        offset = int(model._outliers)          # 1 when row 0 of c-TF-IDF is topic -1
        self.topic_assignments_ = topics
        real = model.c_tf_idf_[offset:].toarray()[:self.n_topics]
        self.n_topics_found_ = self.n_topics_ = real.shape[0]
        if self.n_topics_found_ == 0:
            raise ValueError("BERTopic found no topic: HDBSCAN put every document in the outlier "
                             f"cluster (min_cluster_size={self.min_cluster_size}); lower "
                             "min_cluster_size or give it more documents")
        if self.n_topics_found_ < self.n_topics:
            warnings.warn(f"BERTopic found {self.n_topics_found_} topics, asked for "
                          f"{self.n_topics}: HDBSCAN decides the number of clusters and "
                          "nr_topics can only merge them; theta and topic_word_ have "
                          f"{self.n_topics_found_} topics (not padded; see n_topics_found_)",
                          TopicShortfallWarning, stacklevel=2)
        self.topic_word_ = log_rows(real)
        self.topic_embeddings_ = np.asarray(model.topic_embeddings_[offset:offset + self.n_topics_],
                                            dtype=np.float32)
        self.theta_ = self._theta_from_probabilities(probs, topics)
        self.bertopic_ = model
        return self

    def _theta_from_probabilities(self, probs, topics) -> np.ndarray:
        k = self.n_topics_
        probs = np.zeros((len(topics), k)) if probs is None else np.asarray(probs)[:, :k]
        theta = np.array(probs, dtype=np.float64)
        mass = theta.sum(axis=1)
        for i in np.flatnonzero(mass <= 0):
            if 0 <= topics[i] < k:
                theta[i, topics[i]] = 1.0
            else:
                theta[i] = 1.0 / k
        return (theta / theta.sum(axis=1, keepdims=True)).astype(np.float32)

    def _theta_from_similarity(self, embeddings: np.ndarray) -> np.ndarray:
        e = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
        t = self.topic_embeddings_ / np.maximum(
            np.linalg.norm(self.topic_embeddings_, axis=1, keepdims=True), 1e-12)
        sims = np.clip(e @ t.T, 0, None).astype(np.float64)
        mass = sims.sum(axis=1, keepdims=True)
        sims = np.where(mass > 0, sims / np.where(mass > 0, mass, 1), 1.0 / sims.shape[1])
        return sims.astype(np.float32)

    def transform(self, X) -> np.ndarray:
        self._check_fitted()
        return self._theta_from_similarity(document_embeddings(self, as_corpus(X)))

    def _state_tensors(self):
        tensors = super()._state_tensors()
        tensors["topic_embeddings"] = torch.from_numpy(self.topic_embeddings_)
        tensors["topic_assignments"] = torch.from_numpy(self.topic_assignments_.astype(np.int64))
        return tensors

    def _restore(self, config, tensors):
        super()._restore(config, tensors)
        self.topic_embeddings_ = tensors["topic_embeddings"].numpy()
        self.topic_assignments_ = tensors["topic_assignments"].numpy()
        self.n_topics_found_ = self.n_topics_ = self.topic_word_.shape[0]
