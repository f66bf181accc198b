"""What a person asks a fitted model, as methods every softtopic model has (names follow
BERTopic where it has them). Each method is a thin call into the module that does the work
(documents, search, labels, over_time), so the CLI and the report use the same code.

The training documents: a model remembers the ids of the documents it was fitted on
(`document_ids_`, saved with it) and, until it is saved, a reference to their texts
(`documents_`); a loaded model has no texts (saved models hold no corpus text), so pass
`texts=` to the methods that show them.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from . import documents as _documents
from .labels import TopicLabeler, check_labels
from .over_time import topics_over_time as _topics_over_time
from .search import TopicSearch


class ExploreMixin:

    # ------------------------------------------------------------------ training documents
    def _remember_documents(self, corpus):
        """Keep the ids (a list, or for a streamed corpus its ids on disk) and the texts when
        the corpus holds them; a streamed corpus does not (`texts_not_kept_` says so)."""
        ids = corpus.ids
        self.document_ids_ = list(ids) if isinstance(ids, (list, tuple)) else ids
        if getattr(corpus, "is_stream", False):
            self.documents_ = None
            self.texts_not_kept_ = (f"the texts were not kept: the model was fitted on "
                                    f"{corpus.source}, streamed from disk")
        else:
            self.documents_ = corpus.texts
            self.texts_not_kept_ = None
        self._search_indexes = {}

    def _why_no_texts(self) -> str:
        why = getattr(self, "texts_not_kept_", None)
        return f" ({why}; e.g. texts=load_corpus(path).texts)" if why else ""

    def _training_texts(self, texts: Sequence[str] | None, warn: bool = True
                        ) -> Sequence[str] | None:
        """`texts` (checked against the training set) or the remembered ones, or None (with a
        warning when a streamed fit did not keep them)."""
        self._check_fitted()
        if texts is None:
            if warn and getattr(self, "texts_not_kept_", None):
                warnings.warn(f"{self.texts_not_kept_}: the result shows no texts; pass texts= "
                              "to show them", stacklevel=3)
            return getattr(self, "documents_", None)
        if isinstance(texts, str) or len(texts) != len(self.theta_):
            raise ValueError(f"texts must be the {len(self.theta_)} training documents in "
                             f"training order, got {1 if isinstance(texts, str) else len(texts)}")
        return list(texts)

    def _ids(self) -> list[str]:
        ids = getattr(self, "document_ids_", None)
        return list(ids) if ids is not None else [str(i) for i in range(len(self.theta_))]

    def _empty(self) -> np.ndarray:
        return np.asarray(getattr(self, "empty_documents_", []), dtype=int)

    # ------------------------------------------------------------------ labels
    def set_topic_labels(self, labels) -> "ExploreMixin":
        """Name topics by hand: {topic: "name"} for some topics, or a list for all. The names
        are saved with the model, written to topics.json and shown wherever labels are."""
        self._check_fitted()
        custom = dict(getattr(self, "custom_labels_", None) or {})
        custom.update(check_labels(labels, self.topic_word_.shape[0]))
        self.custom_labels_ = custom
        return self

    def generate_topic_labels(self, endpoint: str, model: str, n_words: int = 10,
                              n_docs: int = 3, texts: Sequence[str] | None = None,
                              **client_options) -> list[str]:
        """A short label per topic from an OpenAI-compatible chat endpoint, shown its top
        n_words and (when texts are known) its n_docs representative documents; the labels
        are set on the model and returned. Options go to softtopic.llm.ChatClient
        (api_key, max_workers, timeout, max_attempts, cache_dir, use_cache, ...)."""
        texts = self._training_texts(texts)
        words = self.get_topics(n_words)
        docs = None
        if texts is not None and n_docs > 0:
            rep = self.get_representative_docs(n=n_docs, texts=texts)
            docs = [list(rep.loc[rep.topic == k, "text"]) for k in range(len(words))]
        labels = TopicLabeler(endpoint, model, **client_options).label_topics(words, docs)
        self.set_topic_labels(labels)
        return labels

    # ------------------------------------------------------------------ documents
    def get_document_info(self, texts: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per training document: id, text (when known), topic, probability, label,
        top-3 topics and shares, empty flag."""
        texts = self._training_texts(texts)
        return _documents.document_info(self.theta_, self.topic_labels(), self._ids(), texts,
                                        self._empty())

    def get_representative_docs(self, topic: int | None = None, n: int = 5,
                                texts: Sequence[str] | None = None) -> pd.DataFrame:
        """Per topic (or one topic) the n training documents with the highest share of it."""
        texts = self._training_texts(texts)
        return _documents.representative_docs(self.theta_, topic, n, self._ids(), texts,
                                              self._empty())

    def find_topics(self, query: str, top_n: int = 5) -> tuple[list[int], list[float]]:
        """The topics a free-text query belongs to, with their shares, largest first."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        return _documents.ranked_topics(self.transform([query])[0], top_n)

    # ------------------------------------------------------------------ search
    def search(self, query: str | None = None, doc: str | int | None = None, k: int = 10,
               metric: str = "kl", texts: Sequence[str] | None = None) -> pd.DataFrame:
        """The k training documents nearest by topic distribution to a query text (through
        `transform`) or to a training document (by id; an int is a row), never the document
        itself and never an empty document. Exact; KL(query || document) or Hellinger."""
        if (query is None) == (doc is None):
            raise ValueError("pass exactly one of query= (a text) or doc= (a document id)")
        texts = self._training_texts(texts)
        index, rows = self._search_index(metric)
        if query is not None:
            if not isinstance(query, str) or not query.strip():
                raise ValueError("query must be a non-empty string")
            result = index.query(self.transform([query]), k)
        else:
            row = self._document_row(doc)
            if row in set(self._empty()):
                raise ValueError(f"document {doc!r} has no vocabulary word: its topic "
                                 "distribution says nothing to search with")
            result = index.query(self.theta_[row], k, exclude=np.searchsorted(rows, row))
        found = rows[result.indices[0]]
        labels = self.topic_labels()
        ids = self._ids()
        topic = self.theta_[found].argmax(1)
        table = {"rank": np.arange(len(found)), "row": found, "id": [ids[i] for i in found],
                 "distance": result.distances[0], "topic": topic,
                 "label": [labels[t] for t in topic]}
        if texts is not None:
            table["text"] = [texts[i] for i in found]
        return pd.DataFrame(table)

    def _search_index(self, metric: str) -> tuple[TopicSearch, np.ndarray]:
        """The search index over non-empty training documents (built once per metric)."""
        self._check_fitted()
        cache = getattr(self, "_search_indexes", None)
        if cache is None:
            cache = self._search_indexes = {}
        if metric not in cache:
            rows = np.setdiff1d(np.arange(len(self.theta_)), self._empty())
            cache[metric] = (TopicSearch(self.theta_[rows], metric), rows)
        return cache[metric]

    def _document_row(self, doc) -> int:
        n = len(self.theta_)
        if isinstance(doc, (int, np.integer)) and not isinstance(doc, bool):
            if not 0 <= doc < n:
                raise IndexError(f"document row {doc} out of range: {n} training documents")
            return int(doc)
        ids = self._ids()
        try:
            return ids.index(str(doc))
        except ValueError:
            raise ValueError(f"no training document has id {doc!r}") from None

    # ------------------------------------------------------------------ time
    def topics_over_time(self, timestamps: Sequence, bins: int = 20, top_n: int = 5,
                         texts: Sequence[str] | None = None) -> pd.DataFrame:
        """Per time bin and topic: the topic's share, its documents, and the words it uses
        in that bin's documents (needs the training texts)."""
        texts = self._training_texts(texts, warn=False)
        if texts is None:
            raise ValueError("topics_over_time needs the training texts: pass texts="
                             + self._why_no_texts())
        bow = self.vocabulary_.transform(texts)
        return _topics_over_time(self.theta_, self.topic_word_distribution(), bow,
                                 self.vocabulary_.words, timestamps, bins, top_n, self._empty())
