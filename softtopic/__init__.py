"""softtopic: topic models that learn from language models."""
__version__ = "0.1.0"

from .corpus import Corpus, CorpusError, load_corpus  # noqa: E402
from .models import (BAT, CombinedTM, NeuralTopicModel, ProdLDA, TopicModel,  # noqa: E402
                     ZeroShotTM, load)

__all__ = ["Corpus", "CorpusError", "load_corpus", "TopicModel", "NeuralTopicModel", "ProdLDA",
           "ZeroShotTM", "CombinedTM", "BAT", "load", "__version__"]
