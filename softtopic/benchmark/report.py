"""Tables and plots from a benchmark output folder (only the run folders are read).

Sections: failed / unfinished runs; per dataset the mean ± std over K and seeds per model with
the best per column and everything not significantly worse by Welch's t-test in bold; per-K
tables; line plots (min-max normalised) for `line` sweeps; the additive two-way ANOVA
(value x seed) for `anova` sweeps; a speed table (runs and cached views).
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .stats import minmax, not_worse_than_best, two_way_anova_additive
from .files import ERROR, SPEC, is_finished

# metric key (lower case) -> display name, in the paper's column order
METRIC_NAMES = {"cv": "C_V", "c_v": "C_V", "cv_wiki": "C_V", "cv_corpus": "C_V corpus",
                "llm": "LLM", "llm_rating": "LLM",
                "irbo": "I-RBO", "i-rbo": "I-RBO", "inverted_rbo": "I-RBO", "purity": "Purity",
                "inverse_purity": "Inverse purity", "harmonic_purity_f1": "Harmonic purity (F1)",
                "harmonic_purity_pip": "Harmonic purity (P, IP)",
                "npmi": "NPMI", "td": "TD", "topic_diversity": "TD", "nmi": "NMI"}
LOWER_IS_BETTER = {"perplexity"}
_RETRIEVAL = re.compile(r"^(?:retrieval\.)?p@(\d+)(?:_(kl|hellinger))?(_dedup)?$")


def _retrieval_key(key: str):
    """(k, distance, dedup) of a retrieval score key such as p@5_kl_dedup, else None."""
    m = _RETRIEVAL.match(key.lower())
    return (int(m.group(1)), m.group(2) or "kl", bool(m.group(3))) if m else None


def metric_label(key: str) -> str:
    k = key.lower()
    if k in METRIC_NAMES:
        return METRIC_NAMES[k]
    retrieval = _retrieval_key(k)
    if retrieval:
        # KL is the paper's P@k: it keeps the plain header; Hellinger and dedup are named
        at, distance, dedup = retrieval
        return (f"P@{at}" + (" Hellinger" if distance == "hellinger" else "")
                + (" dedup" if dedup else ""))
    if k.startswith("p@") or k.startswith("retrieval.p@"):
        return "P@" + k.split("p@")[-1]
    return key


def metric_order(keys) -> list[str]:
    """Named metrics in the paper's order, then P@k (KL, KL dedup, Hellinger, Hellinger dedup;
    k ascending within each), then the rest by label."""
    rank = {name: i for i, name in enumerate(dict.fromkeys(METRIC_NAMES.values()))}

    def order(k):
        retrieval = _retrieval_key(k)
        if retrieval:
            at, distance, dedup = retrieval
            return (len(rank), (distance != "kl", dedup, at), metric_label(k))
        return (rank.get(metric_label(k), len(rank) + 1), (), metric_label(k))
    return sorted(keys, key=order)


def collect(out: str | Path) -> pd.DataFrame:
    """One row per run folder: spec fields, status, metrics (as metric:<key>), timings."""
    rows = []
    for spec_path in sorted(Path(out).rglob(SPEC)):
        run_dir = spec_path.parent
        spec = json.loads(spec_path.read_text())
        sweep = spec.get("sweep") or {}
        row = {"dir": str(run_dir.relative_to(out)), "dataset": spec["dataset"],
               "model": spec["model_label"], "registry_name": spec["model"], "k": spec["k"],
               "seed": spec["seed"], "sweep_param": sweep.get("param"),
               "sweep_value": sweep.get("value"), "analysis": sweep.get("analysis"),
               "base_model": sweep.get("base_model", spec["model_label"])}
        if is_finished(run_dir):
            row["status"] = "done"
            metrics = json.loads((run_dir / "metrics.json").read_text())
            row.update({f"metric:{k}": v for k, v in metrics["metrics"].items()})
            row["dropped_blank"] = metrics.get("dataset", {}).get("dropped_blank")
            row["implementation"] = metrics.get("implementation")
            row["not_computed"] = ", ".join(metrics.get("not_computed", []))
            timings = json.loads((run_dir / "timings.json").read_text())
            row.update({f"time:{k}": v for k, v in timings.items() if not isinstance(v, list)})
            row["views"] = json.loads((run_dir / "config.json").read_text()).get("views", [])
        elif (run_dir / ERROR).exists():
            row["status"] = "failed"
            row["error"] = json.loads((run_dir / ERROR).read_text())["error"]
        else:
            row["status"] = "unfinished"
        rows.append(row)
    return pd.DataFrame(rows)


def _metric_columns(df: pd.DataFrame) -> list[str]:
    keys = [c[len("metric:"):] for c in df.columns if c.startswith("metric:")]
    keys = [k for k in keys if df[f"metric:{k}"].notna().any()]
    return metric_order(keys)


# --------------------------------------------------------------------------- tables

class Table:
    """Cells are (text, bold); rendered to Markdown and HTML alike."""

    def __init__(self, header: list[str], rows: list[list[tuple[str, bool]]], caption: str = ""):
        self.header, self.rows, self.caption = header, rows, caption

    def markdown(self) -> str:
        cell = lambda t, b: f"**{t}**" if b and t else t  # noqa: E731
        lines = ["| " + " | ".join(self.header) + " |",
                 "|" + "|".join("---" for _ in self.header) + "|"]
        lines += ["| " + " | ".join(cell(t, b) for t, b in row) + " |" for row in self.rows]
        return (f"{self.caption}\n\n" if self.caption else "") + "\n".join(lines)

    def html(self) -> str:
        cell = lambda t, b: f"<td><b>{html.escape(t)}</b></td>" if b else f"<td>{html.escape(t)}</td>"  # noqa: E731,E501
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(cell(t, b) for t, b in row) + "</tr>" for row in self.rows)
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(values: np.ndarray) -> str:
    if len(values) == 0:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def significance_table(df: pd.DataFrame, metrics: list[str], group: str = "model",
                       alpha: float = 0.05, caption: str = "") -> Table:
    """Rows: models; cells mean ± std (sample std) over the rows of df; bold: the best per
    column and every model not significantly different from it (Welch, alpha)."""
    models = list(dict.fromkeys(df[group]))
    bold = {}
    for m in metrics:
        samples = {name: df.loc[df[group] == name, f"metric:{m}"].dropna().tolist()
                   for name in models}
        _, highlighted, _ = not_worse_than_best(samples, m.lower() not in LOWER_IS_BETTER, alpha)
        bold[m] = highlighted
    rows = []
    for name in models:
        sub = df[df[group] == name]
        row = [(str(name), False), (str(len(sub)), False)]
        for m in metrics:
            values = sub[f"metric:{m}"].dropna().to_numpy(float)
            row.append((_fmt(values), name in bold[m]))
        rows.append(row)
    return Table(["model", "runs"] + [metric_label(m) for m in metrics], rows, caption)


def anova_table(df: pd.DataFrame, metrics: list[str], caption: str) -> Table | None:
    rows = []
    for m in metrics:
        pivot = df.pivot_table(index="sweep_value", columns="seed", values=f"metric:{m}",
                               aggfunc="mean")
        try:
            res = two_way_anova_additive(pivot.to_numpy())
        except ValueError as e:
            rows.append([(metric_label(m), False), (f"not computed: {e}", False)] +
                        [("", False)] * 4)
            continue
        rows.append([(metric_label(m), False),
                     (f"{res['rows']['F']:.3f}", False), (f"{res['rows']['p']:.3g}", False),
                     (f"{res['cols']['F']:.3f}", False), (f"{res['cols']['p']:.3g}", False),
                     (f"{res['rows']['df']}, {res['cols']['df']}, {res['df_error']}", False)])
    if not rows:
        return None
    return Table(["metric", "F (value)", "p (value)", "F (seed)", "p (seed)", "df (value, seed, "
                  "error)"], rows, caption)


# --------------------------------------------------------------------------- plots

def sweep_plot(df: pd.DataFrame, metrics: list[str], param: str, path: Path, title: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = list(dict.fromkeys(df["sweep_value"]))
    numeric = all(isinstance(v, (int, float)) for v in values)
    xs = values if numeric else list(range(len(values)))
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for m in metrics:
        means = [df.loc[df["sweep_value"] == v, f"metric:{m}"].mean() for v in values]
        if np.all(np.isnan(means)):
            continue
        ax.plot(xs, minmax(means), marker="o", label=metric_label(m))
    if not numeric:
        ax.set_xticks(xs, [str(v) for v in values], rotation=30)
    ax.set_xlabel(param)
    ax.set_ylabel("min-max normalised mean")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- speed

def view_timings(cache_dir: str | Path | None, used: set[str]) -> list[dict]:
    """Seconds spent computing each cached view (the cache's timing.json beside key.json) that
    is among `used`, the folders the runs recorded: a shared cache holds other runs' views."""
    if not cache_dir or not Path(cache_dir).exists():
        return []
    out = []
    for t in sorted(Path(cache_dir).rglob("timing.json")):
        if str(t.parent.resolve()) not in used:
            continue
        key_file = t.parent / "key.json"
        key = json.loads(key_file.read_text()) if key_file.exists() else {}
        timing = json.loads(t.read_text())
        what = ", ".join(f"{k}={v}" for k, v in key.items()
                         if k in ("kind", "view", "model", "encoder", "prompt", "n_rows"))
        out.append({"view": what or t.parent.name, "seconds": timing.get("seconds"),
                    "rows": timing.get("rows_computed")})
    return out


def speed_table(done: pd.DataFrame) -> Table:
    rows = []
    for (dataset, model), sub in done.groupby(["dataset", "model"], sort=False):
        per_epoch = sub.get("time:seconds_per_epoch", pd.Series(dtype=float)).dropna()
        rows.append([(dataset, False), (model, False), (str(len(sub)), False),
                     (f"{sub['time:total_seconds'].mean():.1f}", False),
                     (f"{sub['time:fit_seconds'].mean():.1f}", False),
                     (f"{per_epoch.mean():.3f}" if len(per_epoch) else "–", False),
                     (f"{sub['time:eval_seconds'].mean():.1f}", False)])
    return Table(["dataset", "model", "runs", "s / run", "fit s", "s / epoch", "eval s"], rows,
                 "Time per run (mean over runs)")


# --------------------------------------------------------------------------- report

def build_report(out: str | Path, cache_dir: str | Path | None = None, alpha: float = 0.05,
                 per_k: bool = True) -> dict:
    out = Path(out)
    df = collect(out)
    if df.empty:
        raise FileNotFoundError(f"{out}: no run folders (spec.json) found; run `softtopic bench` "
                                "first")
    plots = out / "plots"
    bench = json.loads((out / "bench.json").read_text()) if (out / "bench.json").exists() else {}
    md, html_parts = [], []

    def add_text(text: str, level: int = 0):
        md.append(("#" * level + " " if level else "") + text)
        html_parts.append(f"<h{level}>{html.escape(text)}</h{level}>" if level
                          else f"<p>{html.escape(text)}</p>")

    def add_table(t: Table):
        md.append(t.markdown())
        html_parts.append(t.html())

    done = df[df["status"] == "done"]
    add_text(f"Benchmark report: {bench.get('name', out.name)}", 1)
    add_text(f"{len(df)} runs: {len(done)} done, {int((df['status'] == 'failed').sum())} failed, "
             f"{int((df['status'] == 'unfinished').sum())} unfinished. Bold: the best mean per "
             f"column and every model not significantly different from it (Welch's t-test over "
             f"per-run values, alpha = {alpha}).")
    if "implementation" in done and len(done):
        add_text("Metrics computed by: " + ", ".join(sorted(set(done["implementation"].dropna()))))
        missing = sorted({m for x in done.get("not_computed", pd.Series(dtype=str)).dropna()
                          for m in x.split(", ") if m})
        if missing:
            add_text("Requested but not computed (see not_computed in each metrics.json for why): "
                     + ", ".join(missing))
    if "dropped_blank" in done and done["dropped_blank"].notna().any():
        for dataset, sub in done.groupby("dataset"):
            add_text(f"{dataset}: {int(sub['dropped_blank'].max())} blank documents dropped "
                     "before fitting.")

    bad = df[df["status"] != "done"]
    if len(bad):
        add_text("Failed and unfinished runs", 2)
        add_table(Table(["run", "status", "error"],
                        [[(r.dir, False), (r.status, True),
                          (str(getattr(r, "error", "") or "no done.json or run marker"), False)]
                         for r in bad.itertuples()]))

    grid = done[done["sweep_param"].isna()]
    for dataset, sub in grid.groupby("dataset", sort=False):
        metrics = _metric_columns(sub)
        add_text(f"{dataset}: mean ± std over K and seeds", 2)
        add_table(significance_table(sub, metrics, alpha=alpha,
                                     caption=f"K in {sorted(sub['k'].unique().tolist())}"))
        if per_k and sub["k"].nunique() > 1:
            for k, subk in sub.groupby("k"):
                add_text(f"{dataset}, K = {k}", 3)
                add_table(significance_table(subk, metrics, alpha=alpha))

    sweeps = done[done["sweep_param"].notna()]
    for (dataset, base, param, analysis), sub in sweeps.groupby(
            ["dataset", "base_model", "sweep_param", "analysis"], sort=False):
        metrics = _metric_columns(sub)
        add_text(f"{dataset}: {base}, {param} sweep", 2)
        add_table(significance_table(sub.assign(model=sub["sweep_value"].astype(str)), metrics,
                                     alpha=alpha, caption=f"{param} (rows) x metrics"))
        if analysis == "line":
            plots.mkdir(exist_ok=True)
            from .config import safe_name
            path = sweep_plot(sub, metrics, param,
                              plots / f"{safe_name(dataset)}_{safe_name(base)}_{param}.png",
                              f"{dataset}: {base}, {param}")
            md.append(f"![{param} sweep]({path.relative_to(out)})")
            html_parts.append(f'<img src="{html.escape(str(path.relative_to(out)))}">')
        else:
            for k, subk in sub.groupby("k"):
                t = anova_table(subk, metrics, f"Two-way ANOVA ({param} x seed, additive, one "
                                f"run per cell), K = {k}")
                if t is not None:
                    add_table(t)

    if len(done):
        add_text("Speed", 2)
        add_table(speed_table(done))
    used = {folder for views in done.get("views", pd.Series(dtype=object)) for folder in views}
    views = view_timings(cache_dir, used)
    if views:
        add_table(Table(["cached view", "rows", "seconds"],
                        [[(v["view"], False), (str(v["rows"]), False),
                          (f"{v['seconds']:.1f}" if v["seconds"] is not None else "–", False)]
                         for v in views], "Views the runs used (each computed once)"))

    (out / "report.md").write_text("\n\n".join(md) + "\n")
    (out / "report.html").write_text(
        "<!doctype html><meta charset='utf-8'><style>table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #bbb;padding:2px 6px}</style>\n" + "\n".join(html_parts))
    df.to_csv(out / "runs.csv", index=False)
    return {"runs": len(df), "done": len(done), "report": str(out / "report.md"),
            "html": str(out / "report.html")}
