"""After the fit: explore a model's documents and topics (tables, search, labels, topics over
time) and show them (an offline HTML report). Functions of (theta, topic-word, vocabulary,
texts), used by the Python API (`ExploreMixin`), the CLI and the report alike."""
from .documents import document_info, representative_docs
from .labels import TopicLabeler, parse_label
from .over_time import topics_over_time
from .search import SearchResult, TopicSearch

__all__ = ["SearchResult", "TopicLabeler", "TopicSearch", "document_info", "parse_label",
           "representative_docs", "topics_over_time"]
