"""How close to the labels can a partition of the cached sentence embeddings get? (issue 10)

The cluster term (`cluster_weight`) makes each document's dominant topic follow a k-means
partition, so the model's partition is at best that one. This prints purity and NMI of
partitions of the same unit-normalised MiniLM embeddings that bench/soft_label_variants.py
caches (run it once per corpus first), mean over k-means seeds:

    kmeans        k-means on the embeddings (round 7's cluster term)
    smoothK:T     k-means on the embeddings averaged over each document's K nearest neighbours
                  (itself included), T rounds: `softtopic.models.neighbourhood.smoothed_input`,
                  what the cluster term reads at cluster_neighbours=K (T = 2)
    spectralK     scikit-learn's spectral clustering on the K-nearest-neighbour graph
    averageK:T    average-linkage (cosine) agglomerative clustering of the smoothed vectors
                  (one run: deterministic; O(N^2) memory)
    overM         k-means into M x K clusters of the smoothed vectors (10 neighbours, twice),
                  merged to K by Ward's criterion on the size-weighted centroids (HDBSCAN-then-
                  reduce in spirit: few clusters split one dense label)
    mergeM        round 10's partition at cluster_oversplit=M: k-means into M x K cells of the
                  smoothed vectors (10 neighbours, twice), merged to K by greedy modularity on
                  the 10-neighbour graph of the embeddings, refined by k-means; merge1 is plain
                  smoothed k-means
    wholeM        the cluster term's partition at cluster_oversplit=M (`softtopic.models.
                  partition.kmeans_partition`): mergeM with the cells whose refined cut is no
                  better than a random split of the cell kept whole (round 15)
    snap          merge3, then every one of its 3K first k-means cells given wholly to the final
                  cluster most of its documents are in (round 11: keeps small tight groups whole)
    sharedS       merge3, then every connected group of mutual neighbours that share at least S of
                  their 10-neighbour lists given wholly to its majority cluster (round 11)
    voteN         merge3, then each document moved to the cluster most of its N nearest
                  neighbours (itself included) are in (round 11)
    sharedS:W     sharedS on the pairs that also share at least W vocabulary words (the cached
                  bag of words; round 12: the words cut the chains of sharedS on short texts)
    groupmeanS:W  merge3 on the smoothed vectors with every sharedS:W group's members given the
                  group's mean (round 12: groups kept whole inside k-means instead of after it)
    hdbscanM      merge3, then every cluster HDBSCAN (leaf selection, min_cluster_size M) finds
                  on BERTopic's UMAP of the embeddings given wholly to its majority cluster;
                  HDBSCAN's outliers keep theirs (round 12: BERTopic's own density clusters)
    gmm[KIND]     merge3, refined by a Gaussian mixture (scikit-learn, covariance KIND: spherical
                  by default, or diag) started from merge3's centroids: clusters of unequal spread
                  and weight instead of equal Voronoi cells (round 15)
    fineF         merge3 into F x K clusters, then those merged whole to K by greedy modularity on
                  the neighbour graph, no refinement: BERTopic's "find fine clusters, then reduce"
                  with merge3 as the fine partition (round 15)
    fsnapS        snap with first-stage cells of about S documents (max(3K, N / S) cells) instead
                  of 3K; fmergeS: the same cells, merge3 without the snap (round 15)
    linkM:L       wholeM with the modularity merge replaced by L-linkage (average: cosine; ward)
                  agglomerative clustering of the M x K cell centroids, then refined and the cut
                  cells kept whole as wholeM (round 16)
    umap[N]       k-means on BERTopic's UMAP of the embeddings (5 dims, N = 15 neighbours,
                  cosine, min_dist 0); umap+smoothK:T: UMAP of the smoothed vectors

    OMP_NUM_THREADS=1 python bench/embedding_partitions.py tweet89 --k 50 \
        --methods kmeans,smooth10:1,smooth10:2,spectral10,average10:2
"""
import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.stats import entropy
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.metrics import (mutual_info_score, normalized_mutual_info_score,
                             pairwise_distances_argmin)

from softtopic.models.neighbourhood import (nearest_neighbours, neighbour_graph, smoothed_input,
                                            unit_rows)
from softtopic.models.partition import (cell_clusters, cell_edges, kmeans_partition,
                                       merged_kmeans, modularity_merge)


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    return sum(Counter(labels[clusters == c]).most_common(1)[0][1]
               for c in np.unique(clusters)) / len(labels)


def conditional_entropies(labels: np.ndarray, clusters: np.ndarray) -> tuple[float, float]:
    """(H(C|Y), H(Y|C)) in nats: how much the partition splits the labels' documents, and how
    much it mixes labels in a cluster. NMI = 2 (H(Y) - H(Y|C)) / (H(Y) + H(C))."""
    mi = mutual_info_score(labels, clusters)
    return (entropy(np.bincount(clusters)) - mi,
            entropy(np.unique(labels, return_counts=True)[1]) - mi)


