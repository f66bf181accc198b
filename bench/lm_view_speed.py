"""Speed and memory of the language-model view against the authors' extraction.

    python bench/lm_view_speed.py                  # 200 documents + one 4,000-token document, CPU
    python bench/lm_view_speed.py --quick          # 60 documents (about 5 minutes on 2 cores)
    python bench/lm_view_speed.py --device cuda    # on a GPU, bf16
    python bench/lm_view_speed.py --threads 2 --clock wall   # on an idle machine

Time. By default torch runs one thread and times are the process's CPU time, which other jobs
on a shared machine do not inflate (with several threads, waiting threads also burn CPU time
and contention distorts it). `--clock wall` times by the wall clock instead; throughput is then
what this machine gave at that moment.

Model: a randomly initialised model of ERNIE-4.5-0.3B's shape (`Ernie4_5ForCausalLM` with its
default config: hidden 1024, 18 layers, 16 heads / 2 KV heads, head dim 128, intermediate 3072,
vocabulary 103424, tied embeddings). Random weights cost the same FLOPs as trained ones.
Tokenizer: a byte-level BPE trained here on the 20 Newsgroups corpus (vocabulary 32,000, so
token counts are realistic for English; the model's head still has 103,424 rows).
Documents: a fixed random sample of non-empty 20NG documents (seed 0), and one 4,000-token
document made by joining 20NG documents.

Compared, each in its own subprocess so that memory peaks do not mix:
- ours: `LanguageModelView` (length-sorted batches under a padded-token budget, decoder only,
  restricted head at the last position, document budget 512 tokens);
- authors: one document per forward pass, `model(**inputs, output_hidden_states=True)` (all
  layers' hidden states, full-vocabulary logits at every position), prompt right-truncated to
  the same number of tokens, under `torch.no_grad()`.
Reported: documents/s, tokens/s (prompt tokens, padding not counted), peak activation memory
(CPU: peak RSS minus RSS after loading the weights and a warm-up, with glibc's mmap threshold
fixed so that RSS follows live memory; GPU: peak allocated minus the weights), and
the share of the FLOP floor reached: 2 x non-embedding parameters x tokens, plus the output
head FLOPs each approach must compute, over the measured matmul rate (attention score FLOPs are
not in the floor, so a long document cannot reach 100%).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = Path(os.environ.get("SOFTTOPIC_20NG", ROOT.parent / "shared/data/20newsgroup/corpus_stripped.jsonl"))
LONG_TOKENS = 4000
TOKENIZER_VOCAB = 32000
TEMPLATE_INSTRUCTION = "default"


# --------------------------------------------------------------------------- shared setup

def load_documents(n: int, seed: int = 0) -> list[str]:
    texts = [json.loads(line)["text"] for line in open(CORPUS, encoding="utf-8")]
    texts = [t for t in texts if t.strip()]
    return random.Random(seed).sample(texts, n)


def tokenizer_dir(work: Path) -> Path:
    """Train (once) a byte-level BPE on 20NG and save it as a transformers tokenizer."""
    path = work / f"bpe-20ng-{TOKENIZER_VOCAB}"
    if (path / "tokenizer.json").exists():
        return path
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast
    texts = [json.loads(line)["text"] for line in open(CORPUS, encoding="utf-8")]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=TOKENIZER_VOCAB, show_progress=False,
                                  special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                            eos_token="</s>").save_pretrained(path)
    return path


def long_document(tokenizer, n_tokens: int = LONG_TOKENS) -> str:
    """20NG documents joined until the text holds at least n_tokens tokens."""
    texts = load_documents(400, seed=1)
    parts, count = [], 0
    for t in texts:
        parts.append(t)
        count += len(tokenizer(t, add_special_tokens=False)["input_ids"])
        if count > n_tokens + 200:
            break
    return "\n\n".join(parts)


def build_model(device: str, dtype):
    import torch
    from transformers import Ernie4_5Config, Ernie4_5ForCausalLM
    torch.manual_seed(0)
    with torch.device(device):
        model = Ernie4_5ForCausalLM(Ernie4_5Config()).to(dtype).eval()
    return model


def parameter_counts(model) -> dict:
    total = sum(p.numel() for p in model.parameters())  # tied head counted once
    embedding = model.get_input_embeddings().weight.numel()
    return {"total": total, "non_embedding": total - embedding,
            "vocab": model.get_output_embeddings().weight.shape[0],
            "hidden": model.config.hidden_size}


# --------------------------------------------------------------------------- memory probes

def _status(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


class MemoryProbe:
    """Peak memory above a baseline: CPU via the kernel's RSS high-water mark (reset through
    /proc/self/clear_refs), GPU via torch's peak allocated bytes."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")

    def start(self):
        import gc

        import torch
        gc.collect()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            self.base = _status("VmRSS")

    def peak_above_base(self) -> int:
        import torch
        if self.cuda:
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() - self.base
        return _status("VmHWM") - self.base


