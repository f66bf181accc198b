"""Sinkhorn on ECR's problem (K = 50 topics x V = 2,000 words, alpha 20, tol 5e-3): the float64
plain-domain path against the log-domain path, forward + backward, and how far apart they are.

    OMP_NUM_THREADS=1 python bench/sinkhorn_speed.py [--norm 1] [--repeats 5]

`--norm` scales the L2-normalised embeddings; at norm 1 the cost spread lets the plain path run,
at high norms (e.g. 10) only the log domain is safe and both rows take it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from softtopic.models import optimal_transport as ot  # noqa: E402


def run(topics, words, span_limit, repeats):
    ot.PLAIN_DOMAIN_SPAN = span_limit
    t = topics.clone().requires_grad_()
    times = []
    for _ in range(repeats):
        t.grad = None
        t0 = time.perf_counter()
        cost = ot.squared_euclidean(t, words)
        plan = ot.sinkhorn(cost, alpha=20.0)
        (plan * cost).sum().backward()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2], plan.detach(), t.grad


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--norm", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.manual_seed(0)
    topics = torch.nn.functional.normalize(torch.randn(50, 384), dim=1) * args.norm
    words = torch.nn.functional.normalize(torch.randn(2000, 384), dim=1) * args.norm
    default = ot.PLAIN_DOMAIN_SPAN
    span = float(20.0 * (ot.squared_euclidean(topics, words).max()
                         - ot.squared_euclidean(topics, words).min()))
    t_log, p_log, g_log = run(topics, words, -1.0, args.repeats)
    t_new, p_new, g_new = run(topics, words, default, args.repeats)
    path = "plain (float64)" if span <= default else "log (span too large)"
    print(f"alpha x cost spread = {span:.1f} (plain-domain limit {default:g}); torch threads "
          f"{torch.get_num_threads()}")
    print("| path | ms / call (fwd + bwd, median) | speed-up | max plan diff | grad rel. diff |")
    print("|---|---|---|---|---|")
    print(f"| log domain | {t_log * 1e3:.1f} | 1.0x | | |")
    print(f"| default: {path} | {t_new * 1e3:.1f} | {t_log / t_new:.1f}x | "
          f"{float((p_log - p_new).abs().max()):.1e} | "
          f"{float((g_log - g_new).norm() / g_log.norm()):.1e} |")


if __name__ == "__main__":
    main()
