"""softtopic: topic models that learn from language models."""
__version__ = "0.1.0"

from .corpus import Corpus, CorpusError, load_corpus  # noqa: E402
from .streaming import CorpusStream, stream_corpus  # noqa: E402
from .models import (BAT, ECRTM, ETM, CombinedTM, ModelFileError, NeuralTopicModel,  # noqa: E402
                     NeuroMax, ProdLDA, SoftLabelECRTM, SoftLabelETM, SoftLabelFASTopic,
                     SoftLabelTM, TopicModel, ZeroShotTM, load)

__all__ = ["Corpus", "CorpusError", "load_corpus", "CorpusStream", "stream_corpus", "TopicModel", "NeuralTopicModel", "ProdLDA",
           "ZeroShotTM", "CombinedTM", "SoftLabelTM", "SoftLabelETM",
           "SoftLabelECRTM", "SoftLabelFASTopic", "ETM", "ECRTM", "BAT", "NeuroMax", "load",
           "ModelFileError", "__version__"]
