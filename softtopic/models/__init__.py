from .bat import BAT
from .base import ModelFileError, TopicModel, load
from .neural import NeuralTopicModel
from .neuromax import NeuroMax
from .presets import (ECRTM, ETM, CombinedTM, ProdLDA, SoftLabelECRTM, SoftLabelETM,
                      SoftLabelFASTopic, SoftLabelPreset, SoftLabelTM, TransportPlanTM,
                      ZeroShotTM)

__all__ = ["TopicModel", "NeuralTopicModel", "ProdLDA", "ZeroShotTM", "CombinedTM", "SoftLabelTM",
           "SoftLabelPreset", "SoftLabelETM", "SoftLabelECRTM", "SoftLabelFASTopic",
           "TransportPlanTM", "ETM", "ECRTM", "BAT", "NeuroMax", "ModelFileError",
           "load"]
