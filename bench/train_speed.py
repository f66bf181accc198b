"""Training speed and quality: softtopic vs contextualized-topic-models (CTM), side by side.

Same documents, vocabulary, bag of words and sentence embeddings for both; each configuration
runs in its own subprocess so peak memory is its own. Prints seconds per epoch, peak RSS, NPMI
(gensim c_npmi, top-10, on the training corpus) and purity against the labels.

    pip install --no-deps --target /tmp/ctm-site contextualized-topic-models wordcloud
    CTM_SITE=/tmp/ctm-site python bench/train_speed.py --docs 0 --epochs 100   # full 20NG

(`--no-deps` keeps torchvision out: CTM's requirements would pull it in and break transformers.)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _measure import Clock, peak_rss_mb

CORPUS = Path(__file__).resolve().parents[1].parent / "shared/data/20newsgroup/corpus_stripped.jsonl"


def prepare(args, workdir: Path):
    """Corpus subset, vocabulary, BoW and embeddings, written once for every configuration."""
    import scipy.sparse as sp

    from softtopic.corpus import load_corpus
    from softtopic.preprocessing import PreprocessingConfig, Vocabulary, empty_rows
    from softtopic.views.sentence import SentenceEmbeddings

    corpus, dropped = load_corpus(args.corpus).drop_blank()
    if args.docs:
        rng = np.random.default_rng(0)
        corpus = corpus.subset(np.sort(rng.choice(len(corpus), args.docs, replace=False)))
    # Embedded before the empty-row filter: the same documents as `softtopic fit` and the
    # benchmark harness embed, so the cached view is shared with them.
    t0 = time.perf_counter()
    emb = SentenceEmbeddings(progress=True)(corpus.texts)
    print(f"embeddings: {len(corpus)} docs in {time.perf_counter() - t0:.0f} s (cached after)")
    vocab = Vocabulary(PreprocessingConfig(vocab_size=2000))
    bow = vocab.fit_transform(corpus.texts)
    keep = np.setdiff1d(np.arange(len(corpus)), empty_rows(bow))  # CTM cannot take empty rows
    corpus, bow, emb = corpus.subset(keep), bow[keep], emb[keep]
    sp.save_npz(workdir / "bow.npz", bow)
    np.save(workdir / "emb.npy", emb)
    (workdir / "meta.json").write_text(json.dumps({
        "words": vocab.words, "labels": corpus.labels, "texts": corpus.texts}))
    return len(corpus), len(dropped)



def run_softtopic(kind, workdir, args):
    import scipy.sparse as sp

    from softtopic.models.neural import BuildContext
    from softtopic.models.registry import get_model_class
    from softtopic.preprocessing import Vocabulary
    from softtopic.training import infer, train

    meta = json.loads((workdir / "meta.json").read_text())
    features = {"bow": sp.load_npz(workdir / "bow.npz").tocsr(),
                "embedding": np.load(workdir / "emb.npy")}
    model = get_model_class(kind)(n_topics=args.k, epochs=args.epochs, seed=args.seed,
                                  progress=False)
    model.vocabulary_ = Vocabulary.from_words(meta["words"])
    model.empty_documents_ = np.array([], int)
    rows = np.arange(features["bow"].shape[0])
    ctx = BuildContext(args.k, model.vocabulary_, model._feature_dims(features), features, rows)
    module = model._build_module(ctx)
    clock = Clock()
    history = train(module, features, rows, model._training_config())
    seconds = clock.stop()
    theta = infer(module, features, rows, 20, args.seed)
    beta = module.topic_word().numpy()
    return seconds, theta, beta


def run_ctm(kind, workdir, args):
    sys.path.insert(0, os.environ.get("CTM_SITE", "/tmp/ctm-site"))
    import scipy.sparse as sp
    import torch
    from contextualized_topic_models.datasets.dataset import CTMDataset
    from contextualized_topic_models.models.ctm import CombinedTM, ZeroShotTM

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    meta = json.loads((workdir / "meta.json").read_text())
    bow = sp.load_npz(workdir / "bow.npz").tocsr()
    emb = np.load(workdir / "emb.npy")
    data = CTMDataset(emb, bow, {i: w for i, w in enumerate(meta["words"])})
    klass = {"zeroshot": ZeroShotTM, "combined": CombinedTM}[kind]
    model = klass(bow_size=bow.shape[1], contextual_size=emb.shape[1], n_components=args.k,
                  hidden_sizes=(200, 200), num_epochs=args.epochs, batch_size=64)
    clock = Clock()
    model.fit(data, verbose=False)
    seconds = clock.stop()
    theta = model.get_doc_topic_distribution(data, n_samples=20)
    beta = model.model.beta.detach().cpu().numpy()
    return seconds, theta, beta


def quality(theta, beta, workdir):
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    from softtopic.preprocessing import tokenize

    meta = json.loads((workdir / "meta.json").read_text())
    words = meta["words"]
    topics = [[words[j] for j in np.argsort(-row)[:10]] for row in beta]
    vocab = set(words)
    docs = [[t for t in tokenize(text) if t in vocab] for text in meta["texts"]]
    dictionary = Dictionary(docs)
    npmi = CoherenceModel(topics=topics, texts=docs, dictionary=dictionary, coherence="c_npmi",
                          topn=10, processes=1).get_coherence()
    labels = np.array(meta["labels"])
    assign = theta.argmax(1)
    purity = sum(np.unique(labels[assign == k], return_counts=True)[1].max()
                 for k in np.unique(assign)) / len(labels)
    td = len({w for t in topics for w in t}) / (10 * len(topics))
    return npmi, purity, td


def worker(args):
    workdir = Path(args.workdir)
    impl, kind = args.worker.split(":")
    seconds, theta, beta = (run_softtopic if impl == "softtopic" else run_ctm)(kind, workdir, args)
    npmi, purity, td = quality(np.asarray(theta), np.asarray(beta), workdir)
    peak_mb = peak_rss_mb()
    print(json.dumps({"impl": impl, "model": kind, "sec_per_epoch": seconds[0] / args.epochs,
                      "cpu_sec_per_epoch": seconds[1] / args.epochs,
                      "peak_rss_mb": peak_mb, "npmi": npmi, "purity": purity, "td": td}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=str(CORPUS))
    p.add_argument("--docs", type=int, default=0, help="random subset size (0: all)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--configs", default="softtopic:prodlda,softtopic:zeroshot,ctm:zeroshot,"
                                        "softtopic:combined,ctm:combined")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    workdir = Path(tempfile.mkdtemp(prefix="train-speed-"))
    n, dropped = prepare(args, workdir)
    print(f"20NG: {n} documents ({dropped} blank dropped), |V| = 2000, K = {args.k}, "
          f"{args.epochs} epochs, batch 64, hidden 200x2, torch threads = "
          f"{os.environ.get('OMP_NUM_THREADS', 'default')}")
    rows = []
    for config in args.configs.split(","):
        cmd = [sys.executable, __file__, "--worker", config, "--workdir", str(workdir),
               "--epochs", str(args.epochs), "--k", str(args.k), "--seed", str(args.seed)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{config} failed:\n{out.stderr[-2000:]}")
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"\n| implementation | model | wall s/epoch | CPU s/epoch | peak RSS MB | NPMI | TD "
          "| purity |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['impl']} | {r['model']} | {r['sec_per_epoch']:.3f} "
              f"| {r['cpu_sec_per_epoch']:.3f} | {r['peak_rss_mb']:.0f} "
              f"| {r['npmi']:.3f} | {r['td']:.3f} | {r['purity']:.3f} |")
    base = {r["model"]: r for r in rows if r["impl"] == "ctm"}
    for r in rows:
        if r["impl"] == "softtopic" and r["model"] in base:
            ref = base[r["model"]]
            print(f"{r['model']}: softtopic is {ref['sec_per_epoch'] / r['sec_per_epoch']:.1f}x "
                  f"faster per epoch than CTM by the wall clock, "
                  f"{ref['cpu_sec_per_epoch'] / r['cpu_sec_per_epoch']:.1f}x by CPU time")


if __name__ == "__main__":
    main()
