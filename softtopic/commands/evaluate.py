"""softtopic evaluate RUN_DIR --reference FILE [--labels-from CORPUS]: every metric of a run
folder into RUN_DIR/metrics.json, with how each number was computed, and a printed table."""
from __future__ import annotations

import json
import sys

from ..evaluation.llm_rating import LLMRatingError
from ..evaluation.report import METRICS, evaluate_run, format_table
from .llm_options import add_llm_arguments, check_llm_arguments


def add_parser(sub):
    p = sub.add_parser("evaluate", help="score a run folder: coherence, diversity, purity, "
                       "retrieval, LLM rating; writes RUN_DIR/metrics.json")
    p.add_argument("run_dir", help="a folder written by `softtopic fit --out`")
    p.add_argument("--reference", help="reference corpus for C_V/NPMI: JSONL, CSV/TSV, text "
                   "file with one document a line, optionally .gz (may be the training corpus); "
                   "its window statistics are counted once and cached")
    p.add_argument("--reference-text-column", default=None,
                   help="text field of a JSONL/CSV reference (default: the training corpus's "
                   "when the reference is that corpus, else 'text')")
    p.add_argument("--labels-from", help="corpus whose labels are aligned to the run by "
                   "document id (default: the run's labels.json)")
    p.add_argument("--text-column", default=None, help="text field of the --labels-from "
                   "corpus (default: the training corpus's, from the run's config.json)")
    p.add_argument("--label-column", default="label")
    p.add_argument("--id-column", default="id")
    p.add_argument("--top-n", type=int, default=15, help="top words per topic (default 15)")
    p.add_argument("--metrics", default="auto",
                   help=f"comma-separated, from: {','.join(METRICS)} (default: all that the "
                   "inputs allow)")
    p.add_argument("--counting", choices=("exact", "gensim"), default="exact",
                   help="window counting: exact (default) or gensim's under-counting replay")
    p.add_argument("--absent", choices=("zero", "drop"), default="zero",
                   help="topic words absent from the reference: kept with NPMI 0 (default) or "
                   "dropped as gensim does")
    add_llm_arguments(p)
    p.add_argument("--cache-dir", help="cache root (default $SOFTTOPIC_CACHE or "
                   "~/.cache/softtopic)")
    p.add_argument("--no-cache", action="store_true",
                   help="recount reference statistics and re-ask the LLM")
    p.add_argument("--json", action="store_true", help="print metrics.json instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.top_n < 1:
        raise ValueError(f"--top-n must be positive, got {args.top_n}")
    check_llm_arguments(args)
    try:
        result = _evaluate(args)
    except LLMRatingError as e:
        print(f"softtopic evaluate: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(format_table(result))
        print(f"\nwrote {args.run_dir.rstrip('/')}/metrics.json")
    return 0


def _evaluate(args) -> dict:
    return evaluate_run(
        args.run_dir, reference=args.reference, labels_from=args.labels_from,
        text_column=args.text_column, label_column=args.label_column, id_column=args.id_column,
        reference_text_column=args.reference_text_column, top_n=args.top_n,
        metrics=args.metrics, counting=args.counting, absent=args.absent,
        llm_endpoint=args.llm_endpoint, llm_model=args.llm_model,
        llm_options={"max_workers": args.llm_workers, "timeout": args.llm_timeout,
                     "use_cache": not args.no_cache},
        cache_dir=args.cache_dir, use_cache=not args.no_cache, progress=not args.quiet)
