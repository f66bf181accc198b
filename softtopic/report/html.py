"""`softtopic report RUN`: one self-contained HTML file that shows a run without Python.

plotly.js is embedded once in the page (no CDN, no fonts, no network request), each plot is a
plotly figure drawn from softtopic.report.figures, and the topic table is plain HTML (word
weights as CSS bars). Large corpora stay light: the document map shows a bounded sample and
everything else is per topic.
"""
from __future__ import annotations

import html
import json
import time
from pathlib import Path

import numpy as np

from .. import __version__
from . import figures

MAX_TEXT = 220          # characters of a representative document shown in the table


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def report_figures(run, max_documents: int = 3000, projection: str = "auto", seed: int = 0,
                   time_bins: int = 20) -> dict:
    """The data of every plot of the report, by name (the HTML and PNG renderers share it)."""
    model = run.model
    theta = np.asarray(model.theta_)
    dist = model.topic_word_distribution()
    labels = model.topic_labels()
    data = {"topic_map": figures.topic_map(dist, theta, labels, model.get_topics(10), seed),
            "topic_similarity": (figures.topic_similarity(dist), labels),
            "document_map": figures.document_map(theta, run.ids, run.texts, model._empty(),
                                                 max_documents, projection, seed)}
    times = getattr(run.corpus, "times", None) if run.corpus is not None else None
    if times is not None:
        data["topics_over_time"] = (model.topics_over_time(times, bins=time_bins), labels)
    return data


# --------------------------------------------------------------------------- plotly figures

def _plotly_figures(data: dict) -> dict:
    import plotly.graph_objects as go
    out = {}
    tm = data["topic_map"]
    size = 12 + 60 * np.sqrt(tm.prevalence / max(tm.prevalence.max(), 1e-12))
    out["topic_map"] = go.Figure(go.Scatter(
        x=tm.x, y=tm.y, mode="markers+text", text=[str(k) for k in range(len(tm.x))],
        marker={"size": size, "color": np.arange(len(tm.x)), "colorscale": "Viridis",
                "opacity": 0.6, "line": {"width": 1, "color": "#333"}},
        customdata=[[lab, w, f"{p:.3f}"] for lab, w, p in zip(tm.labels, tm.words,
                                                                tm.prevalence)],
        hovertemplate="topic %{text}: %{customdata[0]}<br>%{customdata[1]}<br>"
                      "prevalence %{customdata[2]}<extra></extra>"),
        layout={"title": "Intertopic distance map (MDS of Jensen-Shannon distances; size = "
                         "prevalence)", "xaxis": {"title": "dimension 1"},
                "yaxis": {"title": "dimension 2"}, "height": 560})
    sim, labels = data["topic_similarity"]
    names = [f"{k} {lab}"[:30] for k, lab in enumerate(labels)]
    out["topic_similarity"] = go.Figure(go.Heatmap(z=sim, x=names, y=names,
                                                   colorscale="Blues", zmin=0, zmax=1),
                                        layout={"title": "Topic similarity (cosine of "
                                                "topic-word distributions)",
                                                "height": max(500, 12 * len(names) + 200),
                                                "yaxis": {"autorange": "reversed"}})
    dm = data["document_map"]
    out["document_map"] = go.Figure(go.Scatter(
        x=dm.x, y=dm.y, mode="markers", text=dm.hover, hoverinfo="text",
        marker={"size": 5, "color": dm.topic, "colorscale": "Turbo", "opacity": 0.7,
                "colorbar": {"title": "topic"}}),
        layout={"title": f"Documents ({len(dm.rows):,} of {dm.n_documents:,}, {dm.method} of "
                         "topic distributions; colour = most probable topic)", "height": 600})
    if "topics_over_time" in data:
        table, labels = data["topics_over_time"]
        fig = go.Figure(layout={"title": "Topics over time (share of each bin's documents)",
                                "height": 520, "xaxis": {"title": "time"},
                                "yaxis": {"title": "share"}})
        top = table.groupby("topic").share.mean().sort_values(ascending=False).index[:10]
        for t in top:
            rows = table[table.topic == t]
            fig.add_trace(go.Scatter(x=[str(s) for s in rows.start], y=rows.share,
                                     mode="lines+markers", name=f"{t} {labels[t]}"[:30],
                                     text=[", ".join(w) for w in rows.words],
                                     hovertemplate="%{y:.3f}<br>%{text}"))
        out["topics_over_time"] = fig
    return out


# --------------------------------------------------------------------------- HTML parts

