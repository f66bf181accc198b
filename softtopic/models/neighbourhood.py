"""A document's neighbourhood: its nearest neighbours by the model's input feature, and what is
pooled over them.

The neighbours are found by cosine of the model's first input feature (the sentence embedding
for the encoder teacher, the LM's hidden state for the LM teacher), among the training documents
of the fit (documents with no vocabulary word are neither neighbours nor trained on; their rows
are zero). Two derived features pool over them, from one search:

- "bow_neighbours", the neighbourhood bag of words. A short text (a title, a tweet) holds three
  to ten vocabulary words, so its normalised bag of words is a very noisy sample of its topic's
  word distribution: two tweets about the same event often share no word at all. Averaging the
  normalised bags of words of the document and its k - 1 nearest neighbours gives a denser
  estimate of the same distribution. The soft-label target mixes it in place of the document's
  own words (`SoftLabelPreset(bow_mix=a, bow_neighbours=k)`).
- "cluster_input", the input smoothed over the neighbourhood graph: each vector replaced by the
  mean of its own and its k - 1 neighbours' (unit-normalised), twice. k-means on it partitions
  the documents closer to their labels than k-means on the input itself (purity and NMI up on
  every benchmark corpus, e.g. 20NG K50 .574 / .484 -> .616 / .517; docs/soft-label-model.md,
  round 8): averaging pulls each document towards the dense middle of its group, so the groups
  separate. The cluster term reads it (`cluster_weight`, `cluster_neighbours`).
- "neighbour_graph", the neighbour lists themselves (one row per document: the indices of its
  cluster_neighbours - 1 nearest training documents, -1 for a document outside training), along
  which the cluster term's k-means cells are merged (`cluster_oversplit`,
  `softtopic.models.partition`).

issue 10 and docs/soft-label-model.md give the measurements. The search is exact and brute
force (scikit-learn's `NearestNeighbors`; cosine, as the Euclidean distance of unit vectors):
O(N^2 d) time and O(N k) memory for the neighbour lists, a few seconds for 20,000 documents;
the input feature's training rows are read into memory (also from a memory map, for a streamed
corpus: the streamed fit equals the in-memory one). The neighbourhood bag of words, in memory,
has at most k times the bag of words' non-zeros; the smoothed input is N x d float32. For
millions of documents set bow_neighbours=1 and cluster_neighbours=1 (no search), or pass
precomputed arrays of these names in features=.
"""
from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from .neural import derived_feature


def unit_rows(points: np.ndarray) -> np.ndarray:
    """The rows divided by their length, in place (zero rows stay zero)."""
    points /= np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)
    return points


def neighbourhood_mean(neighbours: np.ndarray, dtype=np.float32) -> sp.csr_matrix:
    """n x n: row i averages the rows neighbours[i] (indices into the same n documents)."""
    n, k = neighbours.shape
    return sp.csr_matrix((np.full(neighbours.size, 1.0 / k, dtype=dtype),
                          (np.repeat(np.arange(n), k), neighbours.ravel())), shape=(n, n))


def nearest_neighbours(X, k: int, rows: np.ndarray,
                       parameter: str = "bow_neighbours") -> np.ndarray:
    """(len(rows), k) indices into `rows`' documents: each document itself first, then its k - 1
    nearest other documents among `rows` by cosine of X's rows, nearest first. The document
    itself is always included, even where another document has the same vector. `parameter`:
    the model parameter that asked for k (named in the error when k is too large)."""
    rows = np.asarray(rows)
    if k > len(rows):
        raise ValueError(f"{parameter}={k} exceeds the number of training documents with "
                         f"vocabulary words ({len(rows)}); partial_fit finds neighbours among "
                         "the documents of each call")
    points = np.asarray(X[rows] if not sp.issparse(X) else X[rows].toarray(), dtype=np.float32)
    self_index = np.arange(len(rows))[:, None]
    if k == 1:
        return self_index
    # Euclidean distance between unit vectors ranks as cosine does (|a - b|^2 = 2 - 2 cos) and
    # takes scikit-learn's compiled chunked top-k (ArgKmin): 5.4 s against metric="cosine"'s
    # 7.9 s on the 18,846 x 384 subject-line embeddings, one thread. Zero vectors stay zero.
    points = unit_rows(points)
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
    normalised = (sp.diags(1.0 / np.maximum(lengths, 1.0)) @ bow)[rows]
    pooled = neighbourhood_mean(neighbours, np.float64) @ normalised
    placed = sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))),
                           shape=(bow.shape[0], len(rows)))     # row i of pooled -> rows[i]
    return sp.csr_matrix(placed @ pooled, dtype=np.float32)


