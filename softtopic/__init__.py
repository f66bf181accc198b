"""softtopic: topic models that learn from language models."""
__version__ = "0.1.0"

from .corpus import Corpus, CorpusError, load_corpus  # noqa: E402
from .models import (BAT, CombinedTM, NeuralTopicModel, ProdLDA, TopicModel,  # noqa: E402
                     ZeroShotTM, load)
from .models import ECRTM, ETM, NeuroMax  # noqa: E402

__all__ = ["Corpus", "CorpusError", "load_corpus", "TopicModel", "NeuralTopicModel", "ProdLDA",
           "ZeroShotTM", "CombinedTM", "ETM", "ECRTM", "BAT", "NeuroMax", "load",
           "__version__"]
