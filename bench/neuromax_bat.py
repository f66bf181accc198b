"""NeuroMax vs ECRTM and BAT-ProdLDA vs ProdLDA on 20 Newsgroups: quality and time.

    SOFTTOPIC_CACHE=/tmp/nmbat-cache OMP_NUM_THREADS=2 python bench/neuromax_bat.py \
        --n-train 2000 --n-test 500 --epochs 20 --seeds 0

Full size: --n-train 0 (every training document) --epochs 500 (NeuroMax's run) --seeds 0 1 2 3 4.
Quality: NPMI of the top-10 words on the training documents (gensim CoherenceModel 'c_npmi',
window 10), TD (|union of top-25 lists| / 25K), purity of argmax theta vs the newsgroup labels on
held-out documents. Time: fit seconds, and transform seconds on the held-out documents, whose
sentence embeddings are not cached (ZeroShotTM pays for its PLM at inference; NeuroMax does not).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from softtopic.models.registry import get_model_class
from softtopic.corpus import load_corpus
from softtopic.preprocessing import tokenize

DATA = str(Path(__file__).resolve().parents[1].parent / "shared/data/20newsgroup/corpus_stripped.jsonl")


def npmi(model, token_lists, top_n=10) -> float:
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel
    dictionary = Dictionary(token_lists)
    topics = [[w for w in t if w in dictionary.token2id] for t in model.get_topics(top_n)]
    cm = CoherenceModel(topics=topics, texts=token_lists, dictionary=dictionary,
                        coherence="c_npmi", topn=top_n, processes=1)
    return float(cm.get_coherence())


def diversity(model, top_n=25) -> float:
    topics = model.get_topics(top_n)
    return len({w for t in topics for w in t}) / (top_n * len(topics))


def purity(theta, labels) -> float:
    clusters = theta.argmax(1)
    total = 0
    for c in np.unique(clusters):
        _, counts = np.unique(np.asarray(labels)[clusters == c], return_counts=True)
        total += counts.max()
    return total / len(labels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--n-train", type=int, default=2000, help="0: all training documents")
    ap.add_argument("--n-test", type=int, default=500, help="0: all test documents")
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--models", nargs="+",
                    default=["prodlda", "bat", "ecrtm", "neuromax", "zeroshot"])
    args = ap.parse_args()

    corpus = load_corpus(args.data)
    rng = np.random.default_rng(0)
    split = np.array(corpus.splits) if corpus.splits is not None else None
    train_idx = np.flatnonzero(split == "train") if split is not None else np.arange(len(corpus))
    test_idx = np.flatnonzero(split == "test") if split is not None else np.arange(0)
    train_idx, test_idx = rng.permutation(train_idx), rng.permutation(test_idx)
    if args.n_train:
        train_idx = train_idx[:args.n_train]
    if args.n_test:
        test_idx = test_idx[:args.n_test]
    train, test = corpus.subset(train_idx), corpus.subset(test_idx)
    tokens = [tokenize(t) for t in train.texts]
    print(f"20NG: {len(train)} training, {len(test)} held-out documents; K={args.k}, "
          f"{args.epochs} epochs, seeds {args.seeds}")
    common = dict(epochs=args.epochs, progress=False)
    rows = []
    for seed in args.seeds:
        for name in args.models:
            model = get_model_class(name)(args.k, seed=seed, **common)
            t0 = time.perf_counter()
            model.fit(train)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            theta_test = model.transform(test)
            infer_s = time.perf_counter() - t0
            rows.append((name, seed, npmi(model, tokens), diversity(model),
                         purity(theta_test, test.labels), fit_s, infer_s))
            print("%-9s seed %d  NPMI %.4f  TD %.3f  purity %.3f  fit %.1f s  transform %.2f s"
                  % rows[-1], flush=True)
    print("\nmean over seeds")
    print(f"{'model':<9} {'NPMI':>7} {'TD':>6} {'purity':>7} {'fit s':>7} {'infer s':>8}")
    for name in args.models:
        r = np.array([x[2:] for x in rows if x[0] == name])
        print(f"{name:<9} {r[:, 0].mean():7.4f} {r[:, 1].mean():6.3f} {r[:, 2].mean():7.3f} "
              f"{r[:, 3].mean():7.1f} {r[:, 4].mean():8.2f}")


if __name__ == "__main__":
    main()
