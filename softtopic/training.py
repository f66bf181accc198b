"""One trainer for every backbone model: minibatches from cached feature arrays, Adam, optional
learning-rate schedule, seeds, device selection, a progress bar and a NaN guard."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm


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


def resolve_device(device: str | None) -> torch.device:
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


def train(module, features: dict, rows: np.ndarray, config: TrainingConfig) -> dict:
    """Fit `module` (a VariationalTopicModel) on the documents `rows` of `features`.

    Returns a history: per-epoch mean loss, loss parts and seconds.
    """
    device = resolve_device(config.device)
    module.to(device)
    names = sorted(module.features_needed(training=True))
    missing = [n for n in names if n not in features]
    if missing:
        raise TrainingError(f"features {missing} are needed for training but were not computed")
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = _adam(params, config, device)
    scheduler = _scheduler(optimizer, config.lr_schedule, config.epochs)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    n = len(rows)
    bs = min(config.batch_size, n)
    drop_last = config.drop_last and n >= bs
    history = {"loss": [], "parts": [], "seconds": []}
    bar = tqdm(range(config.epochs), desc="training", disable=not config.progress, mininterval=1.0,
               dynamic_ncols=True, unit="epoch")
    for epoch in bar:
        t0 = time.perf_counter()
        for reg in module.regularizers:
            if hasattr(reg, "on_epoch_start"):
                reg.on_epoch_start(epoch, module, features, rows)
        module.train()
        order = rows[rng.permutation(n)]
        stops = range(bs, n + 1, bs) if drop_last else range(bs, n + bs, bs)
        total, parts_sum, n_batches = 0.0, {}, 0
        for stop in stops:
            batch_rows = order[stop - bs:min(stop, n)]
            if len(batch_rows) < 2:  # batch norm needs two documents; happens only without drop_last
                continue
            batch = make_batch(features, names, batch_rows, device)
            loss, parts = module.loss(batch)
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"the loss became {loss.item()} at epoch {epoch + 1}, batch {n_batches + 1} "
                    f"(parts: {parts}). Try a lower learning rate (lr={config.lr}) or check the "
                    "input features for NaN/inf values.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
            for k, v in parts.items():
                parts_sum[k] = parts_sum.get(k, 0.0) + v
            n_batches += 1
        if scheduler is not None:
            scheduler.step()
        history["loss"].append(total / max(n_batches, 1))
        history["parts"].append({k: v / max(n_batches, 1) for k, v in parts_sum.items()})
        history["seconds"].append(time.perf_counter() - t0)
        bar.set_postfix(loss=f"{history['loss'][-1]:.4g}")
    module.eval()
    return history


@torch.no_grad()
def infer(module, features: dict, rows: np.ndarray, n_samples: int, seed: int,
          device: str | None = None, batch_size: int = 2048) -> np.ndarray:
    """theta for `rows` in eval mode; repeatable: the sampling noise is drawn from a generator
    seeded with `seed` at every call."""
    dev = resolve_device(device)
    module.to(dev).eval()
    generator = torch.Generator().manual_seed(seed)
    names = sorted(module.features_needed(training=False))
    out = np.empty((len(rows), module.n_topics), dtype=np.float32)
    for start in range(0, len(rows), batch_size):
        batch_rows = rows[start:start + batch_size]
        batch = make_batch(features, names, batch_rows, dev)
        out[start:start + len(batch_rows)] = module.infer_theta(batch, n_samples, generator).cpu()
    return out
