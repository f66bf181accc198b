"""Scoring a finished run: the one place the harness calls the evaluation package.

`softtopic.evaluation.evaluate_topics(topics, theta=None, labels=None, reference=None,
metrics=..., top_n=15) -> dict` is the interface the evaluation branch promised. Until it is
importable, the label- and diversity metrics that need no reference statistics (TD, purity,
NMI) are computed here so a grid still yields comparable numbers; metrics.json records which
implementation produced them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FALLBACK_METRICS = ("td", "purity", "nmi")


def score_run(run_dir: str | Path, evaluation: dict, dataset_path: str) -> dict:
    run_dir = Path(run_dir)
    top_n = int(evaluation.get("top_n") or 15)
    topics = [t["words"][:top_n] for t in json.loads((run_dir / "topics.json").read_text())["topics"]]
    theta = np.load(run_dir / "theta.npy")
    labels_file = run_dir / "labels.json"
    labels = json.loads(labels_file.read_text()) if labels_file.exists() else None
    reference = evaluation.get("reference")
    if reference == "corpus":
        reference = dataset_path
    try:
        from ..evaluation import evaluate_topics
    except ImportError:
        evaluate_topics = None
    if evaluate_topics is not None:
        kwargs = {"theta": theta, "labels": labels, "reference": reference, "top_n": top_n}
        if evaluation.get("metrics"):
            kwargs["metrics"] = evaluation["metrics"]
        values = evaluate_topics(topics, **kwargs)
        implementation = "softtopic.evaluation.evaluate_topics"
    else:
        wanted = evaluation.get("metrics") or list(FALLBACK_METRICS)
        values = fallback_metrics(topics, theta, labels, wanted)
        implementation = "softtopic.benchmark.scoring fallback (softtopic.evaluation missing)"
    unsupported = sorted(values.pop("unsupported", {}) or {})
    return {"metrics": _flatten(values), "not_computed": unsupported, "top_n": top_n,
            "reference": reference, "implementation": implementation}


def _flatten(values: dict) -> dict:
    """Keep numbers; nested results ({"value": x, ...} or {"p@5": ...}) become name.key."""
    out = {}
    for name, v in values.items():
        if isinstance(v, dict):
            if "value" in v and isinstance(v["value"], (int, float)):
                out[name] = float(v["value"])
            else:
                for key, x in _flatten(v).items():
                    out[f"{name}.{key}"] = x
        elif isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool):
            out[name] = float(v)
    return out


def topic_diversity(topics: list[list[str]]) -> float:
    """Dieng et al.: unique words among all topics' top words / all top words."""
    words = [w for t in topics for w in t]
    return len(set(words)) / max(len(words), 1)


def purity(labels, assignments) -> float:
    from sklearn.metrics.cluster import contingency_matrix
    table = contingency_matrix(labels, assignments)
    return float(table.max(axis=0).sum() / table.sum())


def fallback_metrics(topics, theta, labels, wanted) -> dict:
    from sklearn.metrics import normalized_mutual_info_score
    out = {}
    unsupported = [m for m in wanted if m not in FALLBACK_METRICS]
    if unsupported:
        out["unsupported"] = {m: None for m in unsupported}
    if "td" in wanted:
        out["td"] = topic_diversity(topics)
    if labels is not None:
        assign = np.asarray(theta).argmax(axis=1)
        if "purity" in wanted:
            out["purity"] = purity(labels, assign)
        if "nmi" in wanted:
            out["nmi"] = float(normalized_mutual_info_score(labels, assign))
    return out
