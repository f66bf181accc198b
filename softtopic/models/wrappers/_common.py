"""What the wrapped embedding-based baselines (FASTopic, BERTopic) share: the optional import
with a clear message, softtopic's vocabulary, and the cached sentence embeddings."""
from __future__ import annotations

import importlib

import numpy as np

from ...corpus import Corpus
from ...preprocessing import PreprocessingConfig, Vocabulary, empty_rows
from ...views.sentence import SentenceEmbeddings


def require(module: str, model: str):
    """Import an optional package, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{model} needs the package {module!r}, which is not installed "
                          f"({e}). Install the baselines extra: pip install 'softtopic[baselines]'"
                          ) from None


def fit_vocabulary(model, corpus: Corpus):
    """Sets vocabulary_ and empty_documents_ (the shared preprocessing); returns the CSR BoW."""
    model.vocabulary_ = Vocabulary(PreprocessingConfig.of(model))
    bow = model.vocabulary_.fit_transform(corpus.texts)
    model.empty_documents_ = empty_rows(bow)
    return bow


def document_embeddings(model, corpus: Corpus) -> np.ndarray:
    """The bundled (or chosen) sentence encoder's embeddings, cached on disk."""
    view = SentenceEmbeddings(model.encoder, max_seq_length=model.max_seq_length,
                              device=model.device, cache_dir=model.cache_dir,
                              progress=model.progress)
    return np.asarray(view(corpus.texts, corpus.content_hash()), dtype=np.float32)


def log_rows(weights: np.ndarray) -> np.ndarray:
    """log of rows normalised to sum to one (so the base class's row softmax returns them)."""
    w = np.maximum(np.asarray(weights, dtype=np.float64), 0)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    return np.log(np.maximum(w, 1e-30)).astype(np.float32)