def _overview(run) -> str:
    config, model = run.config, run.model
    corpus = config.get("corpus") or {}
    rows = [("model", f"{config.get('model')} ({config.get('class')})"),
            ("corpus", corpus.get("path")), ("documents", f"{len(model.theta_):,}"),
            ("empty documents", len(model._empty())), ("topics", model.topic_word_.shape[0]),
            ("vocabulary", f"{len(model.vocabulary_):,} words"), ("seed", config.get("seed")),
            ("fit seconds", _round((config.get("timings") or {}).get("fit_seconds"))),
            ("softtopic", config.get("softtopic_version"))]
    describe = getattr(model, "teacher_description", None)
    if describe is not None:
        rows.append(("teacher", describe()))
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows
                   if v is not None)
    settings = json.dumps(config.get("params", {}), indent=1, default=str)
    out = (f"<table class=kv>{body}</table><details><summary>all settings</summary>"
           f"<pre>{_esc(settings)}</pre></details>")
    if run.metrics:
        scores = run.metrics.get("scores", {})
        cells = "".join(f"<tr><th>{_esc(k)}</th><td>{_format_score(v)}</td></tr>"
                        for k, v in scores.items())
        out += f"<h3>Metrics (metrics.json)</h3><table class=kv>{cells}</table>"
    return out


def _round(v, digits: int = 1):
    return round(v, digits) if isinstance(v, (int, float)) else v


def _format_score(v) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) else _esc(v)


def _topic_table(run, n_words: int = 10, n_docs: int = 3) -> str:
    model = run.model
    info = model.get_topic_info(n_words)
    rep = model.get_representative_docs(n=n_docs, texts=run.texts)
    rows = []
    for t in info.itertuples():
        weights = model.get_topic(t.topic, n_words)
        top = max(weights[0][1], 1e-12)
        words = "".join(f"<span class=w><span class=bar style='width:{100 * w / top:.0f}%'>"
                        f"</span>{_esc(word)} <small>{w:.3f}</small></span>"
                        for word, w in weights)
        docs = rep[rep.topic == t.topic]
        items = "".join(
            f"<li><b>{_esc(d.id)}</b> ({d.share:.2f}) "
            f"{_esc(' '.join(str(getattr(d, 'text', '')).split())[:MAX_TEXT])}</li>"
            for d in docs.itertuples())
        rows.append(f"<tr><td>{t.topic}</td><td>{_esc(t.label)}</td><td>{t.size:,}</td>"
                    f"<td>{t.share:.3f}</td><td class=words>{words}</td>"
                    f"<td><details><summary>{len(docs)} documents</summary><ul>{items}</ul>"
                    f"</details></td></tr>")
    return ("<table class=topics><thead><tr><th>topic</th><th>label</th><th>size</th>"
            "<th>share</th><th>top words (weight)</th><th>representative documents</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


STYLE = """
body{font-family:sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
h1{font-size:1.5em} h2{margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.9em} td,th{padding:3px 8px;vertical-align:top;
text-align:left;border-bottom:1px solid #eee} table.kv th{color:#555;font-weight:normal}
td.words{min-width:420px} .w{display:inline-block;position:relative;margin:1px 6px 1px 0;
padding:0 3px;z-index:0} .w .bar{position:absolute;left:0;top:0;bottom:0;background:#cfe0f5;
z-index:-1} small{color:#777} li{margin-bottom:.3em}
"""


def build_report(run, out: str | Path, max_documents: int = 3000, projection: str = "auto",
                 seed: int = 0, png_dir: str | Path | None = None) -> dict:
    """Write the report of an opened run (softtopic.explore.run_folder.open_run) to `out`;
    with png_dir, also a PNG of every plot. Returns what was written and how long it took."""
    from plotly.offline import get_plotlyjs
    t0 = time.perf_counter()
    data = report_figures(run, max_documents, projection, seed)
    plots = _plotly_figures(data)
    titles = {"topic_map": "Intertopic distance map", "topic_similarity": "Topic similarity",
              "document_map": "Document map", "topics_over_time": "Topics over time"}
    sections = [f"<h2>Overview</h2>{_overview(run)}", f"<h2>Topics</h2>{_topic_table(run)}"]
    for name, fig in plots.items():
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"plot-{name}",
                          config={"displaylogo": False, "responsive": True})
        sections.append(f"<h2>{titles[name]}</h2>{div}")
    title = f"softtopic report: {run.config.get('model')} on {run.dir.name}"
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_esc(title)}</title>"
            f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
            f"<h1>{_esc(title)}</h1><p><small>written by softtopic {__version__} on "
            f"{time.strftime('%Y-%m-%d %H:%M')}</small></p>{''.join(sections)}</body></html>")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    written = {"html": str(out), "bytes": out.stat().st_size, "plots": list(plots)}
    if png_dir is not None:
        from .png import write_pngs
        written["png"] = write_pngs(data, png_dir)
    written["seconds"] = round(time.perf_counter() - t0, 2)
    return written
