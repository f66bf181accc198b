"""Compact soft labels (store_top_k): bytes on disk, and the trained model, dense vs top-K.

A tiny random Llama (tests/tiny_lm.py; its tokenizer is trained on the corpus) computes the LM
view of a real corpus once, dense; the top-K views are compacted from that dense cache entry
(no second LM pass). For each K the script prints the bytes of the soft-label arrays in the
view folder (`LanguageModelView.write`) and in the cache, the bytes per document the view
reports, and whether `SoftLabelTM` trained on the compact view (same seed, top_k <= K) gives
the dense model: the largest absolute difference of topic_word_ and theta_.

    OMP_NUM_THREADS=1 python bench/compact_soft_labels.py \
        [--corpus /work/shared/data/shorttext/tweet89.jsonl] [--store-top-k 50,100] \
        [--top-k 50] [--k 20] [--epochs 20] [--work /tmp/compact-bench]

The tiny LM is not a real teacher (its topics mean nothing); what is measured is storage and
exactness, which do not depend on the LM's quality. The per-document table for a real LM's
sizes (|V| = 2,000, d = 1,024) is `softtopic.views.topk.bytes_per_document`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))   # tiny_lm

DEFAULT_CORPUS = Path("/work/shared/data/shorttext/tweet89.jsonl")


def folder_bytes(folder: Path, names) -> int:
    return sum((folder / n).stat().st_size for n in names if (folder / n).exists())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--store-top-k", default="50,100")
    ap.add_argument("--top-k", type=int, default=50, help="the soft label's top_k in training")
    ap.add_argument("--k", type=int, default=20, help="topics")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--vocab-size", type=int, default=2000)
    ap.add_argument("--lm-vocab", type=int, default=8000, help="tiny LM's tokenizer size")
    ap.add_argument("--work", default="/tmp/compact-bench")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(1)
    from tiny_lm import make_tiny_lm
    from softtopic import load_corpus
    from softtopic.models.presets import SoftLabelTM
    from softtopic.preprocessing import PreprocessingConfig, Vocabulary
    from softtopic.views.cache import cache_key
    from softtopic.views.lm import LanguageModelView
    from softtopic.views.topk import bytes_per_document

    work = Path(args.work)
    corpus = load_corpus(args.corpus)
    texts = corpus.texts
    lm = str(make_tiny_lm(work, texts, vocab_size=args.lm_vocab, hidden=64, name="tiny-lm"))
    vocabulary = Vocabulary(PreprocessingConfig(vocab_size=args.vocab_size))
    vocabulary.fit_transform(texts)
    words = list(vocabulary.words)
    cache = work / "cache"
    print(f"corpus {args.corpus}: {len(texts)} documents, |V| = {len(words)}; tiny LM {lm}")

    def view(k):
        return LanguageModelView(lm, cache_dir=cache, progress=False, store_top_k=k)

    rows = []
    for k in [None, *[int(x) for x in args.store_top_k.split(",")]]:
        v = view(k)
        t0 = time.perf_counter()
        result = v(texts, words, corpus_hash=corpus.content_hash())
        seconds = time.perf_counter() - t0
        out = v.write(work / f"view-{k or 'dense'}", result, words, ids=corpus.ids)
        names = ["logits.npy"] if k is None else ["topk_indices.npy", "topk_values.npy",
                                                  "topk_inexact.npy"]
        cached = cache / "lm" / cache_key(**v.settings(words, corpus.content_hash()))
        storage = v.report_["storage"]
        rows.append({"store_top_k": k, "folder_bytes": folder_bytes(out, names),
                     "cache_bytes": folder_bytes(cached, names),
                     "bytes_per_document": storage["bytes_per_document"]["soft_label"],
                     "hidden_dim": int(result["hidden"].shape[1]),
                     "inexact_documents": storage.get("inexact_documents"),
                     "shared_word_groups": storage.get("word_groups_shared"),
                     "derived_from_dense": bool(storage.get("derived_from_dense_view")),
                     "view_seconds": seconds})
    n = len(texts)
    print("\n| soft labels | files | bytes in the view folder | bytes in the cache | "
          "bytes / document | vs dense | LM pass | inexact docs |")
    print("|---|---|---|---|---|---|---|---|")
    dense_bytes = rows[0]["folder_bytes"]
    for r in rows:
        k = r["store_top_k"]
        files = "logits.npy" if k is None else "topk_indices/values/inexact.npy"
        print(f"| {'dense' if k is None else f'top {k}'} | {files} | {r['folder_bytes']:,} | "
              f"{r['cache_bytes']:,} | {r['bytes_per_document']} | "
              f"{r['folder_bytes'] / dense_bytes:.3f} | "
              f"{'no (compacted from the dense cache)' if r['derived_from_dense'] else 'yes'} | "
              f"{'' if r['inexact_documents'] is None else r['inexact_documents']} |")
    print(f"\n(.npy sizes include a 128-byte header per file; {n} documents; "
          f"{rows[-1]['shared_word_groups']} vocabulary words share a scoring group)")

    # training: same seed, dense vs compact, top_k <= K
    kw = dict(lm=lm, epochs=args.epochs, progress=False, cache_dir=str(cache), seed=0,
              top_k=args.top_k)
    fits = {}
    for k in [None, *[int(x) for x in args.store_top_k.split(",")]]:
        if k is not None and args.top_k > k:
            continue
        t0 = time.perf_counter()
        fits[k] = (SoftLabelTM(args.k, store_top_k=k, **kw).fit(texts), time.perf_counter() - t0)
    dense, dense_s = fits.pop(None)
    print(f"\nSoftLabelTM(K={args.k}, top_k={args.top_k}, epochs={args.epochs}, seed=0):")
    print("| view | fit s | max abs diff topic_word_ | max abs diff theta_ | identical |")
    print("|---|---|---|---|---|")
    print(f"| dense | {dense_s:.1f} | - | - | - |")
    for k, (m, s) in fits.items():
        dtw = float(np.abs(m.topic_word_ - dense.topic_word_).max())
        dth = float(np.abs(m.theta_ - dense.theta_).max())
        same = np.array_equal(m.topic_word_, dense.topic_word_) and \
            np.array_equal(m.theta_, dense.theta_)
        print(f"| store_top_k={k} | {s:.1f} | {dtw:.3g} | {dth:.3g} | {same} |")

    print("\nbytes per document for a real LM's sizes (|V| = 2000, d = 1024, "
          "softtopic.views.topk.bytes_per_document):")
    print("| soft labels | soft label bytes | + hidden (float16) | total | soft label vs dense |")
    print("|---|---|---|---|---|")
    for k in (None, 50, 100):
        b = bytes_per_document(2000, 1024, k)
        print(f"| {'dense' if k is None else f'top {k}'} | {b['soft_label']:,} | "
              f"{b['hidden_float16']:,} | {b['total']:,} | "
              f"{b['soft_label'] / b['dense_soft_label']:.4f} |")
    (work / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
