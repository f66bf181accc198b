"""The command-line options that choose where views are computed (softtopic.views.engines),
shared by `soft-labels`, `embed`, `fit` and `bench`."""
from __future__ import annotations

from ..views.engines import ENGINES, make_engine


def add_engine_arguments(p):
    g = p.add_argument_group("engine (where language-model and encoder passes run)")
    g.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: this process (default); ray: Ray Data actors on a Ray cluster "
                        "(pip install 'softtopic[distributed]')")
    g.add_argument("--address", default=None,
                   help="with --engine ray: 'auto' (the cluster this machine is part of) or "
                        "HOST:PORT; default: start a Ray instance on this machine")
    g.add_argument("--workers", type=int, default=1,
                   help="with --engine ray: model copies (actors) running at once")
    g.add_argument("--gpus-per-worker", type=float, default=0.0,
                   help="with --engine ray: GPUs each actor asks for (0: CPU actors)")
    g.add_argument("--cpus-per-worker", type=float, default=1.0,
                   help="with --engine ray: CPUs (and torch threads) each actor asks for")


def add_view_command_arguments(p):
    """What every command that computes a view takes: the cache, quiet, the engine."""
    p.add_argument("--cache-dir", default=None, help="view cache folder (default: "
                                                       "$SOFTTOPIC_CACHE or ~/.cache/softtopic)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_engine_arguments(p)


def engine_options(args) -> dict:
    """The engine's settings from parsed arguments ({"engine": "local"} for the default)."""
    if args.engine == "local":
        given = [flag for flag, value, default in (
            ("--address", args.address, None), ("--workers", args.workers, 1),
            ("--gpus-per-worker", args.gpus_per_worker, 0.0),
            ("--cpus-per-worker", args.cpus_per_worker, 1.0)) if value != default]
        if given:
            raise ValueError(f"{', '.join(given)} only apply with --engine ray")
        return {"engine": "local"}
    return {"engine": "ray", "address": args.address, "workers": args.workers,
            "gpus_per_worker": args.gpus_per_worker, "cpus_per_worker": args.cpus_per_worker}


def engine_from_args(args):
    options = engine_options(args)
    return make_engine(options.pop("engine"), **options)
