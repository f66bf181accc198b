"""Empty documents and 2-letter vocabulary words under the token policy: the built-in
letters-only pattern at min_token_length 3 (the default) and 2, top-2000 vocabulary, English
stopwords, on the short-text corpora. Vocabulary fitting only (no model): a few seconds.

    python bench/token_policy_counts.py [--data /work/shared/data/shorttext] [--vocab-size 2000]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from softtopic.preprocessing import PreprocessingConfig, Vocabulary, empty_rows

CORPORA = ("20ng_subjects.jsonl", "tweet89.jsonl")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/shorttext")
    ap.add_argument("--vocab-size", type=int, default=2000)
    ap.add_argument("--lengths", type=int, nargs="+", default=[3, 2])
    args = ap.parse_args()
    print(f"{'corpus':<22}{'docs':>7}{'min len':>8}{'empty':>7}{'words':>7}{'2-letter':>9}"
          "  most frequent 2-letter words")
    for name in CORPORA:
        with open(Path(args.data) / name) as f:
            texts = [json.loads(line)["text"] for line in f]
        for n in args.lengths:
            vocab = Vocabulary(PreprocessingConfig(vocab_size=args.vocab_size,
                                                   min_token_length=n))
            bow = vocab.fit_transform(texts)
            counts = bow.sum(axis=0).A1
            two = sorted((w for w in vocab.words if len(w) == 2),
                         key=lambda w: -counts[vocab.words.index(w)])
            print(f"{name:<22}{len(texts):>7}{n:>8}{len(empty_rows(bow)):>7}{len(vocab):>7}"
                  f"{len(two):>9}  {' '.join(two[:12])}")


if __name__ == "__main__":
    main()
