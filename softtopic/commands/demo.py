"""softtopic demo: the embedded default, a topic model on the bundled 20 Newsgroups sample.

The default model is the soft-label model with the offline encoder teacher
("softlabel-encoder": SoftLabelTM(teacher="encoder")): the bundled MiniLM sentence encoder embeds
every document and every vocabulary word, and the soft label a document's topics learn to
reconstruct is softmax(scale * cos(document, word) / tau). That is an approximation of the
paper's language-model teacher, runnable offline on a CPU. `--model NAME` runs any registered
model instead (settings it has no parameter for are dropped).
"""
from __future__ import annotations

import time
from importlib import resources

from ..corpus import load_corpus
from ..models.build import accepted_params, build_model
from ..models.registry import MODELS
from ..runs import check_run_target, format_topic_table, write_run

DEMO_MODEL = "softlabel-encoder"
DEMO_SETTINGS = {"n_topics": 20, "epochs": 100, "seed": 0}
# Sentence-encoder models read only each document's first DEMO_MAX_SEQ_LENGTH word pieces in the
# demo (256 elsewhere): embedding the 2,400 sample documents is the demo's main cost, and at 64
# it takes about a minute and a half on one shared CPU core instead of several minutes
# (measurements: docs/soft-label-model.md, "Demo"). The embeddings are cached, so a second run
# skips it.
DEMO_MAX_SEQ_LENGTH = 64


DEFAULT_OUT = "runs/demo"


def sample_corpus_path():
    return resources.files("softtopic") / "data" / "sample_20ng.jsonl.gz"


def add_parser(sub):
    p = sub.add_parser("demo", help="fit the default model (soft-label model, offline encoder "
                       "teacher) on the bundled 20 Newsgroups sample and print its topics")
    p.add_argument("--out", help=f"run folder to write (default {DEFAULT_OUT}, where each demo "
                   "replaces the previous demo's run)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out")
    p.add_argument("--model", default=DEMO_MODEL,
                   help=f"any registered model (default {DEMO_MODEL}): "
                        f"{', '.join(sorted(MODELS))}")
    p.add_argument("--epochs", type=int, default=DEMO_SETTINGS["epochs"])
    p.add_argument("--max-seq-length", type=int, default=DEMO_MAX_SEQ_LENGTH,
                   help="word pieces of each document the sentence encoder reads "
                        f"(default {DEMO_MAX_SEQ_LENGTH}; models without an encoder ignore it)")
    p.set_defaults(func=run)


def demo_settings(model: str, epochs: int, max_seq_length: int) -> dict:
    """The demo's settings that `model` has parameters for."""
    wanted = {**DEMO_SETTINGS, "epochs": epochs, "max_seq_length": max_seq_length}
    return accepted_params(model, wanted)


def run(args) -> int:
    settings = demo_settings(args.model, args.epochs, args.max_seq_length)
    model = build_model(args.model, settings)    # unknown names fail before anything is loaded
    if args.out is None:   # the demo's own folder: a second demo replaces the first
        args.out, args.overwrite = DEFAULT_OUT, True
    check_run_target(args.out, args.overwrite)
    path = sample_corpus_path()
    corpus = load_corpus(path)
    print(f"softtopic demo: {len(corpus)} documents from 20 Newsgroups ({path.name}), "
          f"model {args.model}, settings {settings}")
    if "max_seq_length" in settings:
        print(f"  the sentence encoder reads each document's first {settings['max_seq_length']} "
              "word pieces (demo setting, for speed; the library default is 256); embeddings "
              "are cached, so a second run is faster")
    describe = getattr(model, "teacher_description", None)
    if describe is not None:
        print(f"  teacher: {describe()}")
    t0 = time.perf_counter()
    model.fit(corpus)
    seconds = time.perf_counter() - t0
    write_run(model, corpus, args.out, args.model,
              {"path": str(path), "text_column": "text", "label_column": "label"},
              timings={"fit_seconds": seconds}, overwrite=args.overwrite)
    print()
    print(format_topic_table(model, 10))
    labels = model.topic_labels()
    print("\ntopic labels: " + ", ".join(f"{k} {label}" for k, label in enumerate(labels)))
    if describe is not None:
        print(f"teacher: {describe()}")
    print(f"\n{seconds:.0f} s; run folder: {args.out}")
    return 0
