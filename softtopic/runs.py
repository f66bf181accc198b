"""A fitted model's outputs as a run folder, the format `softtopic evaluate` and the benchmark
harness read:

    topics.json      {"n_topics", "top_n", "topics": [{"topic", "label", "words", "weights"}]}
    theta.npy        N x K float32, rows sum to 1, in corpus order
    ids.json         the N document ids, same order
    labels.json      the N labels (when the corpus has them)
    topic_word.npy   K x V topic-word weights;  vocab.json: the V words
    config.json      model name and every setting, corpus, empty documents, version, seed, timings
    model/           the saved model (softtopic.load)
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import __version__
from .corpus import Corpus


def write_run(model, corpus: Corpus, out: str | Path, model_name: str, corpus_info: dict,
              top_n: int = 25, timings: dict | None = None) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    topics = model.get_topics(top_n)
    labels = model.topic_labels()
    weights = [[w for _, w in model.get_topic(k, top_n)] for k in range(len(topics))]
    (out / "topics.json").write_text(json.dumps({
        "n_topics": len(topics), "top_n": top_n,
        "topics": [{"topic": k, "label": labels[k], "words": t, "weights": weights[k]}
                   for k, t in enumerate(topics)]}, indent=1))
    np.save(out / "theta.npy", np.asarray(model.theta_, dtype=np.float32))
    np.save(out / "topic_word.npy", np.asarray(model.topic_word_, dtype=np.float32))
    (out / "ids.json").write_text(json.dumps(corpus.ids))
    if corpus.labels is not None:
        (out / "labels.json").write_text(json.dumps(corpus.labels))
    (out / "vocab.json").write_text(json.dumps(model.vocabulary_.words))
    params = model.get_params()
    (out / "config.json").write_text(json.dumps({
        "model": model_name, "class": type(model).__name__,
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
        "corpus": {**corpus_info, "n_documents": len(corpus),
                   "content_hash": corpus.content_hash()},
        "empty_documents": [int(i) for i in getattr(model, "empty_documents_", [])],
        "softtopic_version": __version__, "seed": params.get("seed"),
        "timings": timings or {}, "written": time.strftime("%Y-%m-%dT%H:%M:%S")},
        indent=1, default=str))
    model.save(out / "model")
    return out


def format_topic_table(model, top_n: int = 10) -> str:
    info = model.get_topic_info(top_n)
    lines = [f"{'topic':>5} {'size':>6}  {'label':<14} top words"]
    for row in info.itertuples():
        lines.append(f"{row.topic:>5} {row.size:>6}  {str(row.label)[:14]:<14} "
                     + " ".join(row.top_words))
    return "\n".join(lines)
