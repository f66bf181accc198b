"""softtopic bench-report DIR: Markdown and HTML tables and plots from a benchmark folder."""
from __future__ import annotations

import os

from ..benchmark.report import build_report


def add_parser(sub):
    p = sub.add_parser("bench-report", help="tables and plots from a `softtopic bench` folder")
    p.add_argument("out", help="the folder `softtopic bench --out` wrote")
    p.add_argument("--alpha", type=float, default=0.05, help="Welch's t-test level")
    p.add_argument("--cache", default=os.environ.get("SOFTTOPIC_CACHE"),
                   help="view cache whose timings go in the speed table")
    p.add_argument("--no-per-k", action="store_true", help="skip the per-K tables")
    p.set_defaults(func=run)


def run(args) -> int:
    info = build_report(args.out, cache_dir=args.cache, alpha=args.alpha,
                        per_k=not args.no_per_k)
    print(f"{info['runs']} runs ({info['done']} done) -> {info['report']}, {info['html']}")
    return 0
