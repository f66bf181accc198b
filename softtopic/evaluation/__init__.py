"""Evaluation: coherence (C_V, Palmetto C_V, NPMI) from reference window statistics, topic
diversity (TD, I-RBO), clustering against labels (purity family, NMI, ARI), retrieval
Precision@k, LLM rating; every metric a plain function, and `evaluate_topics` / `evaluate_run`
to compute them all with provenance. Definitions: docs/evaluation.md."""
from .clustering import clustering_scores, hard_assignments, purity_scores
from .coherence import VARIANTS, CoherenceResult, c_v, c_v_palmetto, coherence, npmi
from .diversity import inverted_rbo, rbo_ext, topic_diversity
from .llm_rating import SYSTEM_PROMPT, LLMRater, LLMRatingError, llm_rating, parse_rating
from .reference import (ReferenceStats, count_reference, count_tokens, iter_texts,
                        reference_statistics)
from .report import METRICS, evaluate_run, evaluate_topics, format_table
from .retrieval import retrieval_precision

__all__ = [
    "CoherenceResult", "LLMRater", "LLMRatingError", "METRICS", "ReferenceStats",
    "SYSTEM_PROMPT", "VARIANTS", "c_v", "c_v_palmetto", "clustering_scores", "coherence",
    "count_reference", "count_tokens", "evaluate_run", "evaluate_topics", "format_table",
    "hard_assignments", "inverted_rbo", "iter_texts", "llm_rating", "npmi", "parse_rating",
    "purity_scores", "rbo_ext", "reference_statistics", "retrieval_precision",
    "topic_diversity",
]
