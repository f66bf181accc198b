"""softtopic demo: the embedded default, a topic model on the bundled 20 Newsgroups sample."""
from __future__ import annotations

import time
from importlib import resources

from ..corpus import load_corpus
from ..models.registry import get_model_class
from ..runs import format_topic_table, write_run

DEMO_MODEL = "prodlda"
DEMO_SETTINGS = {"n_topics": 20, "epochs": 100, "seed": 0}


def sample_corpus_path():
    return resources.files("softtopic") / "data" / "sample_20ng.jsonl.gz"


def add_parser(sub):
    p = sub.add_parser("demo", help="fit the default model on the bundled sample corpus")
    p.add_argument("--out", default="runs/demo", help="run folder to write")
    p.add_argument("--model", default=DEMO_MODEL)
    p.set_defaults(func=run)


def run(args) -> int:
    path = sample_corpus_path()
    corpus = load_corpus(path)
    print(f"softtopic demo: {len(corpus)} documents from 20 Newsgroups ({path.name}), "
          f"model {args.model}, {DEMO_SETTINGS}")
    model = get_model_class(args.model)(**DEMO_SETTINGS)
    t0 = time.perf_counter()
    model.fit(corpus)
    seconds = time.perf_counter() - t0
    write_run(model, corpus, args.out, args.model,
              {"path": str(path), "text_column": "text", "label_column": "label"},
              timings={"fit_seconds": seconds})
    print(format_topic_table(model, 10))
    print(f"\n{seconds:.0f} s; run folder: {args.out}")
    return 0
