"""FASTopic (Wu et al., NeurIPS 2024) through the official `fastopic` package.

softtopic gives it the shared vocabulary and bag of words (a preprocess object returning them,
instead of TopMost's preprocessing) and the cached sentence embeddings of `encoder` (the bundled
offline all-MiniLM-L6-v2 by default), so nothing is downloaded. Defaults are the package's and
the soft-label paper's: 200 epochs, lr 2e-3, full batch, DT alpha 3, TW alpha 2, theta temp 1.

Outputs: theta is FASTopic's `transform` (a kernel on the distance to topic embeddings,
normalised by training-set statistics, so the training embeddings are kept); topic_word_ is
log of FASTopic's beta (rows sum to one). Documents without a vocabulary word still have an
embedding: they are left out of the bag-of-words reconstruction (FASTopic sees only the others)
and get theta from `transform` like new documents.

Persistence: FASTopic's own `save` uses torch.save (pickle); instead its module's state dict and
the training embeddings are stored in model.safetensors, and a FASTopic object is rebuilt
around them on load.
"""
from __future__ import annotations

import numpy as np
import torch

from ...corpus import as_corpus
from ...views.sentence import DEFAULT_ENCODER
from ...params import Device, OneOf, positive_integer, positive_number
from ..base import TopicModel
from ._common import document_embeddings, fit_vocabulary, log_rows, require


class _FixedPreprocess:
    """FASTopic's preprocess interface, returning softtopic's bag of words and vocabulary."""

    def __init__(self, bow, words):
        self.bow, self.words = bow, words

    def preprocess(self, docs):
        return {"train_bow": self.bow, "vocab": list(self.words)}


class FASTopic(TopicModel):
    _parameter_constraints = {
        "epochs": positive_integer(), "lr": positive_number(), "dt_alpha": positive_number(),
        "tw_alpha": positive_number(), "theta_temp": positive_number(),
        "batch_size": OneOf(None, positive_integer()),
        "max_seq_length": OneOf(None, positive_integer()), "device": Device(),
    }

    def __init__(self, n_topics: int = 50, *, epochs: int = 200, lr: float = 2e-3,
                 dt_alpha: float = 3.0, tw_alpha: float = 2.0, theta_temp: float = 1.0,
                 batch_size: int | None = None, vocab_size: int = 2000,
                 min_df: float | int = 1, max_df: float | int = 1.0, tokenizer=None,
                 min_token_length: int = 3, token_pattern: str | None = None,
                 stopwords: str | list[str] = "english",
                 encoder: str = DEFAULT_ENCODER, max_seq_length: int | None = 256,
                 device: str | None = None, seed: int = 0, cache_dir: str | None = None,
                 progress: bool = True):
        self.n_topics = n_topics
        self.epochs = epochs
        self.lr = lr
        self.dt_alpha = dt_alpha
        self.tw_alpha = tw_alpha
        self.theta_temp = theta_temp
        self.batch_size = batch_size
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

    def _new(self, preprocess):
        fastopic = require("fastopic", "FASTopic")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        return fastopic.FASTopic(self.n_topics, preprocess=preprocess, device=device,
                                 doc_embed_model=_NoEncoder(), DT_alpha=self.dt_alpha,
                                 TW_alpha=self.tw_alpha, theta_temp=self.theta_temp,
                                 low_memory=self.batch_size is not None,
                                 low_memory_batch_size=self.batch_size, verbose=False)

    def fit(self, X, y=None):
        self._validate_params()
        require("fastopic", "FASTopic")   # fail before any work when the package is missing
        corpus = as_corpus(X)
        self._remember_documents(corpus)
        bow = fit_vocabulary(self, corpus)
        embeddings = document_embeddings(self, corpus)
        rows = np.setdiff1d(np.arange(len(corpus)), self.empty_documents_)
        self.fastopic_ = self._new(_FixedPreprocess(bow[rows], self.vocabulary_.words))
        torch.manual_seed(self.seed)
        np.random.seed(self.seed)   # FASTopic shuffles minibatches with numpy's global state
        self.fastopic_.fit([corpus.texts[i] for i in rows], epochs=self.epochs,
                           learning_rate=self.lr, preset_doc_embeddings=embeddings[rows])
        self.topic_word_ = log_rows(self.fastopic_.get_beta())
        self.theta_ = self._theta(embeddings)
        return self

    def _theta(self, embeddings: np.ndarray) -> np.ndarray:
        dev = self.fastopic_.train_doc_embeddings.device
        theta = self.fastopic_.transform(doc_embeddings=torch.as_tensor(embeddings).to(dev))
        return np.asarray(theta, dtype=np.float32)

    def transform(self, X) -> np.ndarray:
        self._check_fitted()
        return self._theta(document_embeddings(self, as_corpus(X)))

    def _state_tensors(self):
        tensors = super()._state_tensors()
        tensors.update({f"fastopic.{k}": v.detach().clone()   # clone: safetensors refuses shared storage
                        for k, v in self.fastopic_.model.state_dict().items()})
        tensors["train_doc_embeddings"] = self.fastopic_.train_doc_embeddings.float().cpu()
        return tensors

    def _restore(self, config, tensors):
        super()._restore(config, tensors)
        train = tensors["train_doc_embeddings"]
        self.fastopic_ = self._new(_FixedPreprocess(None, self.vocabulary_.words))
        self.fastopic_.model.init(len(self.vocabulary_), train.shape[1])
        self.fastopic_.model.load_state_dict(
            {k[len("fastopic."):]: v for k, v in tensors.items() if k.startswith("fastopic.")})
        dev = self.fastopic_.device
        self.fastopic_.model.to(dev)
        self.fastopic_.train_doc_embeddings = train.to(dev)
        self.fastopic_.vocab = list(self.vocabulary_.words)
        self.fastopic_.beta = self.fastopic_.get_beta()


class _NoEncoder:
    """Embeddings always come from softtopic's cache; FASTopic must never encode by itself."""

    def encode(self, docs):
        raise RuntimeError("softtopic passes precomputed embeddings to FASTopic")
