"""softtopic bench CONFIG --out DIR: run a benchmark grid (resumable; done runs are skipped)."""
from __future__ import annotations

import argparse

from ..benchmark.config import load_config
from ..benchmark.runner import run_grid
from ..views.engines import import_ray
from .engine_options import add_engine_arguments, engine_options


def add_parser(sub):
    p = sub.add_parser("bench", help="run a benchmark grid from a YAML config (resumable)")
    p.add_argument("config", help="YAML config (see configs/)")
    p.add_argument("--out", required=True, help="output folder: one folder per run")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (default 1)")
    p.add_argument("--cache", default=None,
                   help="view / reference-statistics cache shared by all runs "
                        "(default: $SOFTTOPIC_CACHE or ~/.cache/softtopic)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per run")
    p.add_argument("--allow-unknown-models", action="store_true",
                   help="record runs of models missing from the registry as failed instead of "
                        "refusing the config")
    p.add_argument("--datasets", type=_names, default=None, metavar="NAME[,NAME]",
                   help="run only these datasets of the config (same run folders: the full "
                        "grid later resumes from them)")
    p.add_argument("--k", type=_integers, default=None, metavar="K[,K]",
                   help="run only these K values of the config")
    p.add_argument("--models", type=_names, default=None, metavar="NAME[,NAME]",
                   help="run only these models (registry names, as in the config)")
    p.add_argument("--dry-run", action="store_true", help="validate and list the runs only")
    add_engine_arguments(p)
    p.set_defaults(func=run)


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _integers(value: str) -> list[int]:
    try:
        return [int(v) for v in _names(value)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {value!r}")


def run(args) -> int:
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    config = load_config(args.config, allow_unknown_models=args.allow_unknown_models)
    if args.datasets is not None or args.k is not None or args.models is not None:
        config = config.subset(args.datasets, args.k, args.models)
    if args.dry_run:
        specs = config.runs()
        for s in specs:
            print(s.relpath)
        print(f"{len(specs)} runs")
        return 0
    engine = engine_options(args)
    if engine["engine"] == "ray" and engine["address"] is None:
        # one Ray instance for the whole grid: every run's process joins it
        ray = import_ray()
        ray.init(include_dashboard=False, log_to_driver=False)
        engine["address"] = ray.get_runtime_context().gcs_address
    results = run_grid(config, args.out, jobs=args.jobs, cache_dir=args.cache,
                       timeout=args.timeout, engine=engine)
    return 1 if any(r.status == "failed" for r in results) else 0
