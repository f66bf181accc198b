"""The partition the cluster term holds each document's dominant topic to: K centroids of the
training documents' unit-normalised vectors (`ClusterAssignmentRegularizer`).

Plain k-means (`oversplit=1`) cuts the documents into K cells of about equal spread. Where the
groups are very unequal (a tweet corpus: 2,472 tweets in 89 events, the largest 249 tweets, 18
of them 4 or fewer), it splits large groups in two and lumps small ones together, and NMI
suffers. With `oversplit=m` and the documents' nearest-neighbour graph, k-means first cuts m x K
cells; the cells are merged to K by greedy modularity on the graph (Clauset-Newman-Moore,
networkx's `greedy_modularity_communities`): two cells of one group share many neighbour edges,
more than their sizes predict, so they merge first; then k-means runs again from the merged
groups' means, so every final cluster is a Voronoi cell again (the merge alone leaves some
sprawling, mixed groups on overlapping corpora; the refinement won back purity on the 20NG
subject lines and messages). Measured on the three benchmark corpora (bench/embedding_partitions.py,
docs/soft-label-model.md round 10).

The refinement draws straight Voronoi boundaries, and where a boundary runs through a small tight
group (a 9-tweet event between two larger ones) it splits the group. Such a cut is told apart
from a cut between two real groups by the neighbour edges inside the first-stage cell it crosses:
between two groups few edges cross it; through one group about as many cross it as would cross a
random split of the cell in the same proportions. A cell whose cut is no better than random is
kept whole, in the cluster most of its documents are in (`cell_clusters`; round 15: tweet89
K 50 +.006 NMI, every other benchmark setting unchanged). The partition is then no longer the
Voronoi cells of K centroids, so it is kept as a lookup (`Partition`): the nearest cell, and that
cell's cluster, or, for a cell whose cut stands, the nearest centroid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

# k-means reads at most this many training documents (drawn with the seed): centroids from a
# sample this size are as good for assigning documents, and a streamed corpus of millions of
# rows is never copied into memory whole.
KMEANS_SAMPLE = 100_000


@dataclass
class Partition:
    """K clusters of unit-normalised vectors. centroids: K x D. cells: M x D first-stage
    centroids, and cell_cluster: each cell's cluster, or -1 where the cell is split between
    clusters by the nearest centroid; M = 0 for plain Voronoi cells of the centroids."""
    centroids: np.ndarray
    cells: np.ndarray
    cell_cluster: np.ndarray

    def assign(self, points: np.ndarray) -> np.ndarray:
        """Each row's cluster (`nearest_clusters`)."""
        import torch
        return nearest_clusters(torch.from_numpy(np.asarray(points, np.float32)),
                                *(torch.from_numpy(np.asarray(a)) for a in
                                  (self.centroids, self.cells, self.cell_cluster))).numpy()


def nearest_clusters(x, centroids, cells, cell_cluster):
    """Each row of x's cluster (torch tensors; the rows are unit-normalised first): its nearest
    cell's cluster, or where that cell's cut stands (-1) or there are no cells, its nearest
    centroid's. The one rule of `Partition.assign` and `ClusterAssignmentRegularizer`."""
    import torch
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cluster = torch.cdist(x, centroids).argmin(1)
    if len(cells):
        whole = cell_cluster.long()[torch.cdist(x, cells).argmin(1)]
        cluster = torch.where(whole >= 0, whole, cluster)
    return cluster


def kmeans_partition(X, n_clusters: int, seed: int, rows: np.ndarray | None = None,
                     sample: int = KMEANS_SAMPLE, graph: np.ndarray | None = None,
                     oversplit: int = 1) -> Partition:
    """K clusters of the unit-normalised `rows` of X (default all; dense, sparse or
    memory-mapped; at most `sample` of them, drawn with `seed`, are read): scikit-learn's k-means
    (one k-means++ start, `seed`), or with oversplit > 1 `merged_kmeans` into oversplit x K
    cells, each cell looked up as `cell_clusters` says.

    graph: one row per document of X, the indices (into X's rows) of its nearest neighbours, -1
    where there is none; only edges between the documents read count."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import normalize
    rows = np.arange(X.shape[0]) if rows is None else np.asarray(rows)
    if len(rows) > sample:
        rows = rows[np.sort(np.random.default_rng(seed).choice(len(rows), sample, replace=False))]
    if len(rows) < n_clusters:
        raise ValueError(f"cluster_weight needs at least n_topics={n_clusters} training "
                         f"documents for k-means, got {len(rows)}")
    # a bag-of-words input stays sparse (scikit-learn's k-means and normalize take it)
    points = X[rows].astype(np.float32) if sp.issparse(X) else np.asarray(X[rows], np.float32)
    points = normalize(points)
    n_cells = min(oversplit * n_clusters, len(rows))
    no_cells = (np.zeros((0, points.shape[1]), np.float32), np.zeros(0, np.int64))
    if oversplit == 1 or n_cells == n_clusters:
        centroids = KMeans(n_clusters, n_init=1, random_state=seed).fit(points).cluster_centers_
        return Partition(centroids.astype(np.float32), *no_cells)
    if graph is None:
        raise ValueError("oversplit > 1 merges k-means cells along the neighbour graph; "
                         "pass graph")
    merged = merged_kmeans(points, n_clusters, seed, rows, graph, n_cells)
    return Partition(merged.centroids, merged.cell_centroids,
                     cell_clusters(merged.cells, merged.clusters, rows, graph, n_cells,
                                   n_clusters))


@dataclass
class MergedKMeans:
    cells: np.ndarray            # each point's first-stage cell
    clusters: np.ndarray         # each point's final cluster (its nearest centroid)
    centroids: np.ndarray        # K x D float32, refined
    cell_centroids: np.ndarray   # n_cells x D float32


def merged_kmeans(points, n_clusters: int, seed: int, rows: np.ndarray, graph: np.ndarray,
                  n_cells: int) -> MergedKMeans:
    """k-means into n_cells cells of `points` (the unit-normalised rows `rows` of the documents
    `graph` describes), the cells merged to n_clusters by `modularity_merge`, then k-means again
    from the merged groups' means."""
    from sklearn.cluster import KMeans
    first = KMeans(n_cells, n_init=1, random_state=seed).fit(points)
    cells = first.labels_
    group = modularity_merge(cell_edges(cells, n_cells, rows, graph), n_clusters)
    labels = group[cells]
    means = np.stack([np.asarray(points[labels == g].mean(axis=0)).ravel()
                      for g in range(n_clusters)])
    refined = KMeans(n_clusters, init=means, n_init=1).fit(points)
    return MergedKMeans(cells, refined.labels_, refined.cluster_centers_.astype(np.float32),
                        first.cluster_centers_.astype(np.float32))


