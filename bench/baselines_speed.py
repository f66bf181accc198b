"""Baselines side by side on 20NG: training time, peak memory and quality, softtopic vs the
reference packages.

What is compared (each configuration in a fresh subprocess, so peak RSS is its own):

- `lda`: softtopic's LDA is gensim's LdaModel (wrapped), so gensim is the reference itself.
- `etm`, `ecrtm`: softtopic's presets, against `topmost:etm`, `topmost:ecrtm`: TopMost's own
  model classes (topmost/models/basic/ETM.py, topmost/models/basic/ECRTM/ECRTM.py) trained by
  TopMost's own `BasicTrainer.train` (topmost/trainers/basic/basic_trainer.py: Adam, lr 0.002,
  default betas, no weight decay, no lr schedule), on the mini-batches TopMost's `BasicDataset`
  makes (topmost/data/basic_dataset.py: dense float32 tensor, `DataLoader(batch_size=200,
  shuffle=True)`), model hyper-parameters at TopMost's defaults (ETM: 800 x 800 ReLU encoder,
  dropout 0, frozen word embeddings; ECRTM: 200 x 200 softplus, dropout 0, beta_temp 0.2,
  lambda_ECR 100, Sinkhorn alpha 20 / 1000 iterations, word embeddings trained). Same documents,
  the same bag of words (softtopic's 2,000-word vocabulary, documents with no vocabulary word
  left out of training as both packages do), the same K and number of epochs (`--epochs 0`:
  softtopic's default for that model, ETM 100, ECRTM 200; TopMost's trainer default is 200),
  and the same pretrained word embeddings for both: softtopic's offline default, each
  vocabulary word embedded by the bundled MiniLM sentence encoder
  (`softtopic.models.word_embeddings.vocabulary_word_embeddings`, 384-d; TopMost's own
  examples pass GloVe from its preprocessed datasets, which are not available offline).
  softtopic's presets keep their own (reference) training settings: ETM as OCTIS (batch 128,
  lr 5e-3, encoder dropout 0.5, weight decay 1.2e-6), ECRTM as the soft-label paper (batch 64).
- `fastopic`, `bertopic`: the official packages, wrapped by softtopic (they are the reference).
- also runnable: `prodlda`, `zeroshot`, `combined`, and the soft label on the backbones,
  `softlabel-etm`, `softlabel-ecrtm`, `softlabel-fastopic` (run here with the offline encoder
  teacher, teacher="encoder": not an LM's distribution; docs/baselines.md).

TopMost is installed only for the benchmark, outside the environment, without dependencies
(it requires torchvision only for `topmost/data/download.py`, which the benchmark never loads;
bench/_topmost_import.py imports the model and trainer modules without the package __init__):

    pip install --no-deps --target /tmp/topmost-site topmost==1.0.2

    OMP_NUM_THREADS=1 python bench/baselines_speed.py                          # full 20NG, K=50
    OMP_NUM_THREADS=1 python bench/baselines_speed.py --n-docs 3000 --epochs 20   # reduced
    OMP_NUM_THREADS=1 python bench/baselines_speed.py --n-docs 300 --k 10 --epochs 2 \\
        --models etm,topmost:etm,ecrtm,topmost:ecrtm --reference corpus          # smoke test

(`TOPMOST_SITE` or `--topmost-site` names another install folder.)

Measured: fit s (wall) = from the documents to theta and topics: vocabulary and bag of words,
word embeddings (from the cache), training and theta; the TopMost rows go through the same
stages (their vocabulary and embedding steps are softtopic's). train s = the training loop
alone (softtopic: `softtopic.training.train` inside fit; TopMost: `BasicTrainer.train` minus
its closing theta pass). s/epoch, wall and CPU (this process plus reaped children,
resource.getrusage: what other jobs on a shared machine do not inflate) = training loop /
epochs; for the wrapped packages (no separable loop) fit / epochs (LDA: per pass; BERTopic has
no epochs). Peak RSS = the worker's VmHWM when the fit returns (quality is computed afterwards
in the parent; ru_maxrss is not used because Linux carries it over exec from the parent).
Quality: softtopic's evaluation suite (`softtopic.evaluation.evaluate_topics`,
top-15 words): C_V and NPMI against `--reference` (default the Wikipedia subset; `corpus` = the
training texts), TD, I-RBO, purity and NMI of argmax theta against the newsgroup labels, empty
documents excluded. Documents are loaded as bench/train_speed.py does (`drop_blank`, optional
random subset), so with `--n-docs 0` the sentence-embedding cache is shared with the other
benchmarks; the parent fills the caches (document and vocabulary-word embeddings, the encoder
teacher's soft labels) before any worker is timed, so fit times exclude embedding.
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
from types import SimpleNamespace

import numpy as np

from _measure import Clock, peak_rss_mb

SHARED = Path(__file__).resolve().parents[1].parent / "shared/data"
CORPUS = str(SHARED / "20newsgroup/corpus_stripped.jsonl")
REFERENCE = str(SHARED / "reference/wiki.txt.gz")
TOPMOST_SITE = os.environ.get("TOPMOST_SITE", "/tmp/topmost-site")
SCORES = ("cv", "npmi", "td", "irbo", "purity", "nmi")
NEEDS_DOC_EMBEDDINGS = ("zeroshot", "combined", "fastopic", "bertopic", "softlabel")
NEEDS_WORD_EMBEDDINGS = ("etm", "ecrtm", "topmost:")
TOPMOST_BATCH_SIZE = 200   # topmost/data/basic_dataset.py BasicDataset(batch_size=200)


def load_documents(args):
    from softtopic.corpus import load_corpus
    corpus, dropped = load_corpus(args.corpus).drop_blank()
    if args.n_docs:
        rng = np.random.default_rng(0)
        corpus = corpus.subset(np.sort(rng.choice(len(corpus), args.n_docs, replace=False)))
    return corpus, dropped


def vocabulary(texts):
    """softtopic's default preprocessing (the models' vocab_size=2000, min_df=1, max_df=1.0)."""
    from softtopic.preprocessing import PreprocessingConfig, Vocabulary, empty_rows
    vocab = Vocabulary(PreprocessingConfig(2000, 1, 1.0))
    bow = vocab.fit_transform(texts)
    return vocab, bow, empty_rows(bow)



class LoopClock:
    """Accumulates a Clock over every call of `fn` (the training loop)."""

    def __init__(self, fn):
        self.fn, self.wall, self.cpu = fn, 0.0, 0.0

    def __call__(self, *a, **kw):
        clock = Clock()
        try:
            return self.fn(*a, **kw)
        finally:
            wall, cpu = clock.stop()
            self.wall, self.cpu = self.wall + wall, self.cpu + cpu



def epochs_for(name: str, requested: int) -> int | None:
    """The epoch count a configuration trains for (0: the softtopic model's default)."""
    from softtopic.models.registry import get_model_class
    kind = name.split(":")[-1]
    if kind == "bertopic":
        return None
    if kind == "lda":
        return get_model_class("lda")().passes
    return requested or get_model_class(kind)().epochs


def run_softtopic(name, corpus, args):
    from softtopic.models.registry import get_model_class
    kwargs = {"seed": args.seed, "progress": False}
    if name not in ("lda", "bertopic"):
        kwargs["epochs"] = epochs_for(name, args.epochs)
    if name.startswith("softlabel"):
        kwargs["teacher"] = "encoder"
    model = get_model_class(name)(args.k, **kwargs)
    import softtopic.models.neural as neural   # time the training loop inside fit
    loop = neural.train = LoopClock(neural.train)
    clock = Clock()
    model.fit(corpus)
    wall, cpu = clock.stop()
    times = {"fit_s": wall, "fit_cpu_s": cpu}
    if loop.wall:   # neural presets; the wrapped packages have no separate loop
        times.update(train_s=loop.wall, train_cpu_s=loop.cpu)
    return (times, model.get_topics(15), np.asarray(model.theta_),
            model.vocabulary_.words, np.asarray(model.empty_documents_))


def run_topmost(kind, corpus, args):
    import torch
    from torch.utils.data import DataLoader

    from softtopic.models.word_embeddings import vocabulary_word_embeddings
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _topmost_import import import_topmost
    ETM, ECRTM, BasicTrainer, _ = import_topmost(args.topmost_site)

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    epochs = epochs_for(kind, args.epochs)
    clock = Clock()
    vocab, bow, empty = vocabulary(corpus.texts)
    keep = np.setdiff1d(np.arange(bow.shape[0]), empty)
    word_embeddings, _ = vocabulary_word_embeddings(vocab.words, seed=args.seed)
    klass = {"etm": ETM, "ecrtm": ECRTM}[kind]
    model = klass(vocab_size=len(vocab), num_topics=args.k, pretrained_WE=word_embeddings)

    # what BasicTrainer reads of topmost.data.BasicDataset (as_tensor=True): a dense float32
    # tensor of the bag of words and a shuffled DataLoader over it
    train_data = torch.from_numpy(bow[keep].toarray().astype("float32"))
    dataset = SimpleNamespace(
        train_data=train_data, vocab=vocab.words,
        train_dataloader=DataLoader(train_data, batch_size=TOPMOST_BATCH_SIZE, shuffle=True))
    trainer = BasicTrainer(model, dataset, num_top_words=15, epochs=epochs)
    trainer.test = test = LoopClock(trainer.test)   # train() ends with theta on the train set
    loop = Clock()
    top_words, theta_kept = trainer.train()
    train_wall, train_cpu = loop.stop()
    theta = np.full((bow.shape[0], args.k), 1.0 / args.k)
    theta[keep] = theta_kept
    wall, cpu = clock.stop()
    times = {"fit_s": wall, "fit_cpu_s": cpu, "train_s": train_wall - test.wall,
             "train_cpu_s": train_cpu - test.cpu}
    return times, [t.split() for t in top_words], theta, vocab.words, empty


def worker(args):
    corpus, _ = load_documents(args)
    name = args.worker
    run = run_topmost if name.startswith("topmost:") else run_softtopic
    times, topics, theta, words, empty = run(name.split(":")[-1], corpus, args)
    peak_mb = peak_rss_mb()
    out = Path(args.workdir) / f"{name.replace(':', '_')}.npz"
    np.savez(out, theta=theta, empty=np.asarray(empty, dtype=int))
    print(json.dumps({"config": name, **times, "peak_rss_mb": peak_mb,
                      "topics": topics, "words": list(words), "theta_file": str(out)}))


def implementation(name: str, topmost_version: str) -> str:
    if name.startswith("topmost:"):
        return f"TopMost {topmost_version}"
    return {"lda": "gensim (wrapped)", "fastopic": "fastopic (wrapped)",
            "bertopic": "bertopic (wrapped)"}.get(name, "softtopic")


def warm_caches(corpus, names):
    """Document and vocabulary-word embeddings and the encoder teacher's soft labels, computed
    once (into the on-disk caches the models read) before any worker is timed."""
    if any(n.startswith(NEEDS_DOC_EMBEDDINGS) for n in names):
        from softtopic.views.sentence import DEFAULT_ENCODER, SentenceEmbeddings
        t0 = time.perf_counter()
        SentenceEmbeddings(DEFAULT_ENCODER, max_seq_length=256, progress=True)(
            corpus.texts, corpus.content_hash())
        print(f"document embeddings: {time.perf_counter() - t0:.0f} s (cached after)",
              file=sys.stderr)
    words = vocabulary(corpus.texts)[0].words
    if any(n.startswith(NEEDS_WORD_EMBEDDINGS) or n in ("softlabel-etm", "softlabel-ecrtm")
           for n in names):
        from softtopic.models.word_embeddings import vocabulary_word_embeddings
        vocabulary_word_embeddings(words)
    if any(n.startswith("softlabel") for n in names):   # the offline encoder teacher's logits
        from softtopic.views.encoder_teacher import DEFAULT_SCALE, EncoderTeacher
        from softtopic.views.sentence import DEFAULT_ENCODER, SentenceEmbeddings
        EncoderTeacher(SentenceEmbeddings(DEFAULT_ENCODER, max_seq_length=256),
                       scale=DEFAULT_SCALE)(corpus.texts, list(words), corpus.content_hash())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default=CORPUS)
    p.add_argument("--n-docs", type=int, default=0, help="random subset size (0: all)")
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--epochs", type=int, default=0,
                   help="epochs for every neural model and TopMost row (0: softtopic's default "
                        "for that model; LDA keeps its passes, BERTopic has none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", default="lda,etm,topmost:etm,ecrtm,topmost:ecrtm,fastopic,bertopic",
                   help="comma-separated: softtopic registered names (e.g. softlabel-etm, "
                        "softlabel-ecrtm, softlabel-fastopic) and topmost:etm, topmost:ecrtm")
    p.add_argument("--reference", default=REFERENCE,
                   help="coherence reference corpus; 'corpus' = the training texts")
    p.add_argument("--topmost-site", default=TOPMOST_SITE,
                   help="folder TopMost was installed into with pip --no-deps --target")
    p.add_argument("--worker", help=argparse.SUPPRESS)   # internal: one configuration
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    from softtopic.evaluation import evaluate_topics
    names = args.models.split(",")
    corpus, dropped = load_documents(args)
    topmost_version = "?"
    if any(n.startswith("topmost:") for n in names):
        for dist in Path(args.topmost_site).glob("topmost-*.dist-info"):
            topmost_version = dist.name[len("topmost-"):-len(".dist-info")]
    print(f"20NG: {len(corpus)} documents ({len(dropped)} blank dropped), |V| = 2000, "
          f"K = {args.k}, torch threads = {os.environ.get('OMP_NUM_THREADS', 'default')}",
          file=sys.stderr)
    warm_caches(corpus, names)
    reference = corpus.texts if args.reference == "corpus" else args.reference
    workdir = Path(tempfile.mkdtemp(prefix="baselines-speed-"))
    rows = []
    for name in names:
        cmd = [sys.executable, __file__, "--worker", name, "--workdir", str(workdir),
               "--corpus", args.corpus, "--n-docs", str(args.n_docs), "--k", str(args.k),
               "--epochs", str(args.epochs), "--seed", str(args.seed),
               "--topmost-site", args.topmost_site]
        out = subprocess.run(cmd, capture_output=True, text=True)
        row = {"impl": implementation(name, topmost_version), "model": name.split(":")[-1],
               "epochs": epochs_for(name, args.epochs)}
        if out.returncode:
            row["error"] = (out.stderr.strip().splitlines() or ["failed"])[-1]
            print(f"{name} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
            rows.append(row)
            continue
        result = json.loads(out.stdout.strip().splitlines()[-1])
        saved = np.load(result.pop("theta_file"))
        scores = evaluate_topics(result.pop("topics"), saved["theta"], corpus.labels, reference,
                                 metrics=",".join(SCORES), top_n=15, words=result.pop("words"),
                                 exclude=saved["empty"])["scores"]
        row.update(result, **scores)
        rows.append(row)
        print(f"{name}: fit {row['fit_s']:.1f} s, peak RSS {row['peak_rss_mb']:.0f} MB, "
              + ", ".join(f"{m} {scores[m]:.3f}" for m in SCORES), file=sys.stderr, flush=True)

    cols = ["implementation", "model", "docs", "K", "epochs", "fit s", "train s",
            "s/epoch wall", "s/epoch CPU", "peak RSS MB", "C_V", "NPMI", "TD", "I-RBO",
            "purity", "NMI"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        head = [r["impl"], r["model"], str(len(corpus)), str(args.k), str(r["epochs"] or "-")]
        if "error" in r:
            print("| " + " | ".join(head) + f" | failed: {r['error']} |" + " |" * 10)
            continue
        wall, cpu = r.get("train_s", r["fit_s"]), r.get("train_cpu_s", r["fit_cpu_s"])
        per = (lambda s: f"{s / r['epochs']:.3f}") if r["epochs"] else (lambda s: "-")
        print("| " + " | ".join(head + [
            f"{r['fit_s']:.1f}", f"{r['train_s']:.1f}" if "train_s" in r else "-", per(wall),
            per(cpu), f"{r['peak_rss_mb']:.0f}", *[f"{r[m]:.3f}" for m in SCORES]]) + " |")


if __name__ == "__main__":
    main()
