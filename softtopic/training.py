"""One trainer for every backbone model: minibatches from cached feature arrays, Adam, optional
learning-rate schedule, seeds, device selection, a progress bar and a NaN guard."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from .files import mapped_buffers, release_pages


class TrainingError(RuntimeError):
    pass


@dataclass
class TrainingConfig:
    epochs: int = 100
    batch_size: int = 64
    lr: float = 2e-3
    betas: tuple[float, float] = (0.99, 0.99)   # as the CTM reference
    lr_schedule: str | None = None              # None, "cosine", or "step:<epochs>:<factor>"
    seed: int = 0
    device: str | None = None
    progress: bool = True
    drop_last: bool = True                      # as CTM; never drops when it would leave no batch
    weight_decay: float = 0.0                   # Adam's L2 penalty (ETM: 1.2e-6)


DEVICE_NAME = re.compile(r"cpu|cuda(:\d+)?|mps")


def device_problem(device) -> str | None:
    """Why `device` cannot be used on this machine, in one line; None when it can."""
    if device in (None, "auto"):
        return None
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not DEVICE_NAME.fullmatch(device):
        return f"unknown device {device!r} (cpu, cuda, cuda:N, mps)"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return f"device {device!r} requested but CUDA is not available on this machine"
        index, count = int(device.partition(":")[2] or 0), torch.cuda.device_count()
        if index >= count:
            return f"device {device!r} requested but this machine has {count} CUDA device(s)"
    if device == "mps" and not torch.backends.mps.is_available():
        return "device 'mps' requested but MPS is not available on this machine"
    return None


def resolve_device(device: str | None) -> torch.device:
    """The torch device for a setting (None or "auto": CUDA when available, else the CPU);
    a ValueError naming the device when this machine does not have it."""
    problem = device_problem(device)
    if problem is not None:
        raise ValueError(problem)
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def rows_to_tensor(array, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows of a CSR matrix, dense array or memory map as a float32 tensor (densified per batch
    only: a whole corpus is never densified)."""
    if sp.issparse(array):
        block = array[rows].toarray()
    else:
        block = np.asarray(array[rows])
    return torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32)).to(device)


def make_batch(features: dict, names, rows: np.ndarray, device) -> dict[str, torch.Tensor]:
    return {name: rows_to_tensor(features[name], rows, device) for name in names}


def _scheduler(optimizer, spec: str | None, epochs: int):
    if spec is None:
        return None
    if spec == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if spec.startswith("step:"):
        _, step, factor = spec.split(":")
        return torch.optim.lr_scheduler.StepLR(optimizer, int(step), float(factor))
    raise ValueError(f"lr_schedule must be None, 'cosine' or 'step:<epochs>:<factor>', got {spec!r}")


def _adam(params, config: TrainingConfig, device: torch.device) -> torch.optim.Adam:
    """Adam with the fused kernel where torch has one for the device: one kernel per step instead
    of a dozen per parameter tensor (about 20% of a ProdLDA step on a CPU; bench/train_speed.py).
    Fused Adam rounds differently from the per-tensor loop, but a seed still fixes every run."""
    kwargs = dict(lr=config.lr, betas=tuple(config.betas), weight_decay=config.weight_decay)
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.Adam(params, fused=True, **kwargs)
        except (RuntimeError, ValueError):  # e.g. a parameter dtype the fused kernel lacks
            pass
    return torch.optim.Adam(params, **kwargs)


def batch_bounds(n: int, batch_size: int, drop_last: bool) -> list[tuple[int, int]]:
    """(start, stop) of each minibatch over n shuffled documents. Batch norm needs two documents
    a batch: a last batch of one is merged into the one before (when not dropped)."""
    bs = min(batch_size, n)
    bounds = [(start, min(start + bs, n)) for start in range(0, n, bs)]
    if drop_last and bounds[-1][1] - bounds[-1][0] < bs:
        bounds.pop()    # as CTM; the first batch is always full, so one is left
    elif len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


class MappedPages:
    """Keeps the pages of memory-mapped features from piling up in RSS: minibatches read random
    rows, and every page read stays resident (and counted in RSS) until the OS needs memory.
    Every `every` batches the process's resident pages of those maps are dropped (they stay in
    the page cache; see `files.release_pages`). Arrays in memory are untouched. After every
    batch by default: a fault on a file map maps the pages around it too (fault-around, large
    page-cache folios), and on a 2-million-document bag of words about 0.5 MB came into RSS
    per row read at random; releasing every 8 batches still let RSS grow to 1 GB
    (bench/scale.py, docs/scale.md)."""

    def __init__(self, *arrays, every: int = 1):
        self.buffers, self.every, self.count = mapped_buffers(*arrays), every, 0

    def tick(self):
        self.count += 1
        if self.buffers and self.count % self.every == 0:
            release_pages(self.buffers)

    def release(self):
        release_pages(self.buffers)


