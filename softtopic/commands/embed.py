"""softtopic embed: compute a corpus's sentence embeddings into the view cache (and a folder).

    softtopic embed CORPUS [--encoder ID_OR_PATH] [--out DIR] [--max-seq-length 256]
        [--batch-size 64] [--device D] [--cache-dir DIR] [--text-column text]
        [--engine local|ray [--address auto|HOST:PORT] [--workers N] [--gpus-per-worker G]]

The embeddings go to the per-document cache every model that reads a sentence encoder uses
(ZeroShotTM, CombinedTM, the encoder soft label, BERTopic, FASTopic), so a later `fit` of any
of them reads them instead of recomputing; with --out, also embeddings.npy (N x E float32) and
ids.json in corpus order. An interrupted run keeps its finished shards and resumes.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..corpus import load_corpus
from ..views.sentence import DEFAULT_ENCODER, SentenceEmbeddings
from .engine_options import add_view_command_arguments, engine_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("embed", help="compute sentence embeddings of a corpus (cached)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("corpus", help="corpus file or folder (JSONL, CSV, TSV, text, folder)")
    p.add_argument("--encoder", default=DEFAULT_ENCODER,
                   help="sentence-transformers model: Hugging Face id or local folder "
                        "(default: the bundled %(default)s)")
    p.add_argument("--out", default=None, help="also write embeddings.npy and ids.json here")
    p.add_argument("--max-seq-length", type=int, default=256,
                   help="tokens the encoder reads per document (the models' default)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: auto)")
    p.add_argument("--text-column", default="text")
    add_view_command_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    corpus = load_corpus(args.corpus, text_column=args.text_column, label_column=None)
    view = SentenceEmbeddings(args.encoder, max_seq_length=args.max_seq_length,
                              batch_size=args.batch_size, device=args.device,
                              cache_dir=args.cache_dir, progress=not args.quiet,
                              engine=engine_from_args(args))
    t0 = time.perf_counter()
    emb = view(corpus.texts)
    seconds = time.perf_counter() - t0
    print(f"softtopic embed: {len(corpus)} documents, {emb.shape[1]} dimensions, "
          f"{seconds:.1f} s; cache folder {view.cache_folder()}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "embeddings.npy", emb)
        (out / "ids.json").write_text(json.dumps(list(corpus.ids), ensure_ascii=False))
        print(f"embeddings: {out / 'embeddings.npy'}")
    return 0