def ward_merge(centroids: np.ndarray, sizes: np.ndarray, k: int) -> np.ndarray:
    """Merge clusters to k, each step the pair of least Ward cost n_a n_b / (n_a + n_b) |c_a -
    c_b|^2 (scipy's linkage takes no weights); returns each input cluster's merged label."""
    C, n = centroids.astype(np.float64), sizes.astype(np.float64)
    label, alive = np.arange(len(C)), list(range(len(C)))
    while len(alive) > k:
        a = np.array(alive)
        cost = (n[a, None] * n[None, a] / (n[a, None] + n[None, a])
                * ((C[a, None] - C[None, a]) ** 2).sum(-1))
        np.fill_diagonal(cost, np.inf)
        i, j = np.unravel_index(cost.argmin(), cost.shape)
        keep, gone = a[i], a[j]
        C[keep] = (n[keep] * C[keep] + n[gone] * C[gone]) / (n[keep] + n[gone])
        n[keep] += n[gone]
        label[label == gone] = keep
        alive.remove(gone)
    return np.unique(label, return_inverse=True)[1]


def majority(members: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """For each group 0..members.max(): the label most of its members (pairs members[i],
    labels[i]) have."""
    counts = sp.coo_matrix((np.ones(len(members)), (members, labels)),
                           shape=(members.max() + 1, k)).toarray()
    return counts.argmax(1)


def strong_groups(neighbours: np.ndarray, shared: int, bow=None, words: int = 0) -> np.ndarray:
    """Connected components of the pairs of mutual neighbours whose neighbour lists (themselves
    included) share at least `shared` documents and, with `bow` (documents x vocabulary), whose
    documents share at least `words` vocabulary words."""
    n, k = neighbours.shape
    A = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), neighbours.ravel())),
                      shape=(n, n))
    strong = A.multiply(A @ A.T)            # on each edge: the shared-neighbour count
    strong.data = (strong.data >= shared).astype(np.float64)
    strong = strong.multiply(strong.T).tocoo()
    if words:
        present = (bow > 0).astype(np.float64).tocsr()
        common = np.asarray(present[strong.row].multiply(present[strong.col]).sum(1)).ravel()
        strong.data = strong.data * (common >= words)
    strong = strong.tocsr()
    strong.eliminate_zeros()   # csgraph counts a stored zero as an edge
    return connected_components(strong, directed=False)[1]


def bertopic_umap(E: np.ndarray, seed: int, neighbours: int = 15) -> np.ndarray:
    """BERTopic's default reduction: UMAP to 5 dimensions, cosine, min_dist 0."""
    import umap
    return umap.UMAP(n_neighbors=neighbours, n_components=5, metric="cosine", min_dist=0.0,
                     random_state=seed).fit_transform(E)


def neighbourhood(E: np.ndarray, rows: np.ndarray):
    """The cluster term's inputs at its defaults: each document's 10 nearest neighbours (itself
    first), the embeddings smoothed over them twice, and the neighbour graph."""
    neighbours = nearest_neighbours(E, 10, rows)
    return (neighbours, smoothed_input(E, neighbours, rows, rounds=2),
            neighbour_graph(neighbours[:, 1:], rows, len(E)))


