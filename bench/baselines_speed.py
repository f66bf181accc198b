"""Baselines side by side on 20NG: training time, peak memory (max RSS of a fresh process per
model), NPMI (gensim CoherenceModel 'c_npmi', top 10, on the training texts) and purity vs labels.

    python bench/baselines_speed.py --n-docs 3000 --k 50 --epochs 20          # reduced
    python bench/baselines_speed.py --n-docs 0 --k 50 --epochs 0              # full size, each
                                                                              # model's defaults
Reference packages: gensim LDA is the reference itself; FASTopic/BERTopic are the official
packages (wrapped). TopMost's ETM/ECRTM are not compared: topmost requires torchvision, which is
not installed here (its CUDA wheel breaks `import transformers`).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

CORPUS = str(Path(__file__).resolve().parents[1].parent / "shared/data/20newsgroup/corpus_stripped.jsonl")


def run_one(args) -> dict:
    import numpy as np
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel

    from softtopic.corpus import load_corpus
    from softtopic.models.registry import get_model_class
    from softtopic.preprocessing import tokenize
    corpus = load_corpus(args.corpus)
    if args.n_docs:
        idx = np.random.default_rng(0).permutation(len(corpus))[:args.n_docs]
        corpus = corpus.subset(sorted(idx))
    kwargs = {"n_topics": args.k, "seed": args.seed, "progress": False}
    if args.epochs and args.model in ("etm", "ecrtm", "fastopic", "prodlda"):
        kwargs["epochs"] = args.epochs
    model = get_model_class(args.model)(**kwargs)
    t0 = time.perf_counter()
    model.fit(corpus)
    seconds = time.perf_counter() - t0
    texts = [tokenize(t) for t in corpus.texts]
    dictionary = Dictionary(texts)
    topics = [[w for w in t if w in dictionary.token2id] for t in model.get_topics(10)]
    npmi = CoherenceModel(topics=topics, texts=texts, dictionary=dictionary, coherence="c_npmi",
                          topn=10, processes=1).get_coherence()
    labels = np.asarray(corpus.labels)
    assign = model.theta_.argmax(1)
    purity = sum(np.unique(labels[assign == c], return_counts=True)[1].max()
                 for c in np.unique(assign)) / len(labels)
    return {"model": args.model, "docs": len(corpus), "K": model.theta_.shape[1],
            "fit_s": round(seconds, 1), "npmi": round(float(npmi), 3),
            "purity": round(float(purity), 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default=CORPUS)
    p.add_argument("--n-docs", type=int, default=3000, help="0: all documents")
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--epochs", type=int, default=20, help="0: each model's default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", default="lda,etm,ecrtm,fastopic,bertopic")
    p.add_argument("--model", help=argparse.SUPPRESS)   # internal: one model in this process
    args = p.parse_args()
    if args.model:
        print(json.dumps(run_one(args)))
        return
    rows = []
    for name in args.models.split(","):
        cmd = [sys.executable, __file__, "--model", name, "--corpus", args.corpus,
               "--n-docs", str(args.n_docs), "--k", str(args.k), "--epochs", str(args.epochs),
               "--seed", str(args.seed)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            rows.append({"model": name, "error": out.stderr.strip().splitlines()[-1]})
        else:
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], file=sys.stderr)
    cols = ["model", "docs", "K", "fit_s", "peak_rss_mb", "npmi", "purity"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, r.get("error", ""))) for c in cols) + " |")


if __name__ == "__main__":
    main()
