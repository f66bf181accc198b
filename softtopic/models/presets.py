"""Named models: the backbone with a choice of input, decoder, target and regularisers.

An ablation or a new model is a new preset here, not a new copy of the training code.
"""
from __future__ import annotations

from .neural import NeuralTopicModel


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
