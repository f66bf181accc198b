"""Baselines with maintained official packages, wrapped behind the estimator API."""
from .lda import LDA

__all__ = ["LDA"]
