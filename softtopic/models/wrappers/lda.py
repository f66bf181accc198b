"""LDA (Blei et al. 2003) with gensim's online variational Bayes, behind the estimator API.

Defaults are OCTIS's LDA (the soft-label paper ran LDA through OCTIS), which are gensim's,
except passes: chunks of 2,000 documents, update every chunk, symmetric alpha = 1/K, eta = 1/K
(gensim's default for eta=None), decay 0.5, offset 1, 50 E-step iterations, gamma threshold
1e-3. OCTIS leaves random_state unset; here it is the seed, so runs repeat.

passes is 5, not gensim's 1: on a corpus smaller than a chunk one pass is one variational
update, far from converged (on tests/planted.py's 600 documents mixing 2 of 6 topics, one pass
recovered 1-2 of the 6 planted topics over seeds 0-2, five passes all 6; 10, 20 and 50 passes
the same as 5). The paper's benchmark configs (configs/paper-*.yaml) set passes: 1, as OCTIS.

Outputs: theta is the normalised variational Dirichlet parameter gamma of each document
(gensim's `inference`, seeded at every call, so `transform` repeats); topic_word_ is log of the
topic-word distribution (rows of gensim's `get_topics()`), so `topic_word_distribution()` is that
distribution exactly. Documents without a vocabulary word are left out of training and get a
uniform theta.

Persistence: no pickle. The learned state is gensim's sufficient statistics (K x V), alpha and
eta, saved as tensors; loading rebuilds an LdaModel around them.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from ...corpus import as_corpus
from ...params import Number, non_negative_number, positive_integer, positive_number
from ..base import TopicModel
from ._common import fit_vocabulary


def _gensim_corpus(bow):
    from gensim.matutils import Sparse2Corpus
    return Sparse2Corpus(bow, documents_columns=False)


class LDA(TopicModel):
    _parameter_constraints = {
        "passes": positive_integer(), "chunksize": positive_integer(),
        "update_every": Number(0, kind="integer"),   # 0: batch learning
        "decay": Number(0, 1, closed="right"), "offset": non_negative_number(),
        "iterations": positive_integer(), "gamma_threshold": positive_number(),
    }

    def __init__(self, n_topics: int = 50, *, passes: int = 5, chunksize: int = 2000,
                 update_every: int = 1, alpha: str | float = "symmetric",
                 eta: str | float | None = None, decay: float = 0.5, offset: float = 1.0,
                 iterations: int = 50, gamma_threshold: float = 1e-3, vocab_size: int = 2000,
                 min_df: float | int = 1, max_df: float | int = 1.0, tokenizer=None,
                 min_token_length: int = 3, token_pattern: str | None = None,
                 stopwords: str | list[str] = "english", seed: int = 0,
                 progress: bool = True):
        self.n_topics = n_topics
        self.passes = passes
        self.chunksize = chunksize
        self.update_every = update_every
        self.alpha = alpha
        self.eta = eta
        self.decay = decay
        self.offset = offset
        self.iterations = iterations
        self.gamma_threshold = gamma_threshold
        self.vocab_size = vocab_size
        self.min_df = min_df
        self.max_df = max_df
        self.tokenizer = tokenizer
        self.min_token_length = min_token_length
        self.token_pattern = token_pattern
        self.stopwords = stopwords
        self.seed = seed
        self.progress = progress

    def _new_lda(self, **kwargs):
        from gensim.models import LdaModel
        id2word = dict(enumerate(self.vocabulary_.words))
        return LdaModel(num_topics=self.n_topics, id2word=id2word, chunksize=self.chunksize,
                        passes=self.passes, update_every=self.update_every, decay=self.decay,
                        offset=self.offset, iterations=self.iterations,
                        gamma_threshold=self.gamma_threshold, eval_every=None,
                        random_state=self.seed, **kwargs)

    def fit(self, X, y=None):
        self._validate_params()
        corpus = as_corpus(X)
        self._remember_documents(corpus)
        bow = fit_vocabulary(self, corpus)
        rows = np.setdiff1d(np.arange(bow.shape[0]), self.empty_documents_)
        if len(rows) < 1:
            raise ValueError("no document has a vocabulary word; LDA has nothing to fit")
        level = logging.getLogger("gensim").level
        if not self.progress:
            logging.getLogger("gensim").setLevel(logging.WARNING)
        try:
            self.lda_ = self._new_lda(corpus=_gensim_corpus(bow[rows]), alpha=self.alpha,
                                      eta=self.eta)
        finally:
            logging.getLogger("gensim").setLevel(level)
        self._set_outputs()
        self.theta_ = self._theta(bow)
        return self

    def _set_outputs(self):
        topics = self.lda_.get_topics().astype(np.float64)   # K x V, rows sum to 1
        self.topic_word_ = np.log(np.maximum(topics, np.finfo(np.float64).tiny)).astype(
            np.float32)

    def _theta(self, bow) -> np.ndarray:
        """Normalised gamma per document; the E-step's random init is reseeded at every call."""
        self.lda_.random_state = np.random.RandomState(self.seed)
        theta = np.full((bow.shape[0], self.n_topics), 1.0 / self.n_topics, dtype=np.float64)
        rows = np.flatnonzero(np.diff(bow.indptr) > 0)
        for start in range(0, len(rows), self.chunksize):
            chunk = rows[start:start + self.chunksize]
            gamma, _ = self.lda_.inference(list(_gensim_corpus(bow[chunk])))
            theta[chunk] = gamma / gamma.sum(axis=1, keepdims=True)
        return theta.astype(np.float32)

    def transform(self, X) -> np.ndarray:
        self._check_fitted()
        return self._theta(self.vocabulary_.transform(as_corpus(X).texts))

    # ------------------------------------------------------------------ persistence
    def _state_tensors(self):
        tensors = super()._state_tensors()
        tensors.update({
            "lda.sstats": torch.from_numpy(np.ascontiguousarray(self.lda_.state.sstats)),
            "lda.alpha": torch.from_numpy(np.ascontiguousarray(self.lda_.alpha)),
            "lda.eta": torch.from_numpy(np.ascontiguousarray(self.lda_.eta))})
        return tensors

    def _state_config(self):
        return {**super()._state_config(), "lda_numdocs": int(self.lda_.state.numdocs),
                "lda_num_updates": int(self.lda_.num_updates)}

    def _restore(self, config, tensors):
        super()._restore(config, tensors)
        lda = self._new_lda(alpha=tensors["lda.alpha"].numpy().astype(np.float64),
                            eta=tensors["lda.eta"].numpy().astype(np.float64))
        lda.state.sstats = tensors["lda.sstats"].numpy().astype(lda.state.sstats.dtype)
        lda.state.numdocs = config["lda_numdocs"]
        lda.num_updates = config["lda_num_updates"]
        lda.sync_state()   # expElogbeta from the restored statistics
        self.lda_ = lda
