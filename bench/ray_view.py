"""The LM view on Ray (softtopic.views.engines.RayEngine) against the local engine, side by side.

    python bench/ray_view.py                       # tiny LM and ERNIE-0.3B shape, 2 workers
    python bench/ray_view.py --docs 64 --models tiny
    python bench/ray_view.py --gpus-per-worker 1 --workers 1   # on a GPU node

Models (random weights cost the FLOPs of trained ones; each saved to a folder, as a Ray worker
loads a model by path):
- tiny: a Llama of hidden 64, 2 layers (where Ray's fixed costs dominate);
- ernie: ERNIE-4.5-0.3B's shape (Ernie4_5ForCausalLM default config: hidden 1024, 18 layers).
Tokenizer: the byte-level BPE bench/lm_view_speed.py trains on 20 Newsgroups (32,000 tokens).
Documents: a fixed sample of 20NG documents, budget 512 tokens, 64-document cache chunks
(--chunk), the topic vocabulary the 2,000 most frequent words.

Configurations, each on a cold cache: local (this process, `--threads` torch threads) and ray
with 1 and `--workers` actors of one CPU each (a local Ray instance started here with
`--workers` CPUs). Reported per configuration:
- wall s: the whole view call, Ray's start-up and model loading included;
- steady tokens/s: prompt tokens per second of wall clock from the first batch a worker
  started to the last it finished (start-up excluded: what a long run converges to);
- overhead s/batch: (that span x actors - forward seconds) / batches: the time an actor is
  not running the model (Ray's scheduling, serialisation, tokenisation, transfer) per batch;
- startup s: from the call until the first worker started a batch (Ray start, actor start,
  model loading).
On a shared machine timings move with other jobs: run it alone.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def save_model(kind: str, tokenizer_path: Path, work: Path) -> Path:
    import torch
    from transformers import (AutoTokenizer, Ernie4_5Config, Ernie4_5ForCausalLM, LlamaConfig,
                              LlamaForCausalLM)
    path = work / f"model-{kind}"
    if (path / "config.json").exists():
        return path
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    torch.manual_seed(0)
    if kind == "tiny":
        config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                             max_position_embeddings=4096, pad_token_id=tokenizer.pad_token_id)
        model = LlamaForCausalLM(config)
    else:
        model = Ernie4_5ForCausalLM(Ernie4_5Config(vocab_size=len(tokenizer),
                                                   pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


class TimedWorker:
    """Wraps a view's worker: each output batch carries when the worker started and finished
    it (wall clock), so Ray's costs can be told from the model's."""

    def __init__(self, inner):
        self.inner = inner

    def build(self):
        fn = self.inner.build()

        def run(batch):
            start = time.time()
            out = fn(batch)
            n = len(out["row"])
            return {**out, "t_start": np.full(n, start), "t_end": np.full(n, time.time())}
        return run


class Timed:
    """Wraps an engine: records every batch's worker timestamps, forward seconds and tokens."""

    def __init__(self, engine):
        self.engine, self.batches = engine, []

    def map_batches(self, worker, columns, batch_rows):
        self.t0 = time.time()
        for batch in self.engine.map_batches(TimedWorker(worker), columns, batch_rows):
            t_start, t_end = batch.pop("t_start"), batch.pop("t_end")  # the view pops the rest
            # a Ray block may hold several worker batches: one record per distinct start
            for s in np.unique(t_start):
                sel = t_start == s
                self.batches.append((float(s), float(t_end[sel].max()),
                                     float(batch["seconds"][sel].sum()),
                                     float(batch["prompt_tokens"][sel].sum())))
            yield batch

    def worker_device(self):
        return self.engine.worker_device()

    def describe(self):
        return self.engine.describe()


def measure(model_path: Path, texts, vocab, engine, actors: int, chunk: int, cache: Path):
    from softtopic.views.engines import LocalEngine
    from softtopic.views.lm import LanguageModelView
    timed = None if isinstance(engine, LocalEngine) else Timed(engine)
    view = LanguageModelView(str(model_path), cache_dir=cache, chunk_size=chunk, progress=False,
                             engine=timed or engine)
    t0 = time.perf_counter()
    view(texts, vocab)
    wall = time.perf_counter() - t0
    t = view.report_["timings"]
    tokens = t["tokens_per_second"] * t["forward_seconds"]
    row = {"wall_s": wall, "tokens": tokens}
    if timed is None:
        row.update(steady_tok_s=tokens / t["forward_seconds"], overhead_s=0.0,
                   startup_s=wall - t["forward_seconds"])
    else:
        b = np.array(timed.batches)  # start, end, forward s, tokens
        span = b[:, 1].max() - b[:, 0].min()
        row.update(steady_tok_s=b[:, 3].sum() / span,
                   overhead_s=(span * actors - b[:, 2].sum()) / len(b),
                   startup_s=b[:, 0].min() - timed.t0)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=512)
    ap.add_argument("--models", default="tiny,ernie")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gpus-per-worker", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the local run")
    ap.add_argument("--chunk", type=int, default=64, help="documents per cache chunk / batch")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "softtopic-bench"))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import ray
    import torch
    from lm_view_speed import load_documents, tokenizer_dir

    from softtopic.preprocessing import PreprocessingConfig, Vocabulary
    from softtopic.views.engines import LocalEngine, RayEngine
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    texts = load_documents(args.docs)
    vocab = Vocabulary(PreprocessingConfig(vocab_size=2000))
    vocab.fit_transform(texts)
    ray.init(num_cpus=max(args.workers, 1), num_gpus=None if args.gpus_per_worker else 0,
             include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    rows = []
    for kind in args.models.split(","):
        path = save_model(kind, tokenizer_dir(work), work)
        configs = [("local", LocalEngine(), 1)]
        for n in sorted({1, args.workers}):
            configs.append((f"ray x{n}", RayEngine(workers=n, gpus_per_worker=args.gpus_per_worker),
                            n))
        for name, engine, actors in configs:
            with tempfile.TemporaryDirectory(dir=work) as cache:  # cold cache each time
                r = measure(path, texts, vocab.words, engine, actors, args.chunk, Path(cache))
            rows.append({"model": kind, "engine": name, **r})
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{args.docs} documents of 20NG, chunks of {args.chunk}, local torch threads "
          f"{args.threads}, Ray actors of 1 CPU{'' if not args.gpus_per_worker else ' + GPU'}\n")
    print("| model | engine | wall s | steady tokens/s | overhead s/batch | startup s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['engine']} | {r['wall_s']:.1f} | {r['steady_tok_s']:.0f} | "
              f"{r['overhead_s']:.3f} | {r['startup_s']:.1f} |")


if __name__ == "__main__":
    main()
