"""Model names as the CLI and the benchmark harness know them."""
from __future__ import annotations

from .wrappers import LDA, BERTopic, FASTopic
from .presets import ECRTM, ETM, CombinedTM, ProdLDA, ZeroShotTM

MODELS: dict[str, type] = {
    "prodlda": ProdLDA,
    "zeroshot": ZeroShotTM,
    "combined": CombinedTM,
    "etm": ETM,
    "ecrtm": ECRTM,
    "lda": LDA,
    "fastopic": FASTopic,
    "bertopic": BERTopic,
}


def get_model_class(name: str) -> type:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
