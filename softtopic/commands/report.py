"""softtopic report RUN [--out report.html] [--png DIR]: one self-contained, offline HTML file
showing a run (overview, topics, intertopic map, similarity, document map, topics over time),
and with --png a static image of every plot."""
from __future__ import annotations

from ..explore.run_folder import open_run
from ..report import build_report


def add_parser(sub):
    p = sub.add_parser("report", help="write an offline HTML report of a run")
    p.add_argument("run_dir", help="a folder written by `softtopic fit --out`")
    p.add_argument("--out", help="HTML file (default RUN/report.html)")
    p.add_argument("--png", metavar="DIR", help="also write a PNG of every plot into DIR")
    p.add_argument("--max-documents", type=int, default=3000,
                   help="documents drawn on the document map (a seeded sample; default 3000)")
    p.add_argument("--projection", choices=("auto", "umap", "pca"), default="auto",
                   help="document map projection (auto: UMAP when installed, else PCA)")
    p.add_argument("--corpus", help="where the training texts are (default: the run's corpus)")
    p.add_argument("--time-column", help="a column of the corpus with each document's time: "
                   "adds topics over time")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.max_documents < 1:
        raise ValueError(f"--max-documents must be at least 1, got {args.max_documents}")
    explored = open_run(args.run_dir, args.corpus, with_times=True,
                        time_column=args.time_column)
    out = args.out or explored.dir / "report.html"
    written = build_report(explored, out, args.max_documents, args.projection, args.seed,
                           args.png)
    print(f"report: {written['html']} ({written['bytes'] / 1e6:.1f} MB, plots: "
          f"{', '.join(written['plots'])}) in {written['seconds']:.1f} s")
    for path in written.get("png", []):
        print(f"  {path}")
    return 0
