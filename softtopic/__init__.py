"""softtopic: topic models that learn from language models."""
__version__ = "0.1.0"
