"""What the report's plots show, computed once from a fitted model and drawn twice (plotly
for the HTML report, matplotlib for static images): plain arrays, no drawing here."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import jensenshannon, pdist, squareform


@dataclass
class TopicMap:
    """Topics placed in 2-D by classical MDS (principal coordinates) of the Jensen-Shannon
    distances between their topic-word distributions, LDAvis's default; bubble size =
    prevalence (mean theta)."""
    x: np.ndarray
    y: np.ndarray
    prevalence: np.ndarray
    labels: list[str]
    words: list[str]


@dataclass
class DocumentMap:
    """A sample of documents in 2-D, from their topic distributions (square roots of theta, so
    that Euclidean distance is the Hellinger distance); coloured by most probable topic."""
    rows: np.ndarray
    x: np.ndarray
    y: np.ndarray
    topic: np.ndarray
    hover: list[str]
    method: str
    n_documents: int


def topic_map(topic_word: np.ndarray, theta: np.ndarray, labels, top_words, seed: int = 0
              ) -> TopicMap:
    k = topic_word.shape[0]
    prevalence = np.asarray(theta, dtype=np.float64).mean(axis=0)
    distances = squareform(pdist(np.asarray(topic_word, np.float64), jensenshannon))
    xy = principal_coordinates(np.nan_to_num(distances))
    words = [", ".join(w[:8]) for w in top_words]
    return TopicMap(xy[:, 0], xy[:, 1], prevalence, list(labels), words)


def principal_coordinates(distances: np.ndarray, dims: int = 2) -> np.ndarray:
    """Classical MDS: the top eigenvectors of the double-centred squared distances, scaled by
    the square roots of their eigenvalues (LDAvis's jsPCA); deterministic up to sign, which is
    fixed so the largest coordinate of each axis is positive."""
    n = len(distances)
    centring = np.eye(n) - 1.0 / n
    b = -0.5 * centring @ (distances ** 2) @ centring
    values, vectors = np.linalg.eigh(b)
    order = np.argsort(values)[::-1][:dims]
    xy = vectors[:, order] * np.sqrt(np.maximum(values[order], 0))
    xy *= np.sign(xy[np.abs(xy).argmax(axis=0), np.arange(xy.shape[1])] + 1e-300)
    if xy.shape[1] < dims:
        xy = np.column_stack([xy, np.zeros((n, dims - xy.shape[1]))])
    return xy


def topic_similarity(topic_word: np.ndarray) -> np.ndarray:
    """Cosine similarity between topic-word distributions, K x K."""
    w = np.asarray(topic_word, np.float64)
    w = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-300)
    return w @ w.T


def project(points: np.ndarray, method: str, seed: int) -> tuple[np.ndarray, str]:
    """2-D coordinates: UMAP when installed (method "auto" or "umap"), else PCA."""
    if method in ("auto", "umap"):
        try:
            import umap
        except ImportError:
            if method == "umap":
                raise ValueError("the document map's UMAP projection needs umap-learn: "
                                 "pip install umap-learn (or use --projection pca)") from None
        else:
            reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(points) - 1),
                                random_state=seed, metric="euclidean")
            return reducer.fit_transform(points), "UMAP"
    elif method != "pca":
        raise ValueError(f"projection must be auto, umap or pca, got {method!r}")
    from sklearn.decomposition import PCA
    n = min(2, points.shape[1], len(points))
    xy = PCA(n_components=n, random_state=seed).fit_transform(points)
    if xy.shape[1] < 2:
        xy = np.column_stack([xy, np.zeros((len(xy), 2 - xy.shape[1]))])
    return xy, "PCA"


def document_map(theta: np.ndarray, ids, texts=None, exclude=(), max_documents: int = 3000,
                 method: str = "auto", seed: int = 0) -> DocumentMap:
    """At most `max_documents` documents (a seeded uniform sample; empty documents left out)."""
    theta = np.asarray(theta, np.float64)
    candidates = np.setdiff1d(np.arange(len(theta)), np.asarray(list(exclude), dtype=int))
    rng = np.random.default_rng(seed)
    rows = (np.sort(rng.choice(candidates, max_documents, replace=False))
            if len(candidates) > max_documents else candidates)
    if len(rows) < 3:
        xy, used = np.zeros((len(rows), 2)), "none"
    else:
        xy, used = project(np.sqrt(theta[rows]), method, seed)
    topic = theta[rows].argmax(axis=1)
    hover = []
    for i in rows:
        text = "" if texts is None else " ".join(str(texts[i]).split())[:120]
        hover.append(f"{ids[i]}: {text}" if text else str(ids[i]))
    return DocumentMap(rows, xy[:, 0], xy[:, 1], topic, hover, used, len(theta))
