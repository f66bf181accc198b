"""Scoring a finished run: the one place the harness calls the evaluation package.

A benchmark run folder is a `softtopic fit` run folder, so it is scored exactly as
`softtopic evaluate RUN` scores one (`softtopic.evaluation.evaluate_run`): empty documents are
left out of clustering and retrieval, the vocabulary is counted in the reference so cached
statistics serve every model of the grid, and every metric carries its provenance.
"""
from __future__ import annotations

from pathlib import Path


def score_run(run_dir: str | Path, evaluation: dict, dataset_path: str) -> dict:
    from ..evaluation import evaluate_run

    top_n = int(evaluation.get("top_n") or 15)
    reference = evaluation.get("reference")
    if reference == "corpus":
        reference = dataset_path
    options = {}
    if evaluation.get("retrieval_k"):
        options["retrieval_ks"] = tuple(int(k) for k in evaluation["retrieval_k"])
    llm = evaluation.get("llm") or {}
    if llm:
        options.update(llm_endpoint=llm.get("endpoint"), llm_model=llm.get("model"),
                       llm_options={k: v for k, v in llm.items() if k not in ("endpoint", "model")})
    metrics = evaluation.get("metrics") or "auto"
    skipped = {}
    if metrics != "auto" and "llm" in metrics and not llm:
        # A table asks for the LLM rating but this grid has no endpoint: score the rest and say so.
        metrics = [m for m in metrics if m != "llm"]
        skipped["llm"] = "needs an LLM endpoint and model (evaluation.llm in the config)"
    result = evaluate_run(run_dir, reference=reference, top_n=top_n, metrics=metrics,
                          write=False, **options)
    return {"metrics": {name: float(v) for name, v in result["scores"].items()},
            "not_computed": {**skipped, **result["skipped"]}, "top_n": top_n, "reference": reference,
            "provenance": result["provenance"], "implementation": "softtopic.evaluation"}
