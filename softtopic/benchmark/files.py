"""Names and atomic writes of the files in a benchmark run folder (shared by the runner, the
worker and the report, so the worker module is only imported when it runs)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

DONE, ERROR, SPEC = "done.json", "error.json", "spec.json"


def write_json_atomic(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def record_failure(run_dir: Path, message: str, tb: str) -> None:
    lines = tb.strip().splitlines()
    write_json_atomic(run_dir / ERROR, {"error": message, "traceback_tail": lines[-25:],
                                        "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
