"""softtopic search RUN "query text" | --doc ID [-k 10]: the training documents nearest by topic
distribution, as a table of ids, distances, labels and the first line of each text."""
from __future__ import annotations

from ..explore.run_folder import open_run


def add_parser(sub):
    p = sub.add_parser("search", help="find a run's documents nearest to a query text or to a "
                       "document, by topic distribution")
    p.add_argument("run_dir", help="a folder written by `softtopic fit --out`")
    p.add_argument("query", nargs="?", help="free text (inferred with the saved model)")
    p.add_argument("--doc", help="a training document's id instead of a query text")
    p.add_argument("-k", type=int, default=10, help="documents to show (default 10)")
    p.add_argument("--metric", choices=("kl", "hellinger"), default="kl")
    p.add_argument("--corpus", help="where the training texts are (default: the corpus the run "
                   "was fitted on)")
    p.set_defaults(func=run)


def run(args) -> int:
    if (args.query is None) == (args.doc is None):
        raise ValueError("pass a query text or --doc ID (one of them)")
    explored = open_run(args.run_dir, args.corpus)
    hits = explored.model.search(query=args.query, doc=args.doc, k=args.k, metric=args.metric)
    print(format_hits(hits))
    return 0


def format_hits(hits, width: int = 70) -> str:
    lines = [f"{'rank':>4}  {'id':<14} {'distance':>9}  {'topic label':<18} text"]
    for h in hits.itertuples():
        text = next((line for line in str(getattr(h, "text", "")).splitlines() if line.strip()),
                    "")
        label = f"{h.topic} {h.label}"[:18]
        lines.append(f"{h.rank + 1:>4}  {str(h.id)[:14]:<14} {h.distance:>9.4f}  {label:<18} "
                     f"{' '.join(text.split())[:width]}")
    return "\n".join(lines)
