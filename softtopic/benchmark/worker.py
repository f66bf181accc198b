"""One benchmark run, in its own process: `python -m softtopic.benchmark.worker RUN_DIR`.

Reads RUN_DIR/spec.json, loads the dataset, fits the model named in the registry, writes the
run's files into RUN_DIR (softtopic.runs.write_run_files, the run marker last; the runner has
emptied the folder), scores it (metrics.json), records timings.json and last, atomically,
done.json. A failure writes error.json (message and traceback tail) and exits 1.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from .files import DONE, SPEC, record_failure, write_json_atomic


def run(run_dir: Path) -> dict:
    from ..models.build import build_model
    from ..runs import write_run_files
    from ..views.engines import engine_from_env, use_engine
    from .datasets import load_dataset
    from .scoring import score_run

    spec = json.loads((run_dir / SPEC).read_text())
    t_start = time.perf_counter()
    corpus, data_info = load_dataset(spec["dataset_options"])
    model = build_model(spec["model"], spec["params"], progress=False)
    t0 = time.perf_counter()
    with use_engine(engine_from_env()):  # `softtopic bench --engine ...` sets it
        model.fit(corpus)
    fit_seconds = time.perf_counter() - t0
    history = getattr(model, "history_", None) or {}
    epoch_seconds = [float(s) for s in history.get("seconds", [])]
    timings = {"load_seconds": t0 - t_start, "fit_seconds": fit_seconds,
               "epochs": len(epoch_seconds),
               "seconds_per_epoch": (sum(epoch_seconds) / len(epoch_seconds)
                                     if epoch_seconds else None)}
    write_run_files(model, corpus, run_dir, spec["model"], data_info, timings=timings)
    t1 = time.perf_counter()
    scores = score_run(run_dir, spec["evaluation"], spec["dataset_options"]["path"])
    timings["eval_seconds"] = time.perf_counter() - t1
    timings["total_seconds"] = time.perf_counter() - t_start
    timings["epoch_seconds"] = epoch_seconds
    write_json_atomic(run_dir / "metrics.json", {**scores, "dataset": data_info})
    write_json_atomic(run_dir / "timings.json", timings)
    done = {"finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "seconds": timings["total_seconds"],
            "metrics": scores["metrics"]}
    write_json_atomic(run_dir / DONE, done)
    return done


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m softtopic.benchmark.worker RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    try:
        done = run(run_dir)
    except BaseException as e:  # noqa: BLE001 - every failure is recorded in the run folder
        record_failure(run_dir, f"{type(e).__name__}: {e}", traceback.format_exc())
        print(f"run failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 130 if isinstance(e, KeyboardInterrupt) else 1
    print(f"run done in {done['seconds']:.1f} s: {done['metrics']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
