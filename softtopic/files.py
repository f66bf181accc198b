"""Atomic file writes, shared by the caches, the evaluation and the benchmark harness: a file
is written under a temporary name unique to this process and renamed into place, so a reader or
a concurrent writer never sees a torn file."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import numpy as np


def temporary_path(path: Path) -> Path:
    """A sibling name unique to this process and call, for writing before renaming to `path`."""
    return path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def json_default(x):
    """JSON for numpy scalars and arrays; anything else as its string."""
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def write_json_atomic(path: str | Path, data, indent: int | None = 1) -> None:
    path = Path(path)
    tmp = temporary_path(path)
    tmp.write_text(json.dumps(data, indent=indent, default=json_default))
    os.replace(tmp, path)


def save_npy_atomic(path: str | Path, array: np.ndarray) -> None:
    """np.save, flushed to disk before the rename (a finished chunk survives a crash)."""
    path = Path(path)
    tmp = temporary_path(path)
    with open(tmp, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def mapped_buffers(*arrays) -> list:
    """The `mmap` objects behind memory-mapped arrays (np.memmap, views of one, or the arrays
    of a SciPy sparse matrix); arrays in memory and copy-on-write maps have none."""
    import mmap
    import scipy.sparse as sp
    found = {}
    for a in arrays:
        parts = (a.data, a.indices, a.indptr) if sp.issparse(a) and hasattr(a, "indptr") else (a,)
        for obj in parts:
            while obj is not None:
                if isinstance(obj, np.memmap) and obj.mode == "c":
                    break
                if isinstance(obj, mmap.mmap):
                    found[id(obj)] = obj
                    break
                obj = getattr(obj, "_mmap", None) or getattr(obj, "base", None)
    return list(found.values())


def release_pages(buffers) -> None:
    """Drop this process's resident pages of memory maps (Linux MADV_DONTNEED): the data stays
    in the OS page cache (and dirty pages of shared maps are still written back), but it no
    longer counts in this process's RSS. A no-op where madvise is missing."""
    import mmap
    advice = getattr(mmap, "MADV_DONTNEED", None)
    for buffer in buffers:
        if advice is not None and hasattr(buffer, "madvise") and not buffer.closed:
            buffer.madvise(advice)
