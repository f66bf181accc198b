"""Fit on a corpus file streamed from disk vs loaded in memory: peak RSS and documents/second.

Generates a planted-topic corpus file (one document a line; K topics of 40 words, 3,000 shared
noise words, 30-80 tokens a document) of the largest --docs size and takes its first N lines
for smaller sizes. For every N and configuration a fresh subprocess fits the model and reports
its own peak RSS (VmHWM: anonymous memory plus the resident pages of memory-mapped files) and
wall/CPU seconds of the whole fit (reading the file included):

    prodlda / memory   load_corpus(path) then ProdLDA.fit(corpus)
    prodlda / stream   ProdLDA.fit(stream_corpus(path))
    softlabel / ...    SoftLabelTM with precomputed views: lm_hidden (N x 64) and lm_logits
                       (N x |V|) float16 arrays SYNTHESISED (random) and memory-mapped from disk
                       in both paths, as a view cache would hand them over (no LM is run)

    OMP_NUM_THREADS=1 python bench/scale.py --docs 200000 2000000 --epochs 1
    python bench/scale.py --docs 20000 --epochs 1          # a quick run
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _measure import Clock, peak_rss_mb

LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def words_for(n: int) -> list[str]:
    """n distinct letter-only words ('zaaab', ...) outside every stopword list."""
    i = np.arange(n)
    return ["z" + "".join(LETTERS[[(j // 26**3) % 26, (j // 26**2) % 26, (j // 26) % 26, j % 26]])
            for j in i]


def generate(path: Path, n_docs: int, n_topics: int = 50, per_topic: int = 40,
             noise_words: int = 3000, noise: float = 0.2, seed: int = 0, chunk: int = 100_000):
    """Planted-topic documents, two topics each, written one a line."""
    rng = np.random.default_rng(seed)
    vocab = np.array(words_for(n_topics * per_topic + noise_words), dtype=object)
    zipf = 1.0 / np.arange(1, per_topic + 1) ** 0.8
    zipf /= zipf.sum()
    noise_p = 1.0 / np.arange(1, noise_words + 1) ** 1.1
    noise_p /= noise_p.sum()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        for start in range(0, n_docs, chunk):
            n = min(chunk, n_docs - start)
            length = rng.integers(30, 81, size=n)
            ks = rng.integers(n_topics, size=(n, 2))
            pick = ks[np.arange(n)[:, None], rng.integers(2, size=(n, 80))]
            ids = pick * per_topic + rng.choice(per_topic, p=zipf, size=(n, 80))
            is_noise = rng.random((n, 80)) < noise
            ids[is_noise] = n_topics * per_topic + rng.choice(noise_words, p=noise_p,
                                                              size=int(is_noise.sum()))
            tokens = vocab[ids]
            f.write("\n".join(" ".join(tokens[i, :length[i]]) for i in range(n)) + "\n")
    os.replace(tmp, path)


def first_lines(source: Path, path: Path, n: int):
    with open(source) as src, open(path.with_name(path.name + ".tmp"), "w") as out:
        for i, line in enumerate(src):
            if i == n:
                break
            out.write(line)
    os.replace(path.with_name(path.name + ".tmp"), path)


def make_views(folder: Path, n: int, vocab_size: int, hidden: int = 64, seed: int = 0):
    """Synthetic precomputed views, float16, written in chunks as the view cache does."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, width in (("lm_hidden", hidden), ("lm_logits", vocab_size)):
        if (folder / f"{name}.npy").exists():
            continue
        a = np.lib.format.open_memmap(folder / f"{name}.npy.tmp", mode="w+", dtype=np.float16,
                                      shape=(n, width))
        for start in range(0, n, 50_000):
            stop = min(start + 50_000, n)
            a[start:stop] = rng.standard_normal((stop - start, width), dtype=np.float32) * 2
            a.flush()
        del a
        os.replace(folder / f"{name}.npy.tmp", folder / f"{name}.npy")


# --------------------------------------------------------------------------- one configuration

