"""Names and atomic writes of the files in a benchmark run folder (shared by the runner, the
worker and the report, so the worker module is only imported when it runs)."""
from __future__ import annotations

import time
from pathlib import Path

from ..files import write_json_atomic

__all__ = ["DONE", "ERROR", "SPEC", "record_failure", "write_json_atomic"]

DONE, ERROR, SPEC = "done.json", "error.json", "spec.json"


def record_failure(run_dir: Path, message: str, tb: str) -> None:
    lines = tb.strip().splitlines()
    write_json_atomic(run_dir / ERROR, {"error": message, "traceback_tail": lines[-25:],
                                        "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
