from .bat import BAT
from .base import TopicModel, load
from .neural import NeuralTopicModel
from .neuromax import NeuroMax
from .presets import ECRTM, ETM, CombinedTM, ProdLDA, ZeroShotTM

__all__ = ["TopicModel", "NeuralTopicModel", "ProdLDA", "ZeroShotTM", "CombinedTM", "ETM", "ECRTM",
           "BAT", "NeuroMax", "load"]
