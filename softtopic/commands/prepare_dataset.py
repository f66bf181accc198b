"""softtopic prepare-dataset KIND SRC --out corpus.jsonl: a published dataset into JSONL."""
from __future__ import annotations

from ..benchmark.datasets import KINDS, prepare, write_jsonl


def add_parser(sub):
    p = sub.add_parser("prepare-dataset", help="convert a published dataset to softtopic JSONL")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("src", help="the dataset's file or folder, in its published layout")
    p.add_argument("--out", required=True, help="JSONL to write (.jsonl or .jsonl.gz)")
    p.add_argument("--no-strip", action="store_true",
                   help="20ng-bydate: keep headers, signatures and quoted replies")
    p.set_defaults(func=run)


def run(args) -> int:
    corpus = prepare(args.kind, args.src, strip=not args.no_strip)
    write_jsonl(corpus, args.out)
    blank = sum(1 for t in corpus.texts if not t.strip())
    labels = len(set(corpus.labels)) if corpus.labels is not None else 0
    print(f"{len(corpus)} documents, {labels} labels, {blank} blank (benchmark runs drop blank "
          f"documents; set drop_blank: false to keep them) -> {args.out}")
    for note in corpus.notes:
        print(f"note: {note}")
    return 0
