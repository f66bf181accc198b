"""Model names as the CLI and the benchmark harness know them."""
from __future__ import annotations

from .bat import BAT
from .neuromax import NeuroMax
from .presets import ECRTM, ETM, CombinedTM, ProdLDA, ZeroShotTM

MODELS: dict[str, type] = {
    "prodlda": ProdLDA,
    "zeroshot": ZeroShotTM,
    "combined": CombinedTM,
    "etm": ETM,
    "ecrtm": ECRTM,
    "bat": BAT,
    "neuromax": NeuroMax,
}


def get_model_class(name: str) -> type:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