def cell_clusters(cells: np.ndarray, clusters: np.ndarray, rows: np.ndarray, graph: np.ndarray,
                  n_cells: int, n_clusters: int) -> np.ndarray:
    """Each cell's cluster in the partition: the one cluster its points are in; for a cell that
    `clusters` splits, -1 (its points keep their own clusters), unless the neighbour edges inside
    the cell cross the split at least as often as they would cross a random split of the cell
    into parts of the same sizes (fraction 1 - sum of the squared part shares): then the cluster
    most of its points are in (kept whole). A boundary between two groups of documents is
    crossed by few edges (on the 20NG subject lines, a fifth as many as at random); one through a
    tight group by as many as at random or more (tweet89)."""
    source, target = edges_among(rows, graph)
    inside = cells[source] == cells[target]
    edges = np.bincount(cells[source[inside]], minlength=n_cells)
    crossing = np.bincount(cells[source[inside & (clusters[source] != clusters[target])]],
                           minlength=n_cells)
    counts = np.zeros((n_cells, n_clusters))
    np.add.at(counts, (cells, clusters), 1)
    shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    at_random = 1 - (shares ** 2).sum(1)
    cut = at_random > 0
    kept_whole = cut & (edges > 0) & (crossing >= at_random * edges)
    return np.where(cut & ~kept_whole, -1, counts.argmax(1))


def edges_among(rows: np.ndarray, graph: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The neighbour edges whose two ends are both among `rows`, as positions in `rows`
    (source, target); graph: one row per document, -1 where there is no neighbour."""
    position = np.full(len(graph), -1)
    position[rows] = np.arange(len(rows))
    neighbours = np.asarray(graph[rows])
    source = np.repeat(np.arange(len(rows)), neighbours.shape[1])
    target = np.where(neighbours.ravel() >= 0, position[neighbours.ravel().clip(0)], -1)
    keep = target >= 0
    return source[keep], target[keep]


def cell_edges(cells: np.ndarray, n_cells: int, rows: np.ndarray,
               graph: np.ndarray) -> np.ndarray:
    """n_cells x n_cells symmetric counts of neighbour edges between cells (the diagonal: twice
    the edges inside a cell), over the edges whose two ends are both among `rows`."""
    source, target = edges_among(rows, graph)
    counts = sp.coo_matrix((np.ones(len(source)), (cells[source], cells[target])),
                           shape=(n_cells, n_cells)).toarray()
    return counts + counts.T


def modularity_merge(edges: np.ndarray, n_groups: int) -> np.ndarray:
    """Each cell's group (0..n_groups-1): the cells (nodes of a graph weighted by `edges`, as
    `cell_edges` gives them) merged by Clauset-Newman-Moore greedy modularity (resolution 1),
    continued past the modularity maximum or stopped before it so that exactly n_groups remain."""
    import networkx as nx
    from networkx.algorithms.community import greedy_modularity_communities
    n = len(edges)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    upper = np.triu(edges, 1)
    graph.add_weighted_edges_from(zip(*np.nonzero(upper), upper[np.nonzero(upper)]))
    # a self-loop of weight w adds 2w to a node's degree: half the diagonal keeps each cell's
    # degree its total edge count, as modularity on the documents' graph has it
    graph.add_weighted_edges_from((i, i, edges[i, i] / 2) for i in range(n) if edges[i, i])
    groups = greedy_modularity_communities(graph, weight="weight", cutoff=n_groups,
                                           best_n=n_groups)
    label = np.empty(n, dtype=np.int64)
    for g, members in enumerate(sorted(groups, key=min)):   # numbered by their first cell
        label[list(members)] = g
    return label
