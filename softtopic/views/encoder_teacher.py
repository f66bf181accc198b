"""Offline encoder teacher: a soft label over the vocabulary from a sentence encoder, no LM.

For document d and vocabulary word w the teacher's logit is

    encoder_logits[d, w] = scale * cos(embed(document d), embed(word w))

so softmax(encoder_logits / tau) is its soft label. Words are embedded once (by the same encoder
as the documents) and cached per (encoder, vocabulary). This is an *approximation* of the
soft-label paper's teacher, which reads an LM's next-token distribution after a prompt; it asks
instead "which words are semantically closest to the document", a zero-shot word-retrieval score.

Why `scale`: cosines live in [-1, 1] and differ across a vocabulary by a few tenths, so at the
paper's tau = 3 their softmax would be almost uniform. `scale` turns them into logits with a
spread comparable to an LM's restricted next-token logits, so that tau means the same thing for
both teachers (like CLIP's logit scale). DEFAULT_SCALE was measured on the bundled sample
corpus; see docs/soft-label-model.md.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .cache import ChunkedView, cache_key, default_cache_dir
from .sentence import SentenceEmbeddings

DEFAULT_SCALE = 50.0


def _unit(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


class EncoderTeacher:
    """Computes (and caches) `scale * cosine(document, word)` for every document and word."""

    def __init__(self, encoder: SentenceEmbeddings, scale: float = DEFAULT_SCALE,
                 cache_dir: str | Path | None = None, progress: bool = True):
        if not scale > 0:
            raise ValueError(f"encoder teacher scale must be positive, got {scale!r}")
        self.encoder = encoder
        self.scale = float(scale)
        self.cache_dir = cache_dir
        self.progress = progress

    def _root(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()

    def word_embeddings(self, words: list[str]) -> np.ndarray:
        """V x E unit vectors, embedded once per (encoder, vocabulary) and cached."""
        import hashlib
        vocab_hash = hashlib.sha256("\n".join(words).encode()).hexdigest()
        key_parts = {**self.encoder.settings(), "kind": "vocabulary-word-embedding",
                     "vocabulary": vocab_hash}
        view = ChunkedView(self._root() / "encoder_words" / cache_key(**key_parts), len(words),
                           chunk_size=4096, dtype=np.float32, key_parts=key_parts)
        arrays = view.compute(lambda a, b: {"word_embedding": self.encoder.encode(words[a:b])},
                              desc="embedding vocabulary words", progress=self.progress)
        return _unit(arrays["word_embedding"])

    def __call__(self, texts: list[str], words: list[str], corpus_hash: str | None = None
                 ) -> dict[str, np.ndarray]:
        """{"embedding": N x E document embeddings, "logits": N x V scaled cosines}."""
        from ..corpus import hash_texts
        corpus_hash = corpus_hash or hash_texts(texts)
        docs = self.encoder(texts, corpus_hash)          # cached sentence view
        word_vecs = self.word_embeddings(words)
        key_parts = {**self.encoder.settings(), "kind": "encoder-teacher-logits",
                     "corpus": corpus_hash, "scale": self.scale,
                     "vocabulary": cache_key(words=words)}
        view = ChunkedView(self._root() / "encoder_teacher" / cache_key(**key_parts), len(texts),
                           chunk_size=2048, key_parts=key_parts)
        arrays = view.compute(
            lambda a, b: {"logits": self.scale * (_unit(docs[a:b]) @ word_vecs.T)},
            desc="encoder teacher logits", progress=self.progress)
        return {"embedding": docs, "logits": arrays["logits"]}


def soft_label_stats(logits: np.ndarray, tau: float, top: int = 10) -> dict[str, float]:
    """How peaked softmax(logits / tau) is: mean entropy (nats), its ratio to the uniform
    distribution's, mean mass of the top-1 and top-`top` words."""
    z = np.asarray(logits, dtype=np.float64) / tau
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    entropy = -(p * np.log(np.clip(p, 1e-300, None))).sum(1)
    ps = -np.sort(-p, axis=1)
    return {"entropy": float(entropy.mean()),
            "entropy_ratio": float(entropy.mean() / np.log(p.shape[1])),
            "top1_mass": float(ps[:, 0].mean()),
            f"top{top}_mass": float(ps[:, :top].sum(1).mean())}
