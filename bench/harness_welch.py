"""One model against every other model of a `softtopic bench` output folder: mean difference and
Welch's two-sided p per metric, per dataset and K (the report bolds only the best model and
those level with it; this prints every pair). Optionally against the same model's runs in an
older folder (run folders copied from an earlier `softtopic bench`), e.g. a previous default's.
Runs are read by the report's own `collect` (finished runs only).

    python bench/harness_welch.py results/shorttext-tweet89
    python bench/harness_welch.py results/shorttext --model "Soft label (encoder teacher)" \
        --previous runs/old-default
"""
import argparse

import numpy as np
from scipy.stats import ttest_ind

from softtopic.benchmark.report import collect

METRICS = {"cv": "C_V", "purity": "purity", "nmi": "NMI", "p@5_kl": "P@5", "cv_corpus":
           "C_V corpus", "td": "TD"}


def runs_by_group(folder) -> dict:
    """(dataset, model label, K) -> the metrics of each finished seed."""
    runs = collect(folder)
    runs = runs[runs.status == "done"] if len(runs) else runs
    return {key: [{m: row[f"metric:{m}"] for m in METRICS} for _, row in group.iterrows()]
            for key, group in runs.groupby(["dataset", "model", "k"])}


def difference(mine, other, metric) -> str:
    a, b = [r[metric] for r in mine], [r[metric] for r in other]
    p = ttest_ind(a, b, equal_var=False).pvalue if min(len(a), len(b)) > 1 else float("nan")
    return f"{np.mean(a) - np.mean(b):+.3f} ({p:.3f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--model", default="Soft label (encoder teacher)",
                    help="the model's label in the config (its display name)")
    ap.add_argument("--previous", help="older runs of --model, same layout")
    a = ap.parse_args()
    groups = runs_by_group(a.folder)
    previous = runs_by_group(a.previous) if a.previous else {}
    print("| dataset | K | vs | seeds | " + " | ".join(METRICS.values()) + " |")
    print("|---" * (len(METRICS) + 4) + "|")
    for (dataset, model, k), mine in sorted(groups.items()):
        if model != a.model:
            continue
        means = " / ".join(f"{np.mean([r[m] for r in mine]):.3f}" for m in METRICS)
        print(f"| {dataset} | {k} | ({a.model}: {means}) | {len(mine)} |" + " |" * len(METRICS))
        others = {m: runs for (d, m, kk), runs in groups.items()
                  if (d, kk) == (dataset, k) and m != model}
        if (dataset, model, k) in previous:
            others[f"previous {model}"] = previous[dataset, model, k]
        for other, runs in sorted(others.items()):
            cells = [difference(mine, runs, m) for m in METRICS]
            print(f"| {dataset} | {k} | {other} | {len(mine)}/{len(runs)} | "
                  + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
