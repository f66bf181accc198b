from .bat import BAT
from .base import TopicModel, load
from .neural import NeuralTopicModel
from .presets import CombinedTM, ProdLDA, ZeroShotTM

__all__ = ["TopicModel", "NeuralTopicModel", "ProdLDA", "ZeroShotTM", "CombinedTM", "BAT", "load"]
