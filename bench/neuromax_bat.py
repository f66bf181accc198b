"""NeuroMax vs ECRTM and BAT-ProdLDA vs ProdLDA on 20 Newsgroups: quality and time.

    OMP_NUM_THREADS=1 python bench/neuromax_bat.py --epochs 50 --seeds 0     # about an hour, CPU

Every model is fitted on the same documents (by default the whole corpus, 18,331 non-blank
documents, as the soft-label paper's 20NG runs; `--n-docs N` takes a random subset) with the same
vocabulary (2,000 words), K = 50 and the same seeds. Quality comes from softtopic's evaluation
suite (`softtopic.evaluation.evaluate_topics`, top-15 words): C_V and NPMI against the Wikipedia
reference, TD, I-RBO, and purity / NMI of argmax theta against the newsgroup labels (empty
documents excluded). Time: fit seconds, and transform seconds on 300 documents of the corpus.

The sentence embeddings that ZeroShotTM, NeuroMax (InfoNCE target) and BAT (teacher input) read
come from the shared cache: the full corpus is embedded once (and shared with `softtopic fit`,
bench/train_speed.py and the benchmark harness), so fit times here exclude embedding.
Epochs: the references train ECRTM for 200 and NeuroMax for 500 epochs (on a GPU); `--epochs`
applies one budget to every model so they are compared at equal training length.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from softtopic.corpus import load_corpus
from softtopic.evaluation import evaluate_topics
from softtopic.models.registry import get_model_class

SHARED = Path(__file__).resolve().parents[1].parent / "shared/data"
DATA = str(SHARED / "20newsgroup/corpus_stripped.jsonl")
REFERENCE = str(SHARED / "reference/wiki.txt.gz")
SCORES = ("cv", "npmi", "td", "irbo", "purity", "nmi")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--reference", default=REFERENCE, help="coherence reference corpus")
    ap.add_argument("--n-docs", type=int, default=0, help="random subset size (0: all)")
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--teacher-chunk-words", type=int, default=0,
                    help="BAT's teacher reads documents in pieces of this many words; 0 (default "
                         "here): whole documents truncated by the encoder, as the BAT reference, "
                         "which also lets the teacher reuse the cached document embeddings")
    ap.add_argument("--models", nargs="+",
                    default=["prodlda", "bat", "ecrtm", "neuromax", "zeroshot"])
    args = ap.parse_args()

    corpus, dropped = load_corpus(args.data).drop_blank()
    if args.n_docs:
        rng = np.random.default_rng(0)
        corpus = corpus.subset(np.sort(rng.choice(len(corpus), args.n_docs, replace=False)))
    probe = corpus.subset(np.arange(min(300, len(corpus))))
    print(f"20NG: {len(corpus)} documents ({len(dropped)} blank dropped); K={args.k}, "
          f"{args.epochs} epochs, seeds {args.seeds}", flush=True)
    rows = []
    for seed in args.seeds:
        for name in args.models:
            extra = ({"teacher_chunk_words": args.teacher_chunk_words or None}
                     if name == "bat" else {})
            model = get_model_class(name)(args.k, seed=seed, epochs=args.epochs, progress=False,
                                          **extra)
            t0 = time.perf_counter()
            model.fit(corpus)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            model.transform(probe)
            infer_s = time.perf_counter() - t0
            scores = evaluate_topics(model.get_topics(15), model.theta_, corpus.labels,
                                     args.reference, metrics=",".join(SCORES), top_n=15,
                                     words=model.vocabulary_.words,
                                     exclude=model.empty_documents_)["scores"]
            rows.append((name, seed, *[scores[m] for m in SCORES], fit_s, infer_s))
            print(f"{name:<9} seed {seed}  " + "  ".join(
                f"{m} {scores[m]:.4f}" for m in SCORES) + f"  fit {fit_s:.1f} s  "
                f"transform(300) {infer_s:.2f} s", flush=True)
    print("\nmean over seeds\n")
    print("| model | " + " | ".join(SCORES) + " | fit s | transform s |")
    print("|---" * (len(SCORES) + 3) + "|")
    for name in args.models:
        r = np.array([x[2:] for x in rows if x[0] == name])
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in r[:, :len(SCORES)].mean(0))
              + f" | {r[:, -2].mean():.1f} | {r[:, -1].mean():.2f} |")


if __name__ == "__main__":
    main()
