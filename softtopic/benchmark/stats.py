"""Statistics for the reports: Welch's t-test against the best model, the additive two-way
ANOVA of the prompt study, min-max normalisation for sweep plots."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def not_worse_than_best(samples: dict[str, list[float]], higher_is_better: bool = True,
                        alpha: float = 0.05) -> tuple[str | None, set[str], dict[str, float]]:
    """The best entry by mean, and every entry not significantly different from it by Welch's
    t-test (two-sided, `scipy.stats.ttest_ind(equal_var=False)` on the per-run values).

    Returns (best, highlighted set including best, p-value per entry). Entries with no finite
    values are ignored. When the test is undefined (fewer than two values, or zero variance in
    both samples) entries count as equal to the best only when their means are equal.
    """
    clean = {k: np.asarray([v for v in vals if v is not None and math.isfinite(v)], float)
             for k, vals in samples.items()}
    clean = {k: v for k, v in clean.items() if len(v)}
    if not clean:
        return None, set(), {}
    means = {k: float(v.mean()) for k, v in clean.items()}
    best = (max if higher_is_better else min)(means, key=means.get)
    highlighted, pvalues = {best}, {best: 1.0}
    for name, values in clean.items():
        if name == best:
            continue
        p = float("nan")
        if len(values) >= 2 and len(clean[best]) >= 2 and (values.std() > 0
                                                           or clean[best].std() > 0):
            p = float(stats.ttest_ind(clean[best], values, equal_var=False).pvalue)
        pvalues[name] = p
        if (math.isnan(p) and math.isclose(means[name], means[best])) or p >= alpha:
            highlighted.add(name)
    return best, highlighted, pvalues


def two_way_anova_additive(table) -> dict:
    """Two-way ANOVA with one observation per cell (rows: factor A, e.g. prompt; columns:
    factor B, e.g. seed), additive model without interaction: the residual is the A x B
    interaction mean square. Returns sums of squares, degrees of freedom, F and p per factor."""
    y = np.asarray(table, dtype=float)
    if y.ndim != 2 or min(y.shape) < 2:
        raise ValueError(f"need a table with at least 2 rows and 2 columns, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("the table has missing or non-finite cells; the additive ANOVA needs "
                         "one value in every cell")
    a, b = y.shape
    grand = y.mean()
    ss_a = b * ((y.mean(axis=1) - grand) ** 2).sum()
    ss_b = a * ((y.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((y - grand) ** 2).sum()
    ss_e = max(ss_total - ss_a - ss_b, 0.0)
    df_a, df_b, df_e = a - 1, b - 1, (a - 1) * (b - 1)
    ms_e = ss_e / df_e
    out = {"ss_error": ss_e, "df_error": df_e, "ss_total": ss_total}
    for name, ss, df in (("rows", ss_a, df_a), ("cols", ss_b, df_b)):
        f = (ss / df) / ms_e if ms_e > 0 else (math.inf if ss > 0 else math.nan)
        p = float(stats.f.sf(f, df, df_e)) if math.isfinite(f) else (0.0 if f == math.inf
                                                                      else math.nan)
        out[name] = {"ss": float(ss), "df": df, "F": float(f), "p": p}
    return out


def minmax(values) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    lo, hi = np.nanmin(v), np.nanmax(v)
    return np.zeros_like(v) if hi == lo else (v - lo) / (hi - lo)
