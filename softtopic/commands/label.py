"""softtopic label RUN --llm-endpoint URL --llm-model NAME | --set K=NAME: name a run's topics
(an LLM reads each topic's top words and representative documents; or by hand) and write the
labels into the run (its saved model and topics.json)."""
from __future__ import annotations

from ..explore.run_folder import open_run, save_labels
from .llm_options import add_llm_arguments, check_llm_arguments


def add_parser(sub):
    p = sub.add_parser("label", help="name a run's topics with an LLM or by hand")
    p.add_argument("run_dir", help="a folder written by `softtopic fit --out`")
    add_llm_arguments(p)
    p.add_argument("--n-words", type=int, default=10, help="top words shown per topic")
    p.add_argument("--n-docs", type=int, default=3, help="representative documents shown")
    p.add_argument("--set", action="append", default=[], metavar="K=NAME",
                   help="a hand-made label for topic K (repeatable; applied after the LLM's)")
    p.add_argument("--corpus", help="where the training texts are (default: the run's corpus)")
    p.add_argument("--cache-dir", help="cache root for LLM answers")
    p.set_defaults(func=run)


def run(args) -> int:
    check_llm_arguments(args)
    if not args.llm_endpoint and not args.set:
        raise ValueError("nothing to do: pass --llm-endpoint URL --llm-model NAME, or --set K=NAME")
    hand = {}
    for item in args.set:
        k, sep, name = item.partition("=")
        if not sep or not k.strip().isdigit():
            raise ValueError(f"--set expects K=NAME with K a topic number, got {item!r}")
        hand[int(k)] = name
    explored = open_run(args.run_dir, args.corpus, need_texts=args.n_docs > 0
                        and bool(args.llm_endpoint))
    model = explored.model
    if args.llm_endpoint:
        model.generate_topic_labels(args.llm_endpoint, args.llm_model, n_words=args.n_words,
                                    n_docs=args.n_docs, max_workers=args.llm_workers,
                                    timeout=args.llm_timeout, cache_dir=args.cache_dir)
    if hand:
        model.set_topic_labels(hand)
    save_labels(explored)
    for k, label in enumerate(model.topic_labels()):
        print(f"{k:>4}  {label}")
    print(f"\nlabels written to {explored.dir / 'topics.json'} and {explored.dir / 'model'}")
    return 0
