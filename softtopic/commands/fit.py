"""softtopic fit CORPUS --model NAME --k K --out DIR: fit a model, write a run folder."""
from __future__ import annotations

import json
import time

from ..corpus import load_corpus
from ..models.build import build_model
from ..models.neural import NeuralTopicModel
from ..streaming import stream_corpus
from ..models.registry import MODELS
from ..runs import check_run_target, format_topic_table, write_run
from ..views.engines import use_engine
from .engine_options import add_engine_arguments, engine_from_args


def count_or_share(value: str) -> int | float:
    """min_df / max_df as scikit-learn's: "5" is a document count (int), "0.5" a share."""
    try:
        return int(value)
    except ValueError:
        return float(value)


def stopword_list(value: str) -> str | list[str]:
    """--stopwords: "english", "none", or a comma-separated list of words ("the,of,qt")."""
    if value in ("english", "none"):
        return value
    return [w.strip() for w in value.split(",") if w.strip()]


# flag -> constructor parameter; a flag left unset keeps the model's own default
MODEL_FLAGS = {
    "vocab_size": int, "epochs": int, "batch_size": int, "lr": float, "seed": int,
    "encoder": str, "device": str, "min_df": count_or_share, "max_df": count_or_share,
    "n_samples": int, "cache_dir": str,
    # token policy (softtopic/preprocessing.py): every model takes these
    "min_token_length": int, "token_pattern": str, "stopwords": stopword_list,
    # soft-label models (softtopic/models/presets.py: SoftLabelPreset)
    "lm": str, "teacher": str, "tau": float, "lambda": float, "divergence": str, "top_k": int,
    "instruction": str, "max_document_tokens": int, "bow_mix": float, "bow_neighbours": int,
    "hub_correction": str, "store_top_k": int,
    "student": str,  # BAT: the student preset
    "word_vectors": str, "passes": int,   # ETM/ECRTM word-vector file; LDA passes
}
FLAG_HELP = {
    "min_token_length": "shortest token of the built-in letters-only pattern (default 3; 2 "
                        "keeps 'qt', 'js', 'os')",
    "token_pattern": "a regular expression whose matches in the lowercased text are the "
                     "tokens, in place of the built-in pattern (write it as "
                     "--token-pattern=REGEX when it starts with '-')",
    "stopwords": "'english' (default), 'none', or a comma-separated list of words",
}
# flags whose constructor parameter has another name (`lambda` is a Python keyword)
FLAG_PARAMS = {"lambda": "weight"}


def add_corpus_arguments(p):
    p.add_argument("corpus", help="JSONL, CSV, TSV, text file (one document a line) or folder")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label", help="optional; ignored when absent")
    p.add_argument("--id-column", default="id")
    p.add_argument("--time-column", help="optional: each document's time (a date or a number), "
                   "for topics over time in `softtopic report`")


def add_parser(sub):
    p = sub.add_parser("fit", help="fit a topic model and write a run folder")
    add_corpus_arguments(p)
    p.add_argument("--model", default="prodlda", help=f"one of {', '.join(sorted(MODELS))}")
    p.add_argument("--k", "--n-topics", dest="n_topics", type=int, default=50)
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (never any other folder)")
    for flag, kind in MODEL_FLAGS.items():
        p.add_argument("--" + flag.replace("_", "-"), dest=flag, type=kind, default=None,
                       help=FLAG_HELP.get(flag))
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="any other constructor parameter (VALUE parsed as JSON when it can be)")
    p.add_argument("--stream", action="store_true",
                   help="read the corpus file in blocks instead of loading it: the vocabulary is "
                   "counted in one pass, the bag of words written to disk in a second and read "
                   "memory-mapped (neural models; the same model as without --stream)")
    p.add_argument("--work-dir", help="with --stream: folder for the on-disk bag of words, ids "
                   "and theta (default: a new temporary folder)")
    p.add_argument("--top-n", type=int, default=10, help="words shown per topic")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_engine_arguments(p)
    p.set_defaults(func=run)


def model_kwargs(args) -> dict:
    kwargs = {"n_topics": args.n_topics}
    kwargs.update({FLAG_PARAMS.get(k, k): getattr(args, k) for k in MODEL_FLAGS
                   if getattr(args, k) is not None})
    for item in args.param:
        if "=" not in item:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        try:
            kwargs[name] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[name] = value
    return kwargs


def run(args) -> int:
    check_run_target(args.out, args.overwrite)
    columns = dict(text_column=args.text_column, label_column=args.label_column,
                   id_column=args.id_column, time_column=args.time_column)
    stream = getattr(args, "stream", False)
    if stream:   # reads nothing yet: the model's fit makes the passes
        corpus = stream_corpus(args.corpus, work_dir=getattr(args, "work_dir", None), **columns)
    else:
        corpus = load_corpus(args.corpus, **columns)
    model = build_model(args.model, model_kwargs(args), progress=False if args.quiet else None)
    if stream and not isinstance(model, NeuralTopicModel):
        raise ValueError(f"--stream works with the neural models; {args.model} reads the whole "
                         "corpus in memory (drop --stream)")
    engine = engine_from_args(args)
    t0 = time.perf_counter()
    with use_engine(engine):  # the views fit computes run there
        model.fit(corpus)
    seconds = time.perf_counter() - t0
    write_run(model, corpus, args.out, args.model,
              {"path": str(args.corpus), "text_column": args.text_column,
               "label_column": args.label_column if corpus.labels is not None else None,
               "id_column": args.id_column, "time_column": args.time_column},
              timings={"fit_seconds": seconds}, overwrite=args.overwrite)
    print(format_topic_table(model, args.top_n))
    print(f"\nfitted {args.model} (K={model.n_topics}) on {len(corpus)} documents in "
          f"{seconds:.1f} s; run folder: {args.out}")
    return 0