# --------------------------------------------------------------------------- workers

class Clock:
    """Wall-clock and process CPU seconds since start."""

    def __init__(self, device: str):
        self.device = device
        _sync(device)
        self.wall, self.cpu = time.perf_counter(), _cpu_seconds()

    def stop(self) -> dict:
        _sync(self.device)
        return {"wall": time.perf_counter() - self.wall, "cpu": _cpu_seconds() - self.cpu}


def _cpu_seconds() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def matmul_rate(device: str, dtype_name: str) -> dict:
    """Seconds of large square matmuls in the benchmark's dtype, and their FLOPs."""
    import torch
    dtype = getattr(torch, dtype_name)
    best = None
    for n in ((2048, 3072) if device == "cpu" else (8192,)):
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        for _ in range(2):
            a @ b
        reps = 4 if device == "cpu" else 20
        clock = Clock(device)
        for _ in range(reps):
            a @ b
        t = clock.stop()
        t["flops"] = 2 * n ** 3 * reps
        if best is None or t["flops"] / t["cpu"] > best["flops"] / best["cpu"]:
            best = t
    return best


def _sync(device):
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_ours(model, tokenizer, texts, words, budget, args) -> dict:
    from softtopic.views.lm import LanguageModelView
    view = LanguageModelView(model, tokenizer=tokenizer, max_document_tokens=budget,
                             batch_size=args.batch_size, batch_tokens=args.batch_tokens,
                             cache_dir=False, progress=False)
    view([t[:300] for t in texts[:2]], words)  # warm-up (kernels, allocator, head check)
    probe = MemoryProbe(args.device)
    probe.start()
    clock = Clock(args.device)
    result = view(texts, words)
    times = clock.stop()
    tokens = int(sum(len(p.ids) for p in view.prompt_.encode(texts)))
    return {**times, "tokens": tokens, "peak": probe.peak_above_base(),
            "head_rows": len(view.scoring_.token_ids), "padded_tokens":
            view._stats["padded_tokens"], "hidden_shape": list(result["hidden"].shape)}


def run_authors(model, tokenizer, texts, words, budget, args) -> dict:
    """The authors' extraction: one document at a time, full outputs of every position."""
    import torch

    from softtopic.views.lm import PromptEncoder, word_token_ids
    encoder = PromptEncoder(tokenizer, TEMPLATE_INSTRUCTION, max_document_tokens=budget)
    # right-truncate the whole prompt to what our budget gives the longest prompt (same tokens)
    max_length = max(len(p.ids) for p in encoder.encode(texts))
    ids = torch.as_tensor(word_token_ids(tokenizer, words).token_ids)
    device = next(model.parameters()).device

    def one(text):
        inputs = tokenizer(encoder.prompt_text(text), return_tensors="pt", truncation=True,
                           max_length=max_length).to(device)
        with torch.no_grad():
            out = model(**inputs, output_hidden_states=True)
        hidden = out.hidden_states[-1][:, -1].float().cpu()
        logits = out.logits[:, -1, ids].float().cpu()
        return inputs["input_ids"].shape[1], hidden, logits

    one(texts[0][:200])  # warm-up
    probe = MemoryProbe(args.device)
    probe.start()
    clock = Clock(args.device)
    tokens = sum(one(text)[0] for text in texts)
    return {**clock.stop(), "tokens": int(tokens), "peak": probe.peak_above_base()}


