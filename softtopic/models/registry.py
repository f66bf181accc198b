"""Model names as the CLI and the benchmark harness know them."""
from __future__ import annotations

from .bat import BAT
from .neuromax import NeuroMax
from .presets import (ECRTM, ETM, PAPER_SETTING, CombinedTM, ProdLDA, SoftLabelECRTM,
                      SoftLabelETM, SoftLabelFASTopic, SoftLabelTM, ZeroShotTM)
from .wrappers import LDA, BERTopic, FASTopic


class NamedSettings:
    """A registered name for a model class with some parameters preset (an ablation is a
    parameter setting, not a copy of a class). Called like the class; explicit keyword
    arguments override the preset ones; the fitted model is a plain instance of `cls`."""

    def __init__(self, cls: type, **settings):
        self.cls, self.settings = cls, settings
        self.__name__ = cls.__name__
        self.__doc__ = cls.__doc__

    def __call__(self, *args, **kwargs):
        return self.cls(*args, **{**self.settings, **kwargs})

    def _param_names(self) -> list[str]:
        return self.cls._param_names()

    def __repr__(self):
        return f"{self.cls.__name__}({', '.join(f'{k}={v!r}' for k, v in self.settings.items())})"

MODELS: dict[str, type] = {
    "prodlda": ProdLDA,
    "zeroshot": ZeroShotTM,
    "combined": CombinedTM,
    # the soft-label model and the paper's ablations (Table: input / target / loss)
    # (softlabel and softlabel-encoder: softtopic's defaults; the paper's exact setting and its
    # ablations: PAPER_SETTING, docs/soft-label-model.md)
    "softlabel": SoftLabelTM,                                   # LM hidden -> LM soft label, KL
    "softlabel-encoder": NamedSettings(SoftLabelTM, teacher="encoder"),  # offline approximation
    "softlabel-paper": NamedSettings(SoftLabelTM, **PAPER_SETTING),
    "softlabel-nll": NamedSettings(SoftLabelTM, divergence="ce", **PAPER_SETTING),
    "softlabel-nll-bow": NamedSettings(SoftLabelTM, target="bow", **PAPER_SETTING),
    "softlabel-embeddings": NamedSettings(SoftLabelTM, input="embedding", **PAPER_SETTING),
    "softlabel-nll-bow-embeddings": NamedSettings(SoftLabelTM, input="embedding", target="bow",
                                                  **PAPER_SETTING),
    # the soft label on other backbones (docs/baselines.md)
    "softlabel-etm": SoftLabelETM,
    "softlabel-ecrtm": SoftLabelECRTM,
    "softlabel-fastopic": SoftLabelFASTopic,
    "etm": ETM,
    "ecrtm": ECRTM,
    "bat": BAT,
    "neuromax": NeuroMax,
    "lda": LDA,
    "fastopic": FASTopic,
    "bertopic": BERTopic,
}


def get_model_class(name: str) -> type:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
