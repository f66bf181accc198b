"""The neighbourhood bag of words: a document's words pooled with those of its nearest neighbours.

A short text (a title, a tweet) holds three to ten vocabulary words, so its normalised bag of
words is a very noisy sample of its topic's word distribution: two tweets about the same event
often share no word at all. Averaging the normalised bags of words of the document and its
k - 1 nearest neighbours (cosine of the model's input feature: the sentence embedding for the
encoder teacher, the LM's hidden state for the LM teacher) gives a denser estimate of the same
distribution. The soft-label target mixes it in place of the document's own words
(`SoftLabelPreset(bow_mix=a, bow_neighbours=k)`); issue 10 and docs/soft-label-model.md give the
measurements.

Registered as the derived feature "bow_neighbours": it is computed after (and from) the other
features of a fit, over the training documents of that fit only (documents with no vocabulary
word are neither neighbours nor trained on; their row is zero). The search is exact and brute
force (scikit-learn's `NearestNeighbors`; cosine, as the Euclidean distance of unit vectors):
O(N^2 d) time and O(N k) memory for the neighbour lists, a few seconds for 20,000 documents;
the input feature's training rows are read
into memory (also from a memory map, for a streamed corpus: the streamed fit equals the
in-memory one), and the result, in memory, has at most k times the bag of words' non-zeros. For
millions of documents set bow_neighbours=1 (the document's own words) or pass a precomputed
"bow_neighbours" array in features=.
"""
from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from .neural import derived_feature


def nearest_neighbours(X, k: int, rows: np.ndarray) -> np.ndarray:
    """(len(rows), k) indices into `rows`' documents: each document itself first, then its k - 1
    nearest other documents among `rows` by cosine of X's rows, nearest first. The document
    itself is always included, even where another document has the same vector."""
    rows = np.asarray(rows)
    if k > len(rows):
        raise ValueError(f"bow_neighbours={k} exceeds the number of training documents with "
                         f"vocabulary words ({len(rows)}); partial_fit finds neighbours among "
                         "the documents of each call")
    points = np.asarray(X[rows] if not sp.issparse(X) else X[rows].toarray(), dtype=np.float32)
    self_index = np.arange(len(rows))[:, None]
    if k == 1:
        return self_index
    # Euclidean distance between unit vectors ranks as cosine does (|a - b|^2 = 2 - 2 cos) and
    # takes scikit-learn's compiled chunked top-k (ArgKmin): 5.4 s against metric="cosine"'s
    # 7.9 s on the 18,846 x 384 subject-line embeddings, one thread. Zero vectors stay zero.
    points /= np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)
    # kneighbors(None) leaves each query point out of its own list (by index, not by value)
    search = NearestNeighbors(n_neighbors=k - 1, metric="euclidean", algorithm="brute").fit(points)
    others = search.kneighbors(None, return_distance=False)
    return np.hstack([self_index, others])


def neighbour_bag_of_words(bow, neighbours: np.ndarray, rows: np.ndarray) -> sp.csr_matrix:
    """N x V float32: row rows[i] is the mean of the length-normalised bags of words of the
    documents rows[neighbours[i]] (each row sums to 1); rows outside `rows` are zero."""
    rows = np.asarray(rows)
    bow = sp.csr_matrix(bow, dtype=np.float64)
    lengths = np.asarray(bow.sum(axis=1)).ravel()
    normalised = sp.diags(1.0 / np.maximum(lengths, 1.0)) @ bow
    k = neighbours.shape[1]
    averaging = sp.csr_matrix(
        (np.full(neighbours.size, 1.0 / k), (np.repeat(rows, k), rows[neighbours].ravel())),
        shape=(bow.shape[0], bow.shape[0]))
    return sp.csr_matrix(averaging @ normalised, dtype=np.float32)


@derived_feature("bow_neighbours")
def _neighbour_bow_feature(model, corpus, features, bow):
    k = int(getattr(model, "bow_neighbours", 1))
    source = model._neighbour_feature()
    if source not in features:
        raise ValueError(f"bow_neighbours needs the feature {source!r} to find neighbours by")
    rows = np.setdiff1d(np.arange(bow.shape[0]), model.empty_documents_)
    if model.progress and k > 1:
        print(f"softtopic: {k - 1} nearest neighbours of {len(rows)} documents by {source} "
              "(exact, brute force)", file=sys.stderr)
    neighbours = nearest_neighbours(features[source], k, rows)
    return {"bow_neighbours": neighbour_bag_of_words(bow, neighbours, rows)}
