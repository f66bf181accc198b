from .base import TopicModel, load
from .neural import NeuralTopicModel
from .presets import CombinedTM, ProdLDA, SoftLabelTM, ZeroShotTM

__all__ = ["TopicModel", "NeuralTopicModel", "ProdLDA", "ZeroShotTM", "CombinedTM", "SoftLabelTM",
           "load"]
