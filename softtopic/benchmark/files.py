"""Names and atomic writes of the files in a benchmark run folder (shared by the runner, the
worker and the report, so the worker module is only imported when it runs)."""
from __future__ import annotations

import time
from pathlib import Path

from ..files import write_json_atomic
from ..runs import is_complete_run

__all__ = ["DONE", "ERROR", "SPEC", "is_finished", "record_failure", "write_json_atomic"]

DONE, ERROR, SPEC = "done.json", "error.json", "spec.json"


def is_finished(run_dir: Path) -> bool:
    """Scored (done.json) and a complete run folder (the run marker): the one test of
    'finished' for resuming, the worker's exit and the report."""
    return (run_dir / DONE).exists() and is_complete_run(run_dir)


def record_failure(run_dir: Path, message: str, tb: str) -> None:
    lines = tb.strip().splitlines()
    write_json_atomic(run_dir / ERROR, {"error": message, "traceback_tail": lines[-25:],
                                        "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
