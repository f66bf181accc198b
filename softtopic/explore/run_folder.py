"""A run folder opened for exploring: the saved model, its documents' ids and texts, and the
metrics when the run was evaluated. The texts are not copied into a run; they are read back
from the training corpus named in the run's config (or one the user passes) and checked
against the run's ids and corpus hash, so a changed or different corpus is an error, never
silently wrong text beside a document."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..corpus import Corpus, load_corpus
from ..evaluation.report import read_run
from ..files import write_json_atomic


@dataclass
class ExploredRun:
    dir: Path
    config: dict
    model: object
    ids: list[str]
    corpus: Corpus | None
    metrics: dict | None

    @property
    def texts(self):
        return None if self.corpus is None else self.corpus.texts


def open_run(run_dir, corpus=None, need_texts: bool = True, with_times: bool = False,
             time_column: str | None = None) -> ExploredRun:
    """Open RUN_DIR; `corpus` overrides the training corpus path recorded in the run. With
    `with_times`, each document's time is read from `time_column` (default: the column the run
    was fitted with, if any)."""
    from ..models.base import load
    run = read_run(run_dir)
    model_dir = run["dir"] / "model"
    if not (model_dir / "config.json").exists():
        raise FileNotFoundError(f"{run['dir']}: no saved model (model/config.json)")
    model = load(model_dir)
    ids = run["ids"] or model._ids()
    if with_times:
        time_column = time_column or (run["config"].get("corpus") or {}).get("time_column")
    else:
        time_column = None
    loaded = _training_corpus(run, ids, corpus, time_column) if need_texts else None
    if loaded is not None:
        model.documents_ = loaded.texts
    metrics_path = run["dir"] / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else None
    return ExploredRun(run["dir"], run["config"], model, ids, loaded, metrics)


def _training_corpus(run: dict, ids: list[str], corpus, time_column) -> Corpus:
    info = run["config"].get("corpus") or {}
    path = corpus or info.get("path")
    if not path:
        raise ValueError(f"{run['dir']}: the run does not record its corpus; pass --corpus")
    if not Path(path).exists():
        raise FileNotFoundError(f"{run['dir']} was fitted on {path}, which no longer exists; "
                                "pass --corpus PATH to read the texts from elsewhere")
    loaded = load_corpus(path, text_column=info.get("text_column") or "text",
                         label_column=None, id_column=info.get("id_column") or "id",
                         **_time_column(time_column))
    if loaded.ids != ids:
        raise ValueError(f"{path} does not hold the run's documents ({len(loaded)} documents, "
                         f"the run has {len(ids)}, or other ids); pass the training corpus "
                         "with --corpus")
    expected = info.get("content_hash")
    if expected and loaded.content_hash() != expected:
        raise ValueError(f"{path} has changed since {run['dir']} was fitted (its texts differ); "
                         "pass the training corpus with --corpus")
    return loaded


def _time_column(name):
    return {"time_column": name} if name else {}


def save_labels(run: ExploredRun):
    """Write the model's current topic labels into the run: the saved model and topics.json."""
    run.model.save(run.dir / "model")
    topics_path = run.dir / "topics.json"
    topics = json.loads(topics_path.read_text())
    labels = run.model.topic_labels()
    for entry in topics["topics"]:
        entry["label"] = labels[entry["topic"]]
    write_json_atomic(topics_path, topics)
