"""Running a grid: one subprocess per run, resumable, with progress and a failure summary.

A run is done only when its folder holds the run marker and done.json (the worker writes them
last, atomically). Rerunning a grid skips done runs whose spec and model parameters (defaults
included: a release may change them) are unchanged and recomputes everything else from an
emptied folder; views and
reference statistics are shared through the on-disk cache (SOFTTOPIC_CACHE), so a rerun never
recomputes them.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from ..models.build import build_model
from ..models.registry import MODELS
from ..views.engines import ENGINE_ENV
from .config import BenchConfig, RunSpec
from .files import ERROR, SPEC, is_finished, record_failure, write_json_atomic


@dataclass
class RunResult:
    spec: RunSpec
    status: str          # "done", "skipped" (already done), "failed"
    seconds: float = 0.0
    error: str | None = None


def run_state(run_dir: Path, spec: RunSpec) -> str:
    """'done' when the run is finished, the recorded spec equals this one and the model was
    built with the parameters this softtopic would give it now, else 'todo'."""
    if not is_finished(run_dir):
        return "todo"
    try:
        recorded = json.loads((run_dir / SPEC).read_text())
    except (OSError, json.JSONDecodeError):
        return "todo"
    if recorded != json.loads(json.dumps(spec.to_dict(), default=str)):
        return "todo"
    return "todo" if defaults_changed(run_dir, spec) else "done"


def defaults_changed(run_dir: Path, spec: RunSpec) -> bool:
    """Whether the run's model (every parameter, as its config.json records them) differs from
    the one `spec` builds now: the spec names only the parameters the grid sets, so a default
    changed since the run (a new release) would otherwise pass its old results for the new
    model's. A parameter added after the run was recorded counts with the value the run was
    trained with (`_parameters_added_later`, as loading a saved model has it)."""
    try:
        used = json.loads((run_dir / "config.json").read_text())["params"]
        model = build_model(spec.model, spec.params, progress=False)
    except (OSError, json.JSONDecodeError, KeyError, ValueError):
        return True
    added_later = json.loads(json.dumps(type(model)._parameters_added_later, default=str))
    return {**added_later, **used} != json.loads(json.dumps(model.get_params(), default=str))


def _prepare(run_dir: Path, spec: RunSpec):
    # An unfinished or outdated run is recomputed in an emptied folder, so no file of an earlier
    # attempt (a marker, a labels.json this dataset lacks) passes for part of the new run.
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    write_json_atomic(run_dir / SPEC, spec.to_dict())


def execute(spec: RunSpec, run_dir: Path, env: dict, timeout: float | None = None) -> RunResult:
    _prepare(run_dir, spec)
    if spec.model not in MODELS:
        msg = f"unknown model {spec.model!r}; known models: {', '.join(sorted(MODELS))}"
        record_failure(run_dir, msg, "")
        return RunResult(spec, "failed", 0.0, msg)
    t0 = time.perf_counter()
    with open(run_dir / "log.txt", "w") as log:
        try:
            proc = subprocess.run([sys.executable, "-m", "softtopic.benchmark.worker",
                                   str(run_dir)], stdout=log, stderr=subprocess.STDOUT,
                                  env=env, timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
    seconds = time.perf_counter() - t0
    if code == 0 and is_finished(run_dir):
        return RunResult(spec, "done", seconds)
    if not (run_dir / ERROR).exists():  # killed, crashed in C, or timed out: no own record
        tail = (run_dir / "log.txt").read_text(errors="replace")[-3000:]
        why = f"timed out after {timeout} s" if code is None else f"exited with status {code}"
        record_failure(run_dir, f"worker {why} without an error record", tail)
    error = json.loads((run_dir / ERROR).read_text())["error"]
    return RunResult(spec, "failed", seconds, error)


def _fmt_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def run_grid(config: BenchConfig, out: str | Path, jobs: int = 1, cache_dir: str | None = None,
             timeout: float | None = None, echo=print,
             engine: dict | None = None) -> list[RunResult]:
    """Run the grid's missing runs, `jobs` at a time, one subprocess each. `engine`: where the
    runs compute their views (engine_options settings; None: each run's own process)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = config.runs()
    write_json_atomic(out / "bench.json", {"name": config.name, "source": config.source,
                                           "config": config.raw, "n_runs": len(specs),
                                           "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
    env = dict(os.environ)
    if cache_dir:
        env["SOFTTOPIC_CACHE"] = str(cache_dir)
    if engine and engine.get("engine", "local") != "local":
        env[ENGINE_ENV] = json.dumps(engine)
    if jobs > 1:
        env.setdefault("OMP_NUM_THREADS", "1")  # parallel runs must not oversubscribe cores

    results, todo = [], []
    for spec in specs:
        run_dir = out / spec.relpath
        if run_state(run_dir, spec) == "done":
            results.append(RunResult(spec, "skipped"))
        else:
            todo.append(spec)
    total = len(specs)
    echo(f"softtopic bench: {config.name}: {total} runs, {total - len(todo)} already done, "
         f"{len(todo)} to run (jobs={jobs}) -> {out}")
    lock = threading.Lock()
    state = {"finished": total - len(todo), "failed": 0, "busy_seconds": 0.0, "computed": 0}
    t_grid = time.perf_counter()

    def report(r: RunResult):
        with lock:
            state["finished"] += 1
            state["computed"] += 1
            state["busy_seconds"] += r.seconds
            state["failed"] += r.status == "failed"
            left = total - state["finished"]
            elapsed = time.perf_counter() - t_grid
            eta = elapsed / state["computed"] * left
            tail = f"FAILED: {r.error}" if r.status == "failed" else "ok"
            echo(f"[{state['finished']}/{total}] {r.spec.relpath} {r.seconds:.1f} s {tail} | "
                 f"failed {state['failed']} | elapsed {_fmt_seconds(elapsed)} | "
                 f"ETA {_fmt_seconds(eta)}")

    if jobs <= 1:
        for spec in todo:
            r = execute(spec, out / spec.relpath, env, timeout)
            report(r)
            results.append(r)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(execute, s, out / s.relpath, env, timeout) for s in todo]
            for f in as_completed(futures):
                r = f.result()
                report(r)
                results.append(r)
    summary = summarize(results, out)
    echo(summary_text(summary))
    return results


def summarize(results: list[RunResult], out: Path) -> dict:
    failed = [{"run": str(r.spec.relpath), "error": r.error} for r in results
              if r.status == "failed"]
    summary = {"total": len(results),
               "done": sum(r.status == "done" for r in results),
               "skipped": sum(r.status == "skipped" for r in results),
               "failed": failed,
               "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_json_atomic(out / "summary.json", summary)
    return summary


def summary_text(summary: dict) -> str:
    lines = [f"softtopic bench: {summary['done']} run, {summary['skipped']} already done, "
             f"{len(summary['failed'])} failed of {summary['total']}"]
    for f in summary["failed"]:
        lines.append(f"  FAILED {f['run']}: {f['error']}")
    if summary["failed"]:
        lines.append("  (error.json and log.txt in each failed run's folder; rerun the same "
                     "command to retry only the runs that are not done)")
    return "\n".join(lines)
