"""Search by topic distribution: softtopic's exact blockwise search (softtopic.explore.search,
the retrieval metric's code) vs the references a user would reach for on the same theta:
scikit-learn NearestNeighbors (brute force; Hellinger = Euclidean distance between square-rooted
rows / sqrt 2) and faiss IndexFlatIP (KL ranking = maximum inner product of p with log q, since
KL(p || q) = sum p log p - p . log q). Same top-k, side by side, one thread each.

    OMP_NUM_THREADS=1 python bench/search_speed.py [--run RUN_DIR] [--synthetic 200000]

With --run, the first corpus is that run's theta (e.g. a 20 Newsgroups fit); without, a
ProdLDA is fitted for 20 epochs on ../shared/data/20newsgroup/corpus_stripped.jsonl when it is
there. Prints latency per single query (median of 100) and throughput for 1,000 queries.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from softtopic.evaluation.retrieval import EPSILON  # noqa: E402
from softtopic.explore.search import TopicSearch  # noqa: E402

K_NEAREST = 10
N_SINGLE, N_BATCH = 100, 1000


def twenty_newsgroups_theta(run_dir: str | None) -> tuple[str, np.ndarray] | None:
    if run_dir:
        return f"run {Path(run_dir).name}", np.load(Path(run_dir) / "theta.npy")
    path = Path(__file__).resolve().parents[2] / "shared/data/20newsgroup/corpus_stripped.jsonl"
    if not path.exists():
        return None
    from softtopic import ProdLDA, load_corpus
    corpus = load_corpus(path)
    model = ProdLDA(n_topics=50, epochs=20, seed=0, progress=False).fit(corpus)
    return "20NG (ProdLDA K=50)", model.theta_


def synthetic_theta(n: int, k: int = 50, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.full(k, 0.1), n).astype(np.float32)


def timed(fn, repeats: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


class Softtopic:
    name = "softtopic TopicSearch"

    def __init__(self, theta, metric):
        self.index = TopicSearch(theta, metric)

    def search(self, queries):
        return self.index.query(queries, K_NEAREST).indices


class SklearnHellinger:
    name = "sklearn NearestNeighbors (brute)"

    def __init__(self, theta, metric):
        from sklearn.neighbors import NearestNeighbors
        theta = theta / theta.sum(1, keepdims=True)
        self.nn = NearestNeighbors(n_neighbors=K_NEAREST, algorithm="brute").fit(np.sqrt(theta))

    def search(self, queries):
        queries = queries / queries.sum(1, keepdims=True)
        return self.nn.kneighbors(np.sqrt(queries), return_distance=False)


class FaissKL:
    name = "faiss IndexFlatIP (p . log q)"

    def __init__(self, theta, metric):
        import faiss
        faiss.omp_set_num_threads(1)
        theta = theta / theta.sum(1, keepdims=True)
        self.index = faiss.IndexFlatIP(theta.shape[1])
        self.index.add(np.log(theta + EPSILON).astype(np.float32))

    def search(self, queries):
        queries = (queries / queries.sum(1, keepdims=True)).astype(np.float32)
        return self.index.search(queries, K_NEAREST)[1]


class FaissHellinger(FaissKL):
    name = "faiss IndexFlatIP (sqrt p . sqrt q)"

    def __init__(self, theta, metric):
        import faiss
        faiss.omp_set_num_threads(1)
        theta = theta / theta.sum(1, keepdims=True)
        self.index = faiss.IndexFlatIP(theta.shape[1])
        self.index.add(np.sqrt(theta).astype(np.float32))

    def search(self, queries):
        queries = (queries / queries.sum(1, keepdims=True)).astype(np.float32)
        return self.index.search(np.sqrt(queries), K_NEAREST)[1]


ENGINES = {"kl": [Softtopic, FaissKL], "hellinger": [Softtopic, SklearnHellinger,
                                                      FaissHellinger]}


def agreement(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Share of top-k documents in common (float32 references can swap near-ties)."""
    return float(np.mean([len(set(a) & set(b)) / len(a) for a, b in zip(ours, theirs)]))


def bench(name: str, theta: np.ndarray, rows: list):
    rng = np.random.default_rng(1)
    queries = theta[rng.choice(len(theta), N_BATCH, replace=False)].astype(np.float64)
    for metric, engines in ENGINES.items():
        reference = None
        for engine in engines:
            try:
                t0 = time.perf_counter()
                built = engine(theta, metric)
                build = time.perf_counter() - t0
            except ImportError as e:
                rows.append((name, len(theta), metric, engine.name, "not installed", str(e), "",
                             ""))
                continue
            single = np.median([timed(lambda q=q: built.search(q[None])) for q in
                                queries[:N_SINGLE]])
            batch = timed(lambda: built.search(queries))
            found = built.search(queries)
            if reference is None:
                reference = found
            rows.append((name, len(theta), metric, engine.name, f"{build:.2f}",
                         f"{1000 * single:.2f}", f"{N_BATCH / batch:,.0f}",
                         f"{agreement(reference, found):.4f}"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a run folder whose theta.npy to search (default: fit "
                        "ProdLDA on 20NG)")
    parser.add_argument("--synthetic", type=int, default=200_000,
                        help="documents of the synthetic theta (Dirichlet 0.1, K=50)")
    args = parser.parse_args()
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("note: set OMP_NUM_THREADS=1 for one-thread timings", file=sys.stderr)
    corpora = [c for c in [twenty_newsgroups_theta(args.run)] if c is not None]
    corpora.append((f"synthetic Dirichlet(0.1) K=50", synthetic_theta(args.synthetic)))
    rows = []
    for name, theta in corpora:
        bench(name, np.asarray(theta, np.float32), rows)
    header = ("corpus", "N", "metric", "engine", "build s", "ms/query", "queries/s (1,000)",
              "top-10 agreement")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