class Trainer:
    """The optimiser, schedule and shuffling of one module, kept between calls so that training
    can continue on new documents (`NeuralTopicModel.partial_fit`); `train` is one call."""

    def __init__(self, module, config: TrainingConfig):
        if config.batch_size < 2:
            raise ValueError(f"parameter batch_size must be an integer >= 2 (batch norm needs "
                             f"two documents a batch), got {config.batch_size!r}")
        self.module, self.config = module, config
        self.device = resolve_device(config.device)
        module.to(self.device)
        params = [p for p in module.parameters() if p.requires_grad]
        self.optimizer = _adam(params, config, self.device)
        self.scheduler = _scheduler(self.optimizer, config.lr_schedule, config.epochs)
        self.rng = np.random.default_rng(config.seed)
        torch.manual_seed(config.seed)
        self.epoch = 0
        self.history = {"loss": [], "parts": [], "seconds": []}

    def run(self, features: dict, rows: np.ndarray, epochs: int) -> dict:
        """`epochs` passes over the documents `rows` of `features`; returns the history of this
        call (per-epoch mean loss, loss parts and seconds)."""
        config, module, device = self.config, self.module, self.device
        if len(rows) < 2:
            raise TrainingError(f"training needs at least two documents, got {len(rows)}")
        names = sorted(module.features_needed(training=True))
        missing = [n for n in names if n not in features]
        if missing:
            raise TrainingError(f"features {missing} are needed for training but were not "
                                "computed")
        module.to(device)
        n = len(rows)
        bounds = batch_bounds(n, config.batch_size, config.drop_last)
        pages = MappedPages(*(features[name] for name in names))
        history = {"loss": [], "parts": [], "seconds": []}
        steps = 0
        bar = tqdm(range(epochs), desc="training", disable=not config.progress, mininterval=1.0,
                   dynamic_ncols=True, unit="epoch")
        for _ in bar:
            epoch = self.epoch
            t0 = time.perf_counter()
            for reg in module.regularizers:
                if hasattr(reg, "on_epoch_start"):
                    reg.on_epoch_start(epoch, module, features, rows)
            module.train()
            order = rows[self.rng.permutation(n)]
            total, parts_sum, n_batches = 0.0, {}, 0
            for start, stop in bounds:
                batch = make_batch(features, names, order[start:stop], device)
                pages.tick()
                loss, parts = module.loss(batch)
                if not torch.isfinite(loss):
                    raise TrainingError(
                        f"the loss became {loss.item()} at epoch {epoch + 1}, batch "
                        f"{n_batches + 1} (parts: {parts}). Try a lower learning rate "
                        f"(lr={config.lr}) or check the input features for NaN/inf values.")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                total += loss.item()
                for k, v in parts.items():
                    parts_sum[k] = parts_sum.get(k, 0.0) + v
                n_batches += 1
            steps += n_batches
            if self.scheduler is not None:
                self.scheduler.step()
            self.epoch += 1
            history["loss"].append(total / max(n_batches, 1))
            history["parts"].append({k: v / max(n_batches, 1) for k, v in parts_sum.items()})
            history["seconds"].append(time.perf_counter() - t0)
            bar.set_postfix(loss=f"{history['loss'][-1]:.4g}")
        pages.release()
        if steps == 0:   # a fit that took no optimisation step must not look like one
            raise TrainingError(f"no optimisation step was taken (epochs={epochs})")
        module.eval()
        for key in history:
            self.history[key].extend(history[key])
        return history


def train(module, features: dict, rows: np.ndarray, config: TrainingConfig) -> dict:
    """Fit `module` (a VariationalTopicModel) on the documents `rows` of `features`.

    Returns a history: per-epoch mean loss, loss parts and seconds.
    """
    if config.batch_size < 2:
        raise ValueError(f"parameter batch_size must be an integer >= 2 (batch norm needs two "
                         f"documents a batch), got {config.batch_size!r}")
    if len(rows) < 2:
        raise TrainingError(f"training needs at least two documents, got {len(rows)}")
    return Trainer(module, config).run(features, rows, config.epochs)


@torch.no_grad()
def infer(module, features: dict, rows: np.ndarray, n_samples: int, seed: int,
          device: str | None = None, batch_size: int = 2048, out: np.ndarray | None = None,
          generator: torch.Generator | None = None) -> np.ndarray:
    """theta for `rows` in eval mode; repeatable: the sampling noise is drawn from a generator
    seeded with `seed` at every call (or from `generator`, continued across calls: theta of
    consecutive blocks whose sizes are multiples of `batch_size` then equals one call's).
    out: where to write theta (e.g. a memory map; default a new array)."""
    dev = resolve_device(device)
    module.to(dev).eval()
    if generator is None:
        generator = torch.Generator().manual_seed(seed)
    names = sorted(module.features_needed(training=False))
    if out is None:
        out = np.empty((len(rows), module.n_topics), dtype=np.float32)
    pages = MappedPages(out, *(features[name] for name in names), every=16)
    for start in range(0, len(rows), batch_size):
        batch_rows = rows[start:start + batch_size]
        batch = make_batch(features, names, batch_rows, dev)
        out[start:start + len(batch_rows)] = module.infer_theta(batch, n_samples, generator).cpu()
        pages.tick()
    pages.release()
    return out
