"""On-disk cache for views: arrays computed once per (view kind, settings, corpus) and reused.

A view is computed in chunks of rows. Each finished chunk is written atomically (temporary file,
then rename), so an interrupted run resumes at the first missing chunk and never keeps a torn
one. When every chunk exists they are joined into one `.npy` per array, which is memory-mapped
when read. The folder name is a hash of everything the result depends on; `key.json` beside the
arrays records those parts in readable form.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from tqdm.auto import tqdm

from ..files import save_npy_atomic, write_json_atomic


def default_cache_dir() -> Path:
    return Path(os.environ.get("SOFTTOPIC_CACHE", Path.home() / ".cache" / "softtopic"))


# The cache folders this process has read or filled, in first-use order. A run records them in
# its config.json (the CLI and the benchmark harness fit one model per process), so the
# benchmark report can list the views its own runs used rather than everything in a shared cache.
_USED_FOLDERS: dict[str, None] = {}


def record_use(folder: str | Path) -> None:
    _USED_FOLDERS.setdefault(str(Path(folder).resolve()), None)


def used_folders() -> list[str]:
    return list(_USED_FOLDERS)


def cache_key(**parts) -> str:
    """A stable hash of JSON-serialisable parts (order of keyword arguments does not matter)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


class ChunkedView:
    """A folder holding named arrays of `n_rows` rows, filled chunk by chunk.

    compute(start, stop) must return {name: array with stop - start rows} for documents
    [start, stop). Rows are written in document order whatever order compute works in.
    `dtype` is the storage type of every array, or a dict {array name: dtype} for arrays that
    need another precision (arrays the dict does not name are stored as float16).

    Resuming: finished chunks of an interrupted run are reused only when they were written with
    the same layout. The layout (n_rows, chunk_size, storage dtypes) is recorded in `key.json`
    and checked before anything is computed; array names and per-row shapes are checked against
    a finished chunk when the first new chunk is computed. On any mismatch the partial view is
    *restarted cleanly*: the old chunks are deleted and every chunk is recomputed, with a
    message on stderr naming the cache folder and the mismatch. (Restarting rather than raising
    keeps a changed chunk size or dtype in a new softtopic version from leaving users with a
    cache they must delete by hand; chunks of another layout are never mixed in.)
    """

    def __init__(self, directory: str | Path, n_rows: int, chunk_size: int = 1024,
                 dtype=np.float16, key_parts: dict | None = None):
        self.dir = Path(directory)
        self.n_rows = int(n_rows)
        self.chunk_size = int(chunk_size)
        if isinstance(dtype, dict):
            self.dtypes = {name: np.dtype(d) for name, d in dtype.items()}
            self.dtype = np.dtype(np.float16)
        else:
            self.dtypes = {}
            self.dtype = np.dtype(dtype)
        self.key_parts = key_parts or {}

    def dtype_of(self, name: str) -> np.dtype:
        return self.dtypes.get(name, self.dtype)

    @property
    def n_chunks(self) -> int:
        return max(1, -(-self.n_rows // self.chunk_size))

    def _chunk_path(self, i: int, name: str) -> Path:
        return self.dir / "chunks" / f"{i:06d}.{name}.npy"

    def _done_marker(self, i: int) -> Path:
        return self.dir / "chunks" / f"{i:06d}.done"

    def is_complete(self) -> bool:
        return (self.dir / "complete.json").exists()

    def missing_chunks(self) -> list[int]:
        return [i for i in range(self.n_chunks) if not self._done_marker(i).exists()]

    def load(self, mmap: bool = True) -> dict[str, np.ndarray]:
        meta = json.loads((self.dir / "complete.json").read_text())
        return {name: np.load(self.dir / f"{name}.npy", mmap_mode="r" if mmap else None)
                for name in meta["arrays"]}

    def _layout(self) -> dict:
        """What finished chunks must share with this view to be reused."""
        return {"n_rows": self.n_rows, "chunk_size": self.chunk_size, "dtype": self.dtype.name,
                "dtypes": {n: d.name for n, d in sorted(self.dtypes.items())}}

    def _layout_mismatch(self) -> str | None:
        """How the layout that wrote the existing chunks differs from this view's (None: same,
        or nothing to resume)."""
        chunks = self.dir / "chunks"
        if not chunks.is_dir() or not any(chunks.glob("*.done")):
            return None
        try:
            old = json.loads((self.dir / "key.json").read_text())
        except (OSError, ValueError):
            return "key.json is missing or unreadable, so the chunks' layout is unknown"
        old = {**old, "dtypes": old.get("dtypes", {})}
        new = self._layout()
        diffs = [f"{k} {old.get(k)!r} -> {v!r}" for k, v in new.items() if old.get(k) != v]
        return ", ".join(diffs) or None

    def _array_mismatch(self, arrays: dict[str, np.ndarray], done: list[int]) -> str | None:
        """How freshly computed arrays differ (names, per-row shape) from a finished chunk."""
        if not done:
            return None
        i = done[0]
        try:
            old_names = sorted(json.loads(self._done_marker(i).read_text()))
        except (OSError, ValueError):
            return f"chunk {i}'s record is unreadable"
        if old_names != sorted(arrays):
            return f"array names {old_names} -> {sorted(arrays)}"
        for name, a in sorted(arrays.items()):
            try:
                old = np.load(self._chunk_path(i, name), mmap_mode="r")
            except (OSError, ValueError):
                return f"chunk {i} of array {name!r} is unreadable"
            if old.shape[1:] != np.shape(a)[1:] or old.dtype != self.dtype_of(name):
                return (f"array {name!r}: rows of shape {old.shape[1:]} {old.dtype} -> "
                        f"{np.shape(a)[1:]} {self.dtype_of(name)}")
        return None

    def _restart(self, why: str):
        print(f"softtopic: cache folder {self.dir} holds a partial view written with another "
              f"layout ({why}); discarding its chunks and recomputing", file=sys.stderr)
        shutil.rmtree(self.dir / "chunks", ignore_errors=True)

    def bounds(self, i: int) -> tuple[int, int]:
        """Rows [start, stop) of chunk i."""
        return i * self.chunk_size, min((i + 1) * self.chunk_size, self.n_rows)

    def compute(self, compute: Callable[[int, int], dict[str, np.ndarray]],
                desc: str = "view", progress: bool = True) -> dict[str, np.ndarray]:
        """Fill the missing chunks with compute(start, stop), one after another."""
        return self.fill(lambda todo: ((i, compute(*self.bounds(i))) for i in todo),
                         desc, progress)

    def fill(self, results: Callable[[list[int]], Iterable[tuple[int, dict[str, np.ndarray]]]],
             desc: str = "view", progress: bool = True) -> dict[str, np.ndarray]:
        """Fill the missing chunks from results(todo): an iterable of (chunk index, arrays) for
        the chunks in `todo`, in any order (an engine computing them elsewhere). Each chunk is
        written once, atomically, as it arrives; then the chunks are joined."""
        record_use(self.dir)
        if self.is_complete():
            return self.load()
        why = self._layout_mismatch()
        if why:
            self._restart(why)
        (self.dir / "chunks").mkdir(parents=True, exist_ok=True)
        layout = self._layout()
        if not layout["dtypes"]:
            del layout["dtypes"]
        write_json_atomic(self.dir / "key.json", {**self.key_parts, **layout})
        todo = self.missing_chunks()
        done = sorted(set(range(self.n_chunks)) - set(todo))
        done_rows = self.n_rows - sum(self._rows(i) for i in todo)
        bar = tqdm(total=self.n_rows, initial=done_rows, desc=desc, unit="doc",
                   disable=not progress, dynamic_ncols=True)
        names = None
        t0 = time.perf_counter()
        written: set[int] = set()
        todo_set = set(todo)
        for i, arrays in results(todo):
            if i not in todo_set or i in written:
                raise RuntimeError(f"view {desc}: chunk {i} was not asked for or came twice")
            start, stop = self.bounds(i)
            if names is None:  # first new chunk: does it match the finished ones?
                why = self._array_mismatch(arrays, done)
                if why:
                    bar.close()
                    self._restart(why)
                    return self.fill(results, desc, progress)
            for name, a in arrays.items():
                a = np.asarray(a)
                if a.shape[0] != stop - start:
                    raise RuntimeError(f"view {desc}: array {name!r} has {a.shape[0]} rows for "
                                       f"chunk of {stop - start} documents")
                save_npy_atomic(self._chunk_path(i, name), a.astype(self.dtype_of(name), copy=False))
            names = sorted(arrays)
            write_json_atomic(self._done_marker(i), names, indent=None)
            written.add(i)
            bar.update(stop - start)
        bar.close()
        if written != set(todo):
            raise RuntimeError(f"view {desc}: chunks {sorted(set(todo) - written)[:5]} were "
                               "never computed")
        if names is None:  # every chunk was already there
            names = json.loads(self._done_marker(0).read_text())
        self._join(names)
        if todo:
            write_json_atomic(self.dir / "timing.json", {
                "seconds": time.perf_counter() - t0, "rows_computed": self.n_rows - done_rows})
        return self.load()

    def _rows(self, i: int) -> int:
        return min((i + 1) * self.chunk_size, self.n_rows) - i * self.chunk_size

    def _join(self, names: list[str]):
        for name in names:
            parts = [np.load(self._chunk_path(i, name), mmap_mode="r") for i in range(self.n_chunks)]
            shape = (self.n_rows,) + parts[0].shape[1:]
            out = np.lib.format.open_memmap(self.dir / f"{name}.npy.tmp", mode="w+",
                                            dtype=self.dtype_of(name), shape=shape)
            row = 0
            for p in parts:
                out[row:row + len(p)] = p
                row += len(p)
            out.flush()
            del out
            os.replace(self.dir / f"{name}.npy.tmp", self.dir / f"{name}.npy")
        write_json_atomic(self.dir / "complete.json", {"arrays": names, "n_rows": self.n_rows})
        shutil.rmtree(self.dir / "chunks", ignore_errors=True)
