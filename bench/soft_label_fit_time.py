"""Fit time of the default soft-label model (softlabel-encoder) vs ZeroShotTM, cold and warm.

Issue 10 asks that the soft-label model's fit stays within 1.5x of ZeroShotTM's on the same
machine, with the same views already cached. Both models read the same MiniLM sentence
embeddings (one cached view); the soft-label model also needs the vocabulary's word embeddings
and the document x word cosine logits (the encoder teacher's view, cached too) and, at its
defaults, the 9 nearest neighbours of every document.

- cold: a fresh, empty cache folder for each model: it computes every view it needs;
- warm: the same fit again on its now-filled cache (no encoder forward pass).

Each fit runs in its own subprocess with OMP_NUM_THREADS threads; wall and CPU seconds.

    OMP_NUM_THREADS=1 python bench/soft_label_fit_time.py tweet89 subj
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CORPORA = {"tweet89": ("shorttext/tweet89.jsonl", 89), "subj": ("shorttext/20ng_subjects.jsonl", 50),
           "20ng": ("20newsgroup/corpus_stripped.jsonl", 50)}
MODELS = ("zeroshot", "softlabel-encoder")

WORKER = """
import json, sys, time
sys.path.insert(0, {bench!r})
from _measure import Clock
from softtopic import load_corpus
from softtopic.models.registry import get_model_class
texts = [t for t in load_corpus({path!r}).texts if t.strip()]
clock = Clock()
model = get_model_class({model!r})({k}, seed=0, progress=False, cache_dir={cache!r})
model.fit(texts)
wall, cpu = clock.stop()
print(json.dumps({{"wall": wall, "cpu": cpu, "train": float(sum(model.history_["seconds"]))}}))
"""


def fit_once(corpus: str, model: str, cache: str) -> dict:
    path, k = CORPORA[corpus]
    code = WORKER.format(bench=str(Path(__file__).parent), path=str(DATA / path), model=model,
                         k=k, cache=cache)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if out.returncode:
        raise SystemExit(f"{model} on {corpus} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="+", choices=sorted(CORPORA))
    a = ap.parse_args()
    print("| corpus | model | cold wall s | cold CPU s | warm wall s | warm CPU s | "
          "warm training s |")
    print("|---|---|---|---|---|---|---|")
    for corpus in a.corpora:
        for m in MODELS:
            with tempfile.TemporaryDirectory() as cache:
                cold, warm = fit_once(corpus, m, cache), fit_once(corpus, m, cache)
            print(f"| {corpus} | {m} | {cold['wall']:.1f} | {cold['cpu']:.1f} | "
                  f"{warm['wall']:.1f} | {warm['cpu']:.1f} | {warm['train']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
