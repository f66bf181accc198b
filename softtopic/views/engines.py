"""Where a view's per-document work runs: in this process, or spread over a Ray cluster.

A view (the LM view, sentence embeddings) hands an engine a *worker* and the rows to process as
columns ({"row": ..., "text": ...}); the engine yields the worker's output batches, each a dict
of arrays with one row per input row, the input's key column passed through. The view decides
what to do with them (write cache chunks, shards) on the driver, so the on-disk format, resume
and every check downstream are the same whichever engine computed the rows.

A worker is a small picklable object with `build()`, returning a function from a batch (dict of
arrays) to an output batch. `build()` runs once per process that computes (the actor on a Ray
node), so a model is loaded once per worker, not once per batch.

- `LocalEngine` runs the worker in this process, batch after batch (the default; needs no Ray).
- `RayEngine` builds a Ray Dataset of the rows in blocks of `batch_rows` and calls
  `map_batches` on an actor class that builds the worker once, with `workers` actors that each
  ask for `gpus_per_worker` GPUs. An actor that dies mid-batch is restarted and its batch retried
  by Ray (`max_restarts`, `max_task_retries`); the driver writes a chunk only once all its rows
  have arrived, so nothing is lost, duplicated or half written.

Which engine a view uses: its `engine` argument, else the one set by `use_engine(...)` (a
context manager, as joblib's `parallel_backend`), else the local engine. The CLI's `--engine`
options set it for a whole command, so every view that command computes (fit, benchmark grid)
runs there.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from typing import Iterator, Protocol

import numpy as np

ENGINES = ("local", "ray")
ENGINE_ENV = "SOFTTOPIC_ENGINE"
INSTALL_HINT = "pip install 'softtopic[distributed]'  (or: pip install 'ray[data]')"


class Worker(Protocol):
    def build(self):  # -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
        ...


class LocalEngine:
    """Runs a worker in this process, one batch of `batch_rows` rows after another."""

    name = "local"

    def map_batches(self, worker: Worker, columns: dict[str, np.ndarray],
                    batch_rows: int) -> Iterator[dict[str, np.ndarray]]:
        fn = worker.build()
        n = _n_rows(columns)
        for start in range(0, n, batch_rows):
            yield fn({name: col[start:start + batch_rows] for name, col in columns.items()})

    def worker_device(self) -> str | None:
        """The device type workers compute on when a view leaves it to them (None: this
        process decides, as usual)."""
        return None

    def describe(self) -> dict:
        return {"engine": "local"}


class RayEngine:
    """Runs a worker on Ray actors through Ray Data.

    address: None (use the Ray instance this process already started, else start a local
        one), "auto" (the cluster this machine belongs to) or "HOST:PORT".
    workers: actors (model copies) running at once.
    gpus_per_worker / cpus_per_worker: resources each actor asks Ray for.
    An actor that dies is restarted and its batch retried: Ray Data's actor pools default to
    unlimited restarts and task retries (`max_restarts=-1`, `max_task_retries=-1`).
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int = 1,
                 gpus_per_worker: float = 0.0, cpus_per_worker: float = 1.0):
        for label, value, low in (("workers", workers, 1), ("gpus_per_worker", gpus_per_worker, 0),
                                  ("cpus_per_worker", cpus_per_worker, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
                raise ValueError(f"{label} must be a number >= {low}, got {value!r}")
        if not isinstance(workers, int):
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        self.address = address
        self.workers = workers
        self.gpus_per_worker = float(gpus_per_worker)
        self.cpus_per_worker = float(cpus_per_worker)

    def _ray(self):
        ray = import_ray()
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, log_to_driver=False,
                         include_dashboard=False, configure_logging=False)
            except ConnectionError as e:
                raise ValueError(f"--address {self.address}: no Ray cluster there ({e})") from None
        resources = ray.cluster_resources()
        print(f"softtopic: views on Ray ({self.workers} worker{'s' * (self.workers != 1)} of "
              f"{self.cpus_per_worker:g} CPU"
              f"{f' + {self.gpus_per_worker:g} GPU' if self.gpus_per_worker else ''}; cluster "
              f"{resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs)",
              file=sys.stderr)
        return ray

    def map_batches(self, worker: Worker, columns: dict[str, np.ndarray],
                    batch_rows: int) -> Iterator[dict[str, np.ndarray]]:
        ray = self._ray()
        import pyarrow as pa
        n = _n_rows(columns)
        if n == 0:
            return
        # One block per batch: blocks are the unit Ray schedules, so many small blocks keep
        # every actor busy and bound what a retried batch costs. Each block goes to Ray's
        # object store (which spills to disk) as it is made, so this process never holds a
        # second copy of the whole input.
        blocks = [ray.put(pa.table({name: _arrow_column(col[start:start + batch_rows])
                                    for name, col in columns.items()}))
                  for start in range(0, n, batch_rows)]
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the view shows its own progress bar
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ds = ray.data.from_arrow_refs(blocks).map_batches(
            _WorkerActor, fn_constructor_args=(worker, self.cpus_per_worker),
            batch_size=batch_rows, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            num_gpus=self.gpus_per_worker or None, num_cpus=self.cpus_per_worker)
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            yield dict(batch)

    def worker_device(self) -> str:
        return "cuda" if self.gpus_per_worker > 0 else "cpu"

    def describe(self) -> dict:
        return {"engine": "ray", "address": self.address, "workers": self.workers,
                "gpus_per_worker": self.gpus_per_worker, "cpus_per_worker": self.cpus_per_worker}


class _WorkerActor:
    """The Ray actor: builds the worker once, then maps batches."""

    def __init__(self, worker: Worker, cpus: float):
        import torch
        torch.set_num_threads(max(1, int(cpus)))  # Ray sets no thread limit of its own
        self.fn = worker.build()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.fn(batch)


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ValueError(f"--engine ray needs Ray Data, which is not installed: "
                         f"{INSTALL_HINT}") from None
    return ray


def make_engine(name: str = "local", **options):
    """An engine by name ("local" or "ray"); `options` go to RayEngine."""
    if name == "local":
        return LocalEngine()
    if name == "ray":
        import_ray()  # say what to install before any work
        return RayEngine(**options)
    raise ValueError(f"engine must be one of {ENGINES}, got {name!r}")


def engine_from_env():
    """The engine that $SOFTTOPIC_ENGINE describes (JSON settings, as `make_engine` takes them
    with "engine" naming the kind), else the local engine: how a command's --engine reaches the
    processes it starts (the benchmark grid's runs)."""
    raw = os.environ.get(ENGINE_ENV)
    if not raw:
        return LocalEngine()
    try:
        options = json.loads(raw)
        name = options.pop("engine")
    except (ValueError, KeyError, AttributeError, TypeError):
        raise ValueError(f"${ENGINE_ENV} must be a JSON object with an 'engine' key, "
                         f"got {raw!r}") from None
    return make_engine(name, **options)


_CURRENT: list = [LocalEngine()]


def current_engine():
    return _CURRENT[-1]


@contextlib.contextmanager
def use_engine(engine):
    """Within the block, views without an explicit engine compute on `engine`."""
    _CURRENT.append(engine)
    try:
        yield engine
    finally:
        _CURRENT.pop()


def resolve_engine(engine):
    return current_engine() if engine is None else engine


# --------------------------------------------------------------------------- regrouping

class ChunkAssembler:
    """Collects output rows that arrive in any order and batch size, and hands back each cache
    chunk [i * chunk_size, ...) once all its rows are there. A row that arrives twice is an
    error (it would mean a batch was computed twice and both results returned)."""

    def __init__(self, n_rows: int, chunk_size: int, chunks: list[int], row_key: str = "row"):
        self.n_rows, self.chunk_size, self.row_key = n_rows, chunk_size, row_key
        self.pending: dict[int, dict] = {i: {"filled": np.zeros(self._rows(i), bool)}
                                         for i in chunks}

    def _rows(self, i: int) -> int:
        return min((i + 1) * self.chunk_size, self.n_rows) - i * self.chunk_size

    def add(self, batch: dict[str, np.ndarray]) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        rows = np.asarray(batch[self.row_key], dtype=np.int64)
        chunk_of = rows // self.chunk_size
        for i in np.unique(chunk_of):
            i = int(i)
            if i not in self.pending:
                raise RuntimeError(f"engine returned rows of chunk {i}, which was not asked "
                                   "for or is already written")
            sel = np.flatnonzero(chunk_of == i)
            local = rows[sel] - i * self.chunk_size
            entry = self.pending[i]
            if entry["filled"][local].any():
                raise RuntimeError(f"engine returned row {int(rows[sel][entry['filled'][local]][0])}"
                                   " twice")
            for name, col in batch.items():
                if name == self.row_key:
                    continue
                col = np.asarray(col)
                if name not in entry:
                    entry[name] = np.zeros((len(entry["filled"]),) + col.shape[1:], col.dtype)
                entry[name][local] = col[sel]
            entry["filled"][local] = True
            if entry["filled"].all():
                del self.pending[i]
                yield i, {k: v for k, v in entry.items() if k != "filled"}


def _n_rows(columns: dict[str, np.ndarray]) -> int:
    sizes = {len(col) for col in columns.values()}
    if len(sizes) != 1:
        raise ValueError(f"columns of unequal length: {sorted(sizes)}")
    return sizes.pop()


def _arrow_column(col):
    import pyarrow as pa
    col = np.asarray(col)
    if col.ndim > 1:  # one fixed-shape tensor per row
        from ray.data.extensions import ArrowTensorArray
        return ArrowTensorArray.from_numpy(col)
    if col.dtype.kind == "U" or col.dtype == object:
        return pa.array(col.tolist())
    return pa.array(col)

