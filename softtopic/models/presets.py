"""Named models: the backbone with a choice of input, decoder, target and regularisers.

An ablation or a new model is a new preset here, not a new copy of the training code.
"""
from __future__ import annotations

import numpy as np

from ..views.encoder_teacher import DEFAULT_SCALE
from . import teachers  # noqa: F401  (registers the lm_hidden/lm_logits/encoder_logits features)
from .neural import NeuralTopicModel
from .targets import BowReconstruction, SoftLabelTarget


class ProdLDA(NeuralTopicModel):
    """ProdLDA (Srivastava & Sutton 2017), as CTM/OCTIS implement it: reads and reconstructs the
    bag of words."""

    default_input = "bow"


class ZeroShotTM(NeuralTopicModel):
    """ZeroShotTM (Bianchi et al. 2021): the encoder reads a sentence embedding, the decoder
    reconstructs the bag of words. Theta for new documents needs only their embedding."""

    default_input = "embedding"


class CombinedTM(NeuralTopicModel):
    """CombinedTM (Bianchi et al. 2021): the encoder reads the bag of words concatenated with a
    sentence embedding. (CTM first projects the embedding to |V| dimensions with a linear layer;
    the encoder's first linear layer on the raw concatenation spans the same functions.)"""

    default_input = "bow+embedding"


class SoftLabelTM(NeuralTopicModel):
    """The soft-label topic model: the encoder reads a language model's last hidden state and the
    ProdLDA decoder reconstructs the LM's next-token distribution over the vocabulary after a
    prompt ("the soft label"), softmax(l_V / tau), with loss weight lambda (`weight`).

    teacher: "lm" (the paper's method; needs `lm`, an HF id or local path) or "encoder" (an
        offline approximation: the document's sentence embedding is the input and the soft
        label is softmax(encoder_scale * cos(document, word) / tau) from the same sentence
        encoder; not an LM's distribution).
    input: encoder input features (default: "lm_hidden" for teacher="lm", "embedding" for the
        encoder teacher); e.g. "embedding" gives the paper's "embeddings" ablation.
    target: "soft-label" (default) or "bow" (multinomial NLL of the bag of words, the paper's
        "bow" ablations; then no teacher logits are computed).
    divergence: "kl" = KL(target || student), as the authors' code (default); "reverse-kl" =
        KL(student || target), the direction the paper's equation is written in; "ce" =
        cross-entropy (the paper's "NLL" ablation). tau (3.0) and weight (1e3) as the paper;
        top_k keeps only each soft label's top_k words.
    The LM view's settings (instruction, template, chat_template, scoring, max_document_tokens,
    lm_batch_size, lm_dtype) are passed to `softtopic.views.lm.LanguageModelView`.
    """

    TEACHERS = ("lm", "encoder")
    TARGETS = ("soft-label", "bow")

    def __init__(self, n_topics: int = 50, *, teacher: str = "lm", lm: str | None = None,
                 target: str = "soft-label", tau: float = 3.0, weight: float = 1e3,
                 divergence: str = "kl", top_k: int | None = None,
                 encoder_scale: float = DEFAULT_SCALE, instruction: str = "default",
                 template: str | None = None, chat_template: bool = False,
                 scoring: str = "first-token", max_document_tokens: int = 512,
                 lm_batch_size: int | None = None, lm_dtype: str | None = None, **kwargs):
        self.teacher = teacher
        self.lm = lm
        self.target = target
        self.tau = tau
        self.weight = weight
        self.divergence = divergence
        self.top_k = top_k
        self.encoder_scale = encoder_scale
        self.instruction = instruction
        self.template = template
        self.chat_template = chat_template
        self.scoring = scoring
        self.max_document_tokens = max_document_tokens
        self.lm_batch_size = lm_batch_size
        self.lm_dtype = lm_dtype
        super().__init__(n_topics, **kwargs)

    @property
    def default_input(self) -> str:
        return "lm_hidden" if self.teacher == "lm" else "embedding"

    def _validate_params(self):
        super()._validate_params()
        if self.teacher not in self.TEACHERS:
            raise ValueError(f"teacher must be one of {self.TEACHERS}, got {self.teacher!r}")
        if self.target not in self.TARGETS:
            raise ValueError(f"target must be one of {self.TARGETS}, got {self.target!r}")
        if self.top_k is not None and (not isinstance(self.top_k, (int, np.integer))
                                       or self.top_k < 1):
            raise ValueError(f"top_k must be None or a positive integer, got {self.top_k!r}")
        if not self.encoder_scale > 0:
            raise ValueError(f"encoder_scale must be positive, got {self.encoder_scale!r}")
        if self.target == "soft-label":  # raises early on bad tau / divergence / top_k mixes
            self._build_target(None)

    def _teacher_feature(self) -> str:
        return "lm_logits" if self.teacher == "lm" else "encoder_logits"

    def _target_feature(self) -> str:
        return "bow" if self.target == "bow" else self._teacher_feature()

    def _build_target(self, ctx):
        if self.target == "bow":
            return BowReconstruction()
        return SoftLabelTarget(self._teacher_feature(), self.tau, self.weight, self.divergence,
                               self.top_k)

    def teacher_description(self) -> str:
        """What the soft label is, in words (saved with the model and shown in topic info)."""
        if self.target == "bow":
            return "none: reconstructs the bag of words (NLL)"
        if self.teacher == "lm":
            return (f"language model {self.lm!r}: next-token distribution over the vocabulary "
                    f"after the {self.instruction!r} prompt, tau={self.tau}")
        return (f"offline encoder approximation (not an LM): softmax({self.encoder_scale:g} * "
                f"cos(sentence embedding, word embedding) / {self.tau}) with {self.encoder!r}")

    def get_topic_info(self, top_n: int = 10):
        info = super().get_topic_info(top_n)
        info.attrs["teacher"] = self.teacher_description()
        return info

    def _state_config(self):
        return {**super()._state_config(), "teacher": self.teacher_description()}