def worker(args) -> None:
    import torch
    from transformers import AutoTokenizer

    from softtopic.preprocessing import PreprocessingConfig, Vocabulary
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    if args.worker == "matmul":
        print(json.dumps(matmul_rate(args.device, args.dtype)))
        return
    approach, workload = args.worker.split(":")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir(Path(args.work)))
    texts = load_documents(args.docs)
    vocab = Vocabulary(PreprocessingConfig(vocab_size=2000))
    vocab.fit_transform(texts)
    if workload == "long":
        texts, budget = [long_document(tokenizer)], LONG_TOKENS
    else:
        budget = 512
    model = build_model(args.device, dtype)
    result = (run_ours if approach == "ours" else run_authors)(
        model, tokenizer, texts, vocab.words, budget, args)
    result.update(parameter_counts(model), documents=len(texts), words=len(vocab.words))
    print(json.dumps(result))


# --------------------------------------------------------------------------- precision

def precision_table() -> str:
    """What storing raw logits as float16 would do to the soft labels: rows of 2,000 logits
    with a spread like an LM's (normal around an offset, a few label words well above)."""
    import numpy as np

    from softtopic.views.lm import describe_precision
    rng = np.random.default_rng(0)
    lines = ["| logits | max abs | tau | max rel. error of p | mean KL | max KL |",
             "|---|---|---|---|---|---|"]
    for centre, spread in ((0, 3), (10, 4), (20, 4)):
        logits = rng.normal(centre, spread, (500, 2000))
        logits[:, :5] += 12
        for tau in (3.0, 1.0):
            d = describe_precision(logits.astype(np.float32), tau)
            lines.append(f"| N({centre}, {spread}^2) + peaks | {d['max_abs_logit']:.0f} | {tau:g} "
                         f"| {d['max_relative_error']:.1e} | {d['mean_kl']:.1e} "
                         f"| {d['max_kl']:.1e} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- driver

def spawn(args, name: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--work", args.work, "--docs",
           str(args.docs), "--device", args.device, "--dtype", args.dtype, "--batch-tokens",
           str(args.batch_tokens), "--batch-size", str(args.batch_size)]
    cmd += ["--threads", str(args.threads), "--clock", args.clock]
    # A fixed mmap threshold makes glibc return every freed tensor to the OS at once, so RSS
    # follows live memory; with its adaptive default, freed blocks stay in the heap and the
    # same run's peak varied from 190 to 460 MB with allocation history.
    env = dict(os.environ, PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false",
               MALLOC_MMAP_THRESHOLD_="1048576")
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {name} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {name}: done in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    return out


def seconds(r: dict, args) -> float:
    """The time a run is judged by: CPU seconds per thread, or wall seconds."""
    return r["wall"] if args.clock == "wall" else r["cpu"] / args.threads


def floor_share(r: dict, rate: float, approach: str) -> float:
    """FLOP floor time over the measured time."""
    body = 2 * r["non_embedding"] * r["tokens"]
    if approach == "ours":  # restricted head, last position only
        head = 2 * r["hidden"] * r["head_rows"] * r["documents"]
    else:                   # full head at every position
        head = 2 * r["hidden"] * r["vocab"] * r["tokens"]
    return (body + head) / rate / r["time"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=200)
    p.add_argument("--quick", action="store_true", help="60 documents")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default=None, help="default: float32 on CPU, bfloat16 on CUDA")
    p.add_argument("--batch-tokens", type=int, default=None,
                   help="padded tokens per batch (default: the view's, 2048 on CPU, 16384 on "
                        "CUDA)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--clock", choices=("cpu", "wall"), default=None,
                   help="time by process CPU time per thread (default on CPU) or wall clock "
                        "(default on CUDA)")
    p.add_argument("--skip", default="", help="comma-separated runs to skip, e.g. authors:long")
    p.add_argument("--work", default=os.environ.get("SOFTTOPIC_BENCH_WORK",
                                                    "/tmp/softtopic-bench"))
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    cuda = args.device.startswith("cuda")
    args.dtype = args.dtype or ("bfloat16" if cuda else "float32")
    args.batch_tokens = args.batch_tokens or (16384 if cuda else 2048)
    args.clock = args.clock or ("wall" if cuda else "cpu")
    if args.quick:
        args.docs = min(args.docs, 60)
    if args.worker:
        return worker(args)

    Path(args.work).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tokenizer_dir(Path(args.work))
    print(f"tokenizer ready ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    matmul = spawn(args, "matmul")
    rate = matmul["flops"] / seconds(matmul, args)
    runs = {}
    for name in ("ours:corpus", "authors:corpus", "ours:long", "authors:long"):
        if name not in args.skip.split(","):
            runs[name] = spawn(args, name)
            runs[name]["time"] = seconds(runs[name], args)
            print(f"    {json.dumps(runs[name])}", file=sys.stderr, flush=True)

    any_run = next(iter(runs.values()))
    print(f"\nLM view extraction, {args.device} {args.dtype}, "
          f"{os.cpu_count()} CPUs, torch threads {args.threads}, timed by {args.clock} clock "
          f"(load average {os.getloadavg()[0]:.1f}); model "
          f"Ernie4_5ForCausalLM (random init, {any_run['total'] / 1e6:.0f}M parameters, "
          f"{any_run['non_embedding'] / 1e6:.0f}M non-embedding, vocabulary {any_run['vocab']});"
          f" topic vocabulary {any_run['words']} words; matmul rate "
          f"{rate / 1e9:.0f} GFLOP/s; batch budget {args.batch_tokens} tokens")
    print("| workload | approach | tokens | wall s | CPU s | docs/s | tokens/s | peak act. MiB "
          "| FLOP floor | speed-up | memory |")
    print("|" + "---|" * 11)
    for workload in ("corpus", "long"):
        ours, theirs = runs.get(f"ours:{workload}"), runs.get(f"authors:{workload}")
        for approach, r in (("ours", ours), ("authors", theirs)):
            if r is None:
                continue
            speed = memory = ""
            if approach == "ours" and theirs is not None:
                speed = f"{theirs['time'] / r['time']:.2f}x"
                memory = f"{theirs['peak'] / max(r['peak'], 1):.1f}x lower"
            label = (f"{r['documents']} 20NG docs" if workload == "corpus"
                     else f"1 doc, {LONG_TOKENS} doc tokens")
            print(f"| {label} | {approach} | {r['tokens']} | {r['wall']:.0f} | {r['cpu']:.0f} | "
                  f"{r['documents'] / r['time']:.3f} | {r['tokens'] / r['time']:.0f} | "
                  f"{r['peak'] / 2**20:.0f} | {100 * floor_share(r, rate, approach):.0f}% | "
                  f"{speed} | {memory} |")
    if "ours:corpus" in runs:
        r = runs["ours:corpus"]
        print(f"\nours: padding {100 * (1 - r['tokens'] / r['padded_tokens']):.1f}% of "
              f"processed tokens; head rows computed {r['head_rows']} of {r['vocab']}")
    print("\nfloat16 storage of raw logits (why logits are stored as float32):")
    print(precision_table())
    print(f"total wall time {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
