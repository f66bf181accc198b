from .bat import BAT
from .base import TopicModel, load
from .neural import NeuralTopicModel
from .neuromax import NeuroMax
from .presets import ECRTM, ETM, CombinedTM, ProdLDA, SoftLabelTM, ZeroShotTM

__all__ = ["TopicModel", "NeuralTopicModel", "ProdLDA", "ZeroShotTM", "CombinedTM", "SoftLabelTM",
           "ETM", "ECRTM", "BAT", "NeuroMax", "load"]
