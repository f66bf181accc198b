"""The `softtopic` command line. Each subcommand lives in `softtopic.commands.<name>` and
registers itself with `add_parser(subparsers)`."""
from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .corpus import CorpusError
from .llm import LLMError

COMMANDS = ["fit", "transform", "demo", "soft_labels", "embed", "evaluate"]
COMMANDS += ["bench", "bench_report", "prepare_dataset"]  # benchmark harness
COMMANDS += ["search", "label", "report"]  # after the fit: explore and show


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="softtopic", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"softtopic {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"softtopic.commands.{name}").add_parser(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (CorpusError, ValueError, FileNotFoundError, LLMError) as e:
        print(f"softtopic {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"softtopic {args.command}: interrupted; cached views are kept and the next run "
              "resumes from them", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
