"""softtopic transform RUN CORPUS --out theta.npy: topic distributions of new documents under a
run's saved model.

    softtopic transform RUN CORPUS --out theta.npy [--text-column text] [--id-column id]
        [--chunk-documents 16384] [--engine local|ray ...]

Neural models read CORPUS in blocks and write theta in chunks (`transform_file`), so a file
larger than memory works; LDA, FASTopic and BERTopic read the corpus whole. Writes theta.npy
(N x K float32, rows sum to 1, in the order of the file's documents; a temporary name renamed
when complete).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..corpus import load_corpus
from ..explore.run_folder import open_run
from ..files import save_npy_atomic
from ..models.neural import NeuralTopicModel
from ..streaming import stream_corpus
from ..views.engines import use_engine
from .engine_options import add_engine_arguments, engine_from_args


def add_parser(sub):
    p = sub.add_parser("transform", help="topic distributions of new documents under a run's "
                       "saved model")
    p.add_argument("run_dir", help="a folder written by `softtopic fit --out`")
    p.add_argument("corpus", help="JSONL, CSV, TSV or text file of the new documents")
    p.add_argument("--out", required=True, help="the .npy file to write theta to")
    p.add_argument("--text-column", default="text")
    p.add_argument("--id-column", default="id")
    p.add_argument("--chunk-documents", type=int, default=16384,
                   help="documents read and inferred at a time (neural models)")
    add_engine_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.chunk_documents < 1:
        raise ValueError(f"--chunk-documents must be >= 1, got {args.chunk_documents}")
    model = open_run(args.run_dir, need_texts=False).model
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = dict(text_column=args.text_column, id_column=args.id_column, label_column=None)
    with use_engine(engine_from_args(args)):  # views the model reads (embeddings, LM) go there
        if isinstance(model, NeuralTopicModel):
            stream = stream_corpus(args.corpus, **columns)
            theta = model.transform_file(stream, out, chunk_documents=args.chunk_documents)
        else:
            corpus = load_corpus(args.corpus, **columns)
            theta = np.asarray(model.transform(corpus.texts), dtype=np.float32)
            save_npy_atomic(out, theta)
    print(f"softtopic transform: {len(theta)} documents x {theta.shape[1]} topics -> {out}")
    return 0