# rounds of neighbourhood averaging for the cluster input: the second round still helps a little
# (k-means purity / NMI, bench/embedding_partitions.py: tweet89 K50 .859 / .907 after one, .869
# / .911 after two; 20NG K20 NMI .548 -> .554; subject lines K50 .554 / .476 -> .561 / .480),
# later ones barely, and each costs a sparse product N x k x d
SMOOTHING_ROUNDS = 2


def smoothed_input(X, neighbours: np.ndarray, rows: np.ndarray,
                   rounds: int = SMOOTHING_ROUNDS) -> np.ndarray:
    """N x d float32: row rows[i] is X's unit-normalised row averaged over the documents
    rows[neighbours[i]] and normalised again, `rounds` times (each round averages the previous
    round's vectors); rows outside `rows` are zero."""
    rows = np.asarray(rows)
    points = np.asarray(X[rows] if not sp.issparse(X) else X[rows].toarray(), dtype=np.float32)
    averaging = neighbourhood_mean(neighbours)
    points = unit_rows(points)
    for _ in range(rounds):
        points = unit_rows(np.asarray(averaging @ points, dtype=np.float32))
    out = np.zeros((X.shape[0], points.shape[1]), dtype=np.float32)
    out[rows] = points
    return out


def neighbour_graph(others: np.ndarray, rows: np.ndarray, n_documents: int) -> np.ndarray:
    """n_documents x k int64: row rows[i] holds the document indices rows[others[i]] (others:
    indices into `rows`); rows outside `rows` are -1."""
    out = np.full((n_documents, others.shape[1]), -1, dtype=np.int64)
    out[np.asarray(rows)] = np.asarray(rows)[others]
    return out


# the model parameter that sets each feature's k (named in errors)
PARAMETER = {"bow_neighbours": "bow_neighbours", "cluster_input": "cluster_neighbours",
             "neighbour_graph": "cluster_neighbours"}


@derived_feature(*PARAMETER)
def _neighbourhood_features(model, corpus, features, bow):
    """The neighbourhood features the model uses ({name: k}, `_neighbourhood_sizes`), from one
    search for the largest k (nearest first, so a smaller k takes the first columns)."""
    sizes = model._neighbourhood_sizes()
    source = model._neighbour_feature()
    if source not in features:
        raise ValueError(f"{' and '.join(sizes)} need the feature {source!r} to find "
                         "neighbours by")
    rows = np.setdiff1d(np.arange(bow.shape[0]), model.empty_documents_)
    largest = max(sizes, key=sizes.get)
    k = sizes[largest]
    if model.progress and k > 1:
        print(f"softtopic: {k - 1} nearest neighbours of {len(rows)} documents by {source} "
              "(exact, brute force)", file=sys.stderr)
    neighbours = nearest_neighbours(features[source], k, rows, parameter=PARAMETER[largest])
    out = {}
    if "bow_neighbours" in sizes:
        out["bow_neighbours"] = neighbour_bag_of_words(bow, neighbours[:, :sizes["bow_neighbours"]],
                                                       rows)
    if "cluster_input" in sizes:
        out["cluster_input"] = smoothed_input(features[source],
                                              neighbours[:, :sizes["cluster_input"]], rows)
    if "neighbour_graph" in sizes:
        out["neighbour_graph"] = neighbour_graph(neighbours[:, 1:sizes["neighbour_graph"]], rows,
                                                 bow.shape[0])
    return out
