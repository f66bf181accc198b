"""The command-line options of an OpenAI-compatible chat endpoint (softtopic.llm), shared by
`evaluate` (LLM rating) and `label` (LLM topic labels)."""
from __future__ import annotations


def add_llm_arguments(p):
    p.add_argument("--llm-endpoint", help="OpenAI-compatible base URL, e.g. "
                   "https://api.openai.com/v1 (key from SOFTTOPIC_LLM_API_KEY or "
                   "OPENAI_API_KEY)")
    p.add_argument("--llm-model", help="chat model name, e.g. gpt-4o")
    p.add_argument("--llm-workers", type=int, default=5, help="concurrent LLM requests")
    p.add_argument("--llm-timeout", type=float, default=60.0, help="seconds per request")


def check_llm_arguments(args):
    if bool(args.llm_endpoint) != bool(args.llm_model):
        raise ValueError("--llm-endpoint and --llm-model go together")
