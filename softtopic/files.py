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
