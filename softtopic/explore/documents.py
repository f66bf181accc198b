"""Which documents a topic holds, and which topics a document holds: tables of a fitted model's
theta, for people to read. Pure functions of (theta, ids, texts, labels, empty documents)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def _check_rows(name: str, values, n: int):
    if values is not None and len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries, the model has {n} documents")


def document_info(theta: np.ndarray, topic_labels: Sequence[str], ids: Sequence[str] | None = None,
                  texts: Sequence[str] | None = None, empty: Sequence[int] = (),
                  n_top: int = 3) -> pd.DataFrame:
    """One row per document: id, text (when given), topic (argmax), probability, label, the
    top `n_top` topics and their shares, and whether the document was empty (no vocabulary
    word; its theta is the uniform or prior distribution, not evidence)."""
    theta = np.asarray(theta)
    n, k = theta.shape
    _check_rows("ids", ids, n)
    _check_rows("texts", texts, n)
    n_top = min(n_top, k)
    top = np.argsort(-theta, axis=1, kind="stable")[:, :n_top]
    shares = np.take_along_axis(theta, top, axis=1)
    labels = np.asarray(list(topic_labels), dtype=object)
    is_empty = np.zeros(n, bool)
    is_empty[np.asarray(list(empty), dtype=int)] = True
    table = {"id": list(ids) if ids is not None else [str(i) for i in range(n)]}
    if texts is not None:
        table["text"] = list(texts)
    table.update({"topic": top[:, 0], "probability": shares[:, 0].astype(float),
                  "label": labels[top[:, 0]],
                  "top_topics": [list(map(int, r)) for r in top],
                  "top_shares": [[round(float(s), 6) for s in r] for r in shares],
                  "is_empty": is_empty})
    return pd.DataFrame(table)


def representative_docs(theta: np.ndarray, topic: int | None = None, n: int = 5,
                        ids: Sequence[str] | None = None, texts: Sequence[str] | None = None,
                        empty: Sequence[int] = ()) -> pd.DataFrame:
    """Per topic (or one topic) the n documents with the highest share of it, highest first
    (ties by position); empty documents never represent a topic."""
    theta = np.asarray(theta)
    n_docs, k = theta.shape
    _check_rows("ids", ids, n_docs)
    _check_rows("texts", texts, n_docs)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    topics = range(k) if topic is None else [_topic_index(topic, k)]
    candidates = np.setdiff1d(np.arange(n_docs), np.asarray(list(empty), dtype=int))
    rows = []
    for t in topics:
        share = theta[candidates, t]
        best = candidates[np.argsort(-share, kind="stable")[:n]]
        for rank, i in enumerate(best):
            row = {"topic": t, "rank": rank, "row": int(i),
                   "id": ids[i] if ids is not None else str(i), "share": float(theta[i, t])}
            if texts is not None:
                row["text"] = texts[i]
            rows.append(row)
    columns = ["topic", "rank", "row", "id", "share"] + (["text"] if texts is not None else [])
    return pd.DataFrame(rows, columns=columns)


def _topic_index(topic, k: int) -> int:
    if isinstance(topic, bool) or not isinstance(topic, (int, np.integer)) or not 0 <= topic < k:
        raise IndexError(f"topic {topic!r} out of range: the model has {k} topics")
    return int(topic)


def ranked_topics(theta_row: np.ndarray, top_n: int = 5) -> tuple[list[int], list[float]]:
    """The top_n topics of one distribution and their shares, largest first."""
    order = np.argsort(-theta_row, kind="stable")[:top_n]
    return [int(t) for t in order], [float(theta_row[t]) for t in order]
