"""A fitted model's outputs as a run folder, the format `softtopic evaluate` and the benchmark
harness read:

    topics.json      {"n_topics", "top_n", "topics": [{"topic", "label", "words", "weights"}]}
    theta.npy        N x K float32, rows sum to 1, in corpus order
    ids.json         the N document ids, same order
    labels.json      the N labels (when the corpus has them)
    topic_word.npy   K x V topic-word weights;  vocab.json: the V words
    config.json      model name and every setting, corpus, empty documents, version, seed,
                     timings, "views": the view cache folders this process used (the CLI and
                     the benchmark harness fit one model per process, so: those of the run)
    model/           the saved model (softtopic.load)
    run.json         the completion marker, written last (softtopic version, time)

A folder describes exactly one complete run: `write_run` fills a temporary sibling and renames
it into place only when every file is written, so an interrupted write leaves no folder that
looks finished, and readers (`softtopic evaluate`, the benchmark harness) refuse a folder
without the marker.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from . import __version__
from .corpus import Corpus
from .files import temporary_path, write_json_atomic
from .views.cache import used_folders

MARKER = "run.json"


def is_complete_run(folder: str | Path) -> bool:
    return (Path(folder) / MARKER).is_file()


def require_complete_run(folder: str | Path) -> None:
    if not is_complete_run(folder):
        raise ValueError(f"{folder} is not a complete run (no marker {MARKER}); it was "
                         "interrupted or written by hand")


def check_run_target(out: str | Path, overwrite: bool = False) -> None:
    """Refuse an output location `write_run` must not replace. Commands call it before
    training too, so a bad --out fails at once rather than after the fit."""
    out = Path(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"{out} is a file, not a folder; refusing to replace it")
    if not any(out.iterdir()):
        return
    if not is_complete_run(out):
        raise ValueError(f"{out} exists and is not a softtopic run folder; refusing to write "
                         "into it")
    if not overwrite:
        raise ValueError(f"{out} already holds a run; pass --overwrite to replace it")


def write_run(model, corpus: Corpus, out: str | Path, model_name: str, corpus_info: dict,
              top_n: int = 25, timings: dict | None = None, overwrite: bool = False) -> Path:
    """Write the run folder `out` whole: into a temporary sibling, renamed into place last."""
    out = Path(out).absolute()  # a name to stage beside, even for "."
    check_run_target(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = temporary_path(out)
    staging.mkdir()
    try:
        write_run_files(model, corpus, staging, model_name, corpus_info, top_n, timings)
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _move_into_place(staging: Path, out: Path) -> None:
    """Rename `staging` to `out`. What `out` held (an empty folder or a run being replaced) is
    renamed aside first and deleted after, so `out` is never a mix of old and new files."""
    if not out.exists():
        os.replace(staging, out)
        return
    old = temporary_path(out)
    os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old)


def write_run_files(model, corpus: Corpus, folder: Path, model_name: str, corpus_info: dict,
                    top_n: int = 25, timings: dict | None = None) -> None:
    """Every file of a run into the existing `folder`, the marker last. `write_run` calls it on
    its staging folder; the benchmark worker on its own freshly prepared run folder."""
    folder = Path(folder)
    topics = model.get_topics(top_n)
    labels = model.topic_labels()
    weights = [[w for _, w in model.get_topic(k, top_n)] for k in range(len(topics))]
    (folder / "topics.json").write_text(json.dumps({
        "n_topics": len(topics), "top_n": top_n,
        "topics": [{"topic": k, "label": labels[k], "words": t, "weights": weights[k]}
                   for k, t in enumerate(topics)]}, indent=1))
    np.save(folder / "theta.npy", np.asarray(model.theta_, dtype=np.float32))
    np.save(folder / "topic_word.npy", np.asarray(model.topic_word_, dtype=np.float32))
    (folder / "ids.json").write_text(json.dumps(list(corpus.ids)))
    if corpus.labels is not None:
        (folder / "labels.json").write_text(json.dumps(corpus.labels))
    (folder / "vocab.json").write_text(json.dumps(model.vocabulary_.words))
    params = model.get_params()
    (folder / "config.json").write_text(json.dumps({
        "model": model_name, "class": type(model).__name__,
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
        "corpus": {**corpus_info, "n_documents": len(corpus),
                   "content_hash": corpus.content_hash()},
        "empty_documents": [int(i) for i in getattr(model, "empty_documents_", [])],
        "softtopic_version": __version__, "seed": params.get("seed"),
        "timings": timings or {}, "views": used_folders(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S")},
        indent=1, default=str))
    model.save(folder / "model")
    mark_complete(folder)


def mark_complete(folder: str | Path) -> None:
    write_json_atomic(Path(folder) / MARKER, {"softtopic_version": __version__,
                                              "completed": time.strftime("%Y-%m-%dT%H:%M:%S")})


def format_topic_table(model, top_n: int = 10) -> str:
    info = model.get_topic_info(top_n)
    lines = [f"{'topic':>5} {'size':>6}  {'label':<14} top words"]
    for row in info.itertuples():
        lines.append(f"{row.topic:>5} {row.size:>6}  {str(row.label)[:14]:<14} "
                     + " ".join(row.top_words))
    return "\n".join(lines)
