"""Baselines with maintained official packages, wrapped behind the estimator API. The packages
of FASTopic and BERTopic are optional (pip install 'softtopic[baselines]'); they are imported
only when such a model is fitted."""
from .bertopic import BERTopic
from .fastopic import FASTopic
from .lda import LDA

__all__ = ["LDA", "FASTopic", "BERTopic"]