def partition(method: str, E: np.ndarray, k: int, seed: int, bow=None) -> np.ndarray:
    rows = np.arange(len(E))
    if method == "kmeans":
        return KMeans(k, n_init=1, random_state=seed).fit_predict(E)
    if method.startswith("spectral"):
        return SpectralClustering(k, affinity="nearest_neighbors",
                                  n_neighbors=int(method[len("spectral"):]),
                                  assign_labels="cluster_qr", random_state=seed).fit_predict(E)
    if method.startswith("umap"):      # k-means on BERTopic's UMAP (5 dims, 15 neighbours)
        if "+" in method:                # umap+smoothK:T: UMAP of the smoothed vectors
            method, _, inner = method.partition("+")
            name, _, rounds = inner.partition(":")
            E = smoothed_input(E, nearest_neighbours(E, int(name[6:]), rows), rows,
                               rounds=int(rounds or 2))
        return KMeans(k, n_init=1, random_state=seed).fit_predict(
            bertopic_umap(E, seed, int(method[4:] or 15)))
    if method.startswith("whole"):
        neighbours, Z, graph = neighbourhood(E, rows)
        return kmeans_partition(Z, k, seed, graph=graph, oversplit=int(method[5:])).assign(Z)
    if method.startswith("link"):
        neighbours, Z, graph = neighbourhood(E, rows)
        oversplit, _, linkage = method[4:].partition(":")
        n_cells = int(oversplit) * k
        first = KMeans(n_cells, n_init=1, random_state=seed).fit(Z)
        cells = first.labels_
        group = AgglomerativeClustering(k, linkage=linkage or "average",
                                        metric="euclidean" if linkage == "ward" else "cosine"
                                        ).fit_predict(first.cluster_centers_)[cells]
        means = np.stack([Z[group == g].mean(0) for g in range(k)])
        refined = KMeans(k, init=means, n_init=1).fit(Z).labels_
        whole = cell_clusters(cells, refined, rows, graph, n_cells, k)[cells]
        return np.where(whole >= 0, whole, refined)
    if method.startswith(("gmm", "fine", "fsnap", "fmerge")):
        neighbours, Z, graph = neighbourhood(E, rows)
        if method.startswith("gmm"):
            from sklearn.mixture import GaussianMixture
            C = merged_kmeans(Z, k, seed, rows, graph, 3 * k).centroids
            return GaussianMixture(k, covariance_type=method[3:] or "spherical", means_init=C,
                                   reg_covar=1e-4, random_state=seed).fit(Z).predict(Z)
        if method.startswith("fine"):
            m = int(round(float(method[4:]) * k))
            fine = merged_kmeans(Z, m, seed, rows, graph, 3 * k).clusters
            return modularity_merge(cell_edges(fine, m, rows, graph), k)[fine]
        n_cells = max(3 * k, len(E) // int(method.lstrip("fsnapmerge")))
        merged = merged_kmeans(Z, k, seed, rows, graph, n_cells)
        cells, labels = merged.cells, merged.clusters
        return labels if method.startswith("fmerge") else majority(cells, labels, k)[cells]
    if method.startswith(("merge", "snap", "shared", "vote", "hdbscan", "groupmean")):
        neighbours, Z, graph = neighbourhood(E, rows)
        if method.startswith("groupmean"):
            shared, _, words = method[9:].partition(":")
            groups = strong_groups(neighbours, int(shared), bow, int(words or 0))
            sums = sp.csr_matrix((np.ones(len(E)), (groups, rows))) @ Z
            Z = unit_rows(np.asarray(sums, dtype=np.float32)[groups])
            method = "merge3"
        if method.startswith("merge"):
            C = kmeans_partition(Z, k, seed, graph=graph, oversplit=int(method[5:])).centroids
            return pairwise_distances_argmin(Z, C)   # each document's nearest centroid
        merged = merged_kmeans(Z, k, seed, rows, graph, 3 * k)
        cells, labels = merged.cells, merged.clusters
        if method.startswith("vote"):    # each document: its N nearest neighbours' majority
            voters = neighbours[:, :int(method[4:])]
            return majority(np.repeat(rows, voters.shape[1]), labels[voters].ravel(), k)
        if method.startswith("hdbscan"):  # outliers (-1) keep their cluster
            import hdbscan
            units = hdbscan.HDBSCAN(min_cluster_size=int(method[7:]),
                                    cluster_selection_method="leaf").fit_predict(
                bertopic_umap(E, seed))
            inside = units >= 0
            labels[inside] = majority(units[inside], labels[inside], k)[units[inside]]
            return labels
        if method == "snap":
            units = cells
        else:
            shared, _, words = method[6:].partition(":")
            units = strong_groups(neighbours, int(shared), bow, int(words or 0))
        return majority(units, labels, k)[units]
    if method.startswith("over"):
        Z = smoothed_input(E, nearest_neighbours(E, 10, rows), rows, rounds=2)
        m = int(float(method[4:]) * k)
        km = KMeans(m, n_init=1, random_state=seed).fit(Z)
        return ward_merge(km.cluster_centers_, np.bincount(km.labels_, minlength=m), k)[km.labels_]
    name, _, rounds = method.partition(":")
    neighbours = int(name.lstrip("smoothaverage"))
    Z = smoothed_input(E, nearest_neighbours(E, neighbours, rows), rows, rounds=int(rounds or 2))
    if name.startswith("smooth"):
        return KMeans(k, n_init=1, random_state=seed).fit_predict(Z)
    if name.startswith("average"):
        return AgglomerativeClustering(k, metric="cosine", linkage="average").fit_predict(Z)
    raise SystemExit(f"unknown method {method!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", help="a corpus cached by bench/soft_label_variants.py")
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--methods", default="kmeans,smooth10:1,smooth10:2")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--work", default="runs/soft-label-variants")
    a = ap.parse_args()
    d = Path(a.work) / a.corpus
    if not (d / "E.npy").exists():
        raise SystemExit(f"{d}: no cached embeddings; run bench/soft_label_variants.py "
                         f"{a.corpus} first")
    E = np.load(d / "E.npy").astype(np.float32)
    E /= np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    labels = np.array(json.load(open(d / "meta.json"))["labels"])
    bow = sp.load_npz(d / "bow.npz")
    print("| corpus | K | method | purity | NMI | split H(C|Y) | mixed H(Y|C) | effective clusters "
          "| seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method in a.methods.split(","):
        seeds = [0] if method.startswith("average") else [int(s) for s in a.seeds.split(",")]
        t, scores = time.time(), []
        for seed in seeds:
            c = partition(method, E, a.k, seed, bow)
            scores.append((purity(labels, c), normalized_mutual_info_score(labels, c),
                           *conditional_entropies(labels, c), np.exp(entropy(np.bincount(c)))))
        p, n, split, mixed, eff = np.mean(scores, axis=0)
        print(f"| {a.corpus} | {a.k} | {method} | {p:.3f} | {n:.3f} | {split:.3f} | {mixed:.3f} "
              f"| {eff:.1f} | "
              f"{(time.time() - t) / len(seeds):.0f} |", flush=True)


if __name__ == "__main__":
    main()
