"""Static images of the report's plots, for papers: matplotlib (no browser needed), drawn from
the same data as the HTML report (softtopic.report.figures)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_pngs(data: dict, out_dir: str | Path, dpi: int = 150) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name):
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        written.append(str(path))

    tm = data["topic_map"]
    fig, ax = plt.subplots(figsize=(7, 6))
    size = 40 + 1500 * tm.prevalence / max(tm.prevalence.max(), 1e-12)
    ax.scatter(tm.x, tm.y, s=size, c=np.arange(len(tm.x)), cmap="viridis", alpha=0.6,
               edgecolors="#333")
    for k, (x, y) in enumerate(zip(tm.x, tm.y)):
        ax.annotate(str(k), (x, y), ha="center", va="center", fontsize=8)
    ax.set(title="Intertopic distance map (size = prevalence)", xlabel="dimension 1",
           ylabel="dimension 2")
    save(fig, "topic_map")

    sim, labels = data["topic_similarity"]
    fig, ax = plt.subplots(figsize=(8, 7))
    image = ax.imshow(sim, cmap="Blues", vmin=0, vmax=1)
    if len(labels) <= 40:
        names = [f"{k} {lab}"[:20] for k, lab in enumerate(labels)]
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
    fig.colorbar(image, ax=ax)
    ax.set_title("Topic similarity (cosine)")
    save(fig, "topic_similarity")

    dm = data["document_map"]
    fig, ax = plt.subplots(figsize=(7, 6))
    points = ax.scatter(dm.x, dm.y, s=4, c=dm.topic, cmap="turbo", alpha=0.7)
    fig.colorbar(points, ax=ax, label="topic")
    ax.set_title(f"Documents ({len(dm.rows):,} of {dm.n_documents:,}, {dm.method})")
    save(fig, "document_map")

    if "topics_over_time" in data:
        table, labels = data["topics_over_time"]
        fig, ax = plt.subplots(figsize=(9, 5))
        top = table.groupby("topic").share.mean().sort_values(ascending=False).index[:10]
        for t in top:
            rows = table[table.topic == t]
            ax.plot(list(rows.start), rows.share, marker="o", label=f"{t} {labels[t]}"[:25])
        ax.set(title="Topics over time", xlabel="time (bin start)", ylabel="share")
        fig.autofmt_xdate()
        ax.legend(fontsize=7)
        save(fig, "topics_over_time")
    return written
