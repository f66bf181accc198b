"""softtopic soft-labels: compute a corpus's language-model view and write it as a folder.

    softtopic soft-labels CORPUS --lm ID_OR_PATH --out DIR [--vocab-size 2000]
        [--instruction NAME_OR_TEXT] [--template T] [--chat-template]
        [--scoring first-token|variants] [--max-document-tokens 512] [--batch-size N]
        [--batch-tokens N] [--dtype auto|float32|bfloat16|float16] [--device D]
        [--text-column text] [--tau 3.0] [--store-top-k K]
        [--engine local|ray [--address auto|HOST:PORT] [--workers N] [--gpus-per-worker G]]

The folder holds vocab.json, logits.npy (raw restricted logits), hidden.npy, top_labels.jsonl
and report.json (docs/lm-view.md describes them). With --store-top-k K, topk_indices.npy
(N x K int16, or int32 for a vocabulary over 32,768 words), topk_values.npy (N x K float32 raw
logits, descending), topk_inexact.npy (N uint8) and word_groups.npy (V int32) replace
logits.npy. The view is cached, so a second run, or a run
after an interruption, reuses what was computed.
"""
from __future__ import annotations

import json

from ..corpus import load_corpus
from ..preprocessing import PreprocessingConfig, Vocabulary
from ..views.lm import DEFAULT_TAU, LanguageModelView
from ..views.lm_prompt import DEFAULT_TEMPLATE, PROMPTS
from ..views.lm_words import SCORING_POLICIES
from .engine_options import add_view_command_arguments, engine_from_args
from .fit import FLAG_HELP, stopword_list


def add_parser(sub) -> None:
    p = sub.add_parser("soft-labels", help="compute LM soft labels and hidden states of a corpus",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("corpus", help="corpus file or folder (JSONL, CSV, TSV, text, folder)")
    p.add_argument("--lm", required=True, help="causal LM: Hugging Face id or local folder")
    p.add_argument("--out", required=True, help="folder to write the view to")
    p.add_argument("--vocab-size", type=int, default=2000)
    # the token policy of the model that will read this view (its vocabulary_for(texts) must
    # give the same words): softtopic/preprocessing.py
    p.add_argument("--min-token-length", type=int, default=3, help=FLAG_HELP["min_token_length"])
    p.add_argument("--token-pattern", default=None, help=FLAG_HELP["token_pattern"])
    p.add_argument("--stopwords", type=stopword_list, default="english",
                   help=FLAG_HELP["stopwords"])
    p.add_argument("--instruction", default="default",
                   help=f"a prompt name ({', '.join(PROMPTS)}) or an instruction text")
    p.add_argument("--template", default=DEFAULT_TEMPLATE,
                   help="prompt template with {instruction} and {document} "
                        "(default: %(default)r)")
    p.add_argument("--chat-template", action="store_true",
                   help="wrap the prompt in the tokenizer's chat template")
    p.add_argument("--scoring", choices=SCORING_POLICIES, default="first-token")
    p.add_argument("--max-document-tokens", type=int, default=512,
                   help="token budget of the document part of the prompt (-1: no limit)")
    p.add_argument("--batch-size", type=int, default=64, help="most documents per forward pass")
    p.add_argument("--batch-tokens", type=int, default=None,
                   help="most padded tokens per forward pass (default: 2048 on CPU, 16384 on "
                        "GPU)")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, fp32 on CPU), float32, "
                                                    "bfloat16 or float16")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--tau", type=float, default=DEFAULT_TAU,
                   help="temperature of the soft labels shown in top_labels.jsonl")
    p.add_argument("--store-top-k", type=int, default=None, metavar="K",
                   help="store each document's top K logits (indices + values) instead of all "
                        "|V| (compact soft labels; exact for top_k <= K)")
    add_view_command_arguments(p)
    p.set_defaults(func=run)


def preprocessing_config(args) -> PreprocessingConfig:
    return PreprocessingConfig(vocab_size=args.vocab_size, min_token_length=args.min_token_length,
                               token_pattern=args.token_pattern, stopwords=args.stopwords)


def run(args) -> int:
    corpus = load_corpus(args.corpus, text_column=args.text_column)
    vocabulary = Vocabulary(preprocessing_config(args))
    vocabulary.fit_transform(corpus.texts)
    words = vocabulary.words
    budget = None if args.max_document_tokens is not None and args.max_document_tokens < 0 \
        else args.max_document_tokens
    view = LanguageModelView(args.lm, instruction=args.instruction, template=args.template,
                             chat_template=args.chat_template, scoring=args.scoring,
                             max_document_tokens=budget, batch_size=args.batch_size,
                             batch_tokens=args.batch_tokens, dtype=args.dtype,
                             device=args.device, cache_dir=args.cache_dir,
                             progress=not args.quiet, store_top_k=args.store_top_k,
                             engine=engine_from_args(args))
    print(f"softtopic soft-labels: {len(corpus)} documents, {len(words)} vocabulary words, "
          f"model {args.lm}")
    result = view(corpus.texts, words, corpus_hash=corpus.content_hash())
    out = view.write(args.out, result, words, ids=corpus.ids, tau=args.tau)
    print(format_report(view.report_))
    with open(out / "top_labels.jsonl", encoding="utf-8") as f:
        for _, line in zip(range(3), f):
            row = json.loads(line)
            labels = ", ".join(f"{w} {p:.2f}" for w, p in row["labels"])
            print(f"  document {row['id']}: {labels}")
    print(f"view folder: {out}")
    return 0


def format_report(report: dict) -> str:
    s, t = report["word_scoring"], report["timings"]
    lines = [
        f"word scoring ({s['scoring']}): {s['collisions']} of {s['words']} words share their "
        f"tokens with another word ({s['collision_groups']} groups); {s['multi_token']} words "
        f"are several tokens (scored by their first); {s['space_piece_skipped']} start with a "
        "bare space piece (the next token is used)",
        f"truncated documents: {report['truncated_documents']} of {report['documents']} "
        f"(budget {report['max_document_tokens']} tokens)",
    ]
    storage = report.get("storage")
    if storage:
        b = storage["bytes_per_document"]
        if storage["store_top_k"] is None:
            lines.append(f"soft labels: dense, {b['soft_label']} bytes per document "
                         f"(+ {b['hidden_float16']} hidden, float16 in the cache)")
        else:
            lines.append(f"soft labels: top {storage['store_top_k']}, {b['soft_label']} bytes per "
                         f"document instead of {b['dense_soft_label']} dense "
                         f"(+ {b['hidden_float16']} hidden, float16 in the cache); "
                         f"{storage['inexact_documents']} documents flagged inexact")
    if report["from_cache"]:
        lines.append("view read from the cache")
    elif t["documents_per_second"]:
        lines.append(f"speed: {t['documents_per_second']:.2f} documents/s, "
                     f"{t['tokens_per_second']:.0f} tokens/s ({report['device']}, "
                     f"{report['dtype']}, padding {100 * t['padding_share']:.1f}%)")
    return "\n".join(lines)