def worker(args) -> dict:
    import torch
    torch.set_num_threads(1)
    from softtopic import ProdLDA, SoftLabelTM, load_corpus, stream_corpus
    kw = dict(n_topics=args.k, epochs=args.epochs, batch_size=args.batch_size, seed=0,
              progress=False, vocab_size=args.vocab_size)
    features = None
    if args.model == "softlabel":
        model = SoftLabelTM(**kw)
        features = {name: np.load(Path(args.views) / f"{name}.npy", mmap_mode="r")
                    for name in ("lm_hidden", "lm_logits")}
    else:
        model = ProdLDA(**kw)
    base = peak_rss_mb()
    clock = Clock()
    if args.path == "memory":
        corpus = load_corpus(args.corpus)
    else:
        corpus = stream_corpus(args.corpus, work_dir=args.work_dir)
    model.fit(corpus, features=features)
    wall, cpu = clock.stop()
    return {"model": args.model, "path": args.path, "n": len(corpus), "wall": wall, "cpu": cpu,
            "peak_rss_mb": peak_rss_mb(), "rss_after_import_mb": base,
            "vocab": len(model.vocabulary_), "train_seconds": float(sum(model.history_["seconds"])),
            "final_loss": float(model.history_["loss"][-1]),
            "topic_word_checksum": float(np.abs(model.topic_word_).sum())}


def run_config(args, model, path, corpus, views, work_dir) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--model", model, "--path", path,
           "--corpus", str(corpus), "--views", str(views), "--work-dir", str(work_dir),
           "--k", str(args.k), "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--vocab-size", str(args.vocab_size)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"{model}/{path} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, nargs="+", default=[200_000, 2_000_000])
    p.add_argument("--models", nargs="+", default=["prodlda", "softlabel"])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--vocab-size", type=int, default=2000)
    p.add_argument("--paths", nargs="+", default=["memory", "stream"])
    p.add_argument("--previous", help="JSON lines (this script's stderr) of an earlier run whose "
                   "rows join the table (e.g. the in-memory rows when only --paths stream runs)")
    p.add_argument("--data", default="/tmp/softtopic-scale", help="corpus files and views")
    # worker
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--corpus", help=argparse.SUPPRESS)
    p.add_argument("--views", help=argparse.SUPPRESS)
    p.add_argument("--work-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    sizes = sorted(args.docs)
    biggest = data / f"planted_{sizes[-1]}.txt"
    if not biggest.exists():
        t = time.perf_counter()
        generate(biggest, sizes[-1])
        print(f"generated {biggest} ({biggest.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr)
    rows = []
    if args.previous:
        rows = [json.loads(line) for line in open(args.previous) if line.startswith("{")]
        rows = [r for r in rows if r["n"] in sizes and r["model"] in args.models
                and r["path"] not in args.paths]
    for n in sizes:
        corpus = data / f"planted_{n}.txt"
        if not corpus.exists():
            first_lines(biggest, corpus, n)
        views = data / f"views_{n}"
        if "softlabel" in args.models:
            make_views(views, n, args.vocab_size)
        for model in args.models:
            for path in args.paths:
                work = data / f"work_{model}_{n}"
                r = run_config(args, model, path, corpus, views, work)
                print(json.dumps(r), file=sys.stderr, flush=True)
                shutil.rmtree(work, ignore_errors=True)
                rows.append(r)
    print(f"\nK={args.k}, |V|={args.vocab_size}, batch {args.batch_size}, {args.epochs} epoch(s); "
          f"fit seconds include reading the file, the vocabulary, the bag of words, training "
          f"and theta of every document; one thread\n")
    print("| model | N | path | peak RSS (MB) | fit wall (s) | fit CPU (s) | docs/s (wall) "
          "| docs/s vs memory (wall) | docs/s vs memory (CPU) | same model |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
    rows.sort(key=lambda r: (args.models.index(r["model"]), r["n"], r["path"]))
    for r in rows:
        mem = next(x for x in rows if x["model"] == r["model"] and x["n"] == r["n"]
                   and x["path"] == "memory")
        same = "yes" if abs(r["topic_word_checksum"] - mem["topic_word_checksum"]) < 1e-3 * \
            abs(mem["topic_word_checksum"]) and r["final_loss"] == mem["final_loss"] else "NO"
        name = r["model"] + (" (synthetic mmap views)" if r["model"] == "softlabel" else "")
        print(f"| {name} | {r['n']:,} | {r['path']} | {r['peak_rss_mb']:.0f} | {r['wall']:.0f} | "
              f"{r['cpu']:.0f} | {r['n'] / r['wall']:,.0f} | "
              f"{mem['wall'] / r['wall']:.2f} | {mem['cpu'] / r['cpu']:.2f} | {same} |")


if __name__ == "__main__":
    main()
