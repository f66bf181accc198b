"""Language-model view: one forward pass per document gives the encoder input and the soft label.

For each document a causal LM reads a prompt (see `lm_prompt`). At the prompt's last position
we take
- `hidden`: the final-layer hidden state after the final norm (N x d), the topic model's input;
- `logits`: the next-token logits restricted to the topic vocabulary (N x V), raw, so that the
  soft label softmax(logits / tau) can use any temperature later (see `soft_labels`).

Efficiency (the authors' code runs one document per batch and returns every layer's hidden
states and full-vocabulary logits at every position):
- documents are sorted by token length and cut into batches by a padded-token budget, with
  left padding and explicit position ids, so a document's result does not depend on its batch;
- only the model's decoder runs (no output head); the head is applied at the last position only,
  and only to the rows of the vocabulary's tokens, in float32. Logit scaling and soft-capping
  that a model's config declares are applied too, and the first computed chunk is checked once
  against the full model's own logits, so a model whose head does something else is refused
  rather than silently mis-scored;
- feed-forward blocks run over bounded row chunks (see `lm_memory`), so a long document's
  activation memory stays small;
- results are written in chunks to the on-disk cache (`ChunkedView`): an interrupted run
  resumes at the first missing chunk.

With `store_top_k=K` the logits are stored compactly, each document's top K (`views.topk`):
`topk_indices`, `topk_values` and `topk_inexact` replace `logits`, and a complete dense view of
the same settings in the cache is compacted instead of running the LM again.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .cache import ChunkedView, cache_key, default_cache_dir, record_use
from .engines import ChunkAssembler, LocalEngine, resolve_engine
from .lm_memory import chunked_feed_forward
from .lm_prompt import DEFAULT_TEMPLATE, PROMPTS, PromptEncoder, resolve_instruction
from .lm_words import SCORING_POLICIES, WordScoring, word_token_ids
from .sentence import model_fingerprint
from .topk import TopKLogits, bytes_per_document, compact_logits, index_dtype, word_groups

__all__ = ["PROMPTS", "DEFAULT_TEMPLATE", "LanguageModelView", "RestrictedHead", "soft_labels",
           "word_token_ids", "WordScoring", "entropy"]

DEFAULT_TAU = 3.0
# Stored precision: hidden states in float16 as every view; logits in float32 because they are
# raw (not centred), so float16's absolute error grows with their size, and a later, lower
# temperature magnifies it (docs/lm-view.md has the measurement).
STORAGE_DTYPES = {"hidden": np.float16, "logits": np.float32, "document_tokens": np.int32,
                  "truncated": np.uint8}


# --------------------------------------------------------------------------- soft labels

def soft_labels(logits, tau: float = DEFAULT_TAU, top_k: int | None = None):
    """softmax(logits / tau) along the last axis; with `top_k`, logits outside each row's top k
    are set to -inf first. Accepts a NumPy array (returns float32 NumPy) or a torch tensor."""
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    is_numpy = not isinstance(logits, torch.Tensor)
    x = torch.from_numpy(np.array(logits, dtype=np.float32)) if is_numpy else logits.float()
    if top_k is not None:
        if not 1 <= top_k:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if top_k < x.shape[-1]:  # mask on the raw logits: the kept words do not depend on tau
            kth = torch.topk(x, top_k, dim=-1).values[..., -1:]
            x = x.masked_fill(x < kth, float("-inf"))
    p = torch.softmax(x / tau, dim=-1)
    return p.numpy() if is_numpy else p


def entropy(p, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) of probability rows."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=axis)


# --------------------------------------------------------------------------- model pieces

def resolve_device(device) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    """None/'auto': bfloat16 on CUDA, float32 elsewhere (half precision is slow on most CPUs)."""
    if dtype is None or dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if dtype not in names:
        raise ValueError(f"dtype must be one of {sorted(names)} or 'auto', got {dtype!r}")
    return names[dtype]


def decoder_of(model):
    """The model without its output head (`get_decoder()` finds it for causal LMs and the
    language part of multimodal ones)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    if decoder is None or decoder is model:
        decoder = getattr(model, "base_model", None)
    if decoder is None or decoder is model:
        raise ValueError(f"{type(model).__name__} has no separate decoder module: load the "
                         "model with AutoModelForCausalLM")
    return decoder


class RestrictedHead:
    """The output head for a few token ids: logits = h @ W[ids].T (+ b[ids]), in float32, then
    the scaling or soft-capping the model's config declares (Cohere `logit_scale`, Granite
    `logits_scaling`, Falcon-H1 `lm_head_multiplier`, Gemma `final_logit_softcapping`)."""

    def __init__(self, model, token_ids: np.ndarray, device: torch.device):
        head = model.get_output_embeddings()
        weight = getattr(head, "weight", None)
        if head is None or not isinstance(weight, torch.Tensor) or weight.ndim != 2:
            raise ValueError(f"{type(model).__name__} has no output head (a language-model head "
                             "with a weight matrix); load a causal LM (AutoModelForCausalLM)")
        ids = torch.as_tensor(np.asarray(token_ids), dtype=torch.long)
        if len(ids) and int(ids.max()) >= weight.shape[0]:
            raise ValueError(f"token id {int(ids.max())} is outside the model's output head "
                             f"({weight.shape[0]} rows): tokenizer and model do not match")
        with torch.no_grad():
            self.weight = weight.detach()[ids.to(weight.device)].to(device, torch.float32)
            bias = getattr(head, "bias", None)
            self.bias = None if bias is None else bias.detach()[ids.to(bias.device)].to(
                device, torch.float32)
        cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") \
            else model.config
        self.scale = 1.0
        if getattr(cfg, "logit_scale", None):
            self.scale *= float(cfg.logit_scale)
        if getattr(cfg, "logits_scaling", None):
            self.scale /= float(cfg.logits_scaling)
        if getattr(cfg, "lm_head_multiplier", None):
            self.scale *= float(cfg.lm_head_multiplier)
        self.softcap = getattr(cfg, "final_logit_softcapping", None) or None

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = hidden.float() @ self.weight.T
        if self.bias is not None:
            logits = logits + self.bias
        if self.scale != 1.0:
            logits = logits * self.scale
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits


def _object_fingerprint(obj) -> str:
    """Identify an in-memory model: its config and a sample of every parameter."""
    h = hashlib.sha256(obj.config.to_json_string().encode())
    with torch.no_grad():
        for name, p in obj.named_parameters():
            flat = p.detach().reshape(-1)
            sample = torch.cat([flat[:64], flat[-64:]]).float().cpu().numpy()
            h.update(name.encode() + str(tuple(p.shape)).encode() + sample.tobytes())
    return f"{type(obj).__name__}:{h.hexdigest()[:16]}"


def _tokenizer_fingerprint(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    blob = backend.to_str() if backend is not None else json.dumps(
        sorted(tokenizer.get_vocab().items()))
    blob += json.dumps(tokenizer.all_special_tokens) + str(getattr(tokenizer, "chat_template", ""))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def token_batches(lengths, batch_size: int, batch_tokens: int,
                  max_padding: float = 1.0) -> list[list[int]]:
    """Group document indices into batches of similar length.

    Sorted longest first (the largest batch runs first, so running out of memory shows at
    once); a batch holds at most `batch_size` documents and `batch_tokens` padded tokens (a
    longer document runs alone), and a document shorter than (1 - max_padding) x the batch's
    longest starts a new batch, which bounds the share of padding in every batch."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches, current = [], []
    for i in order:
        if current and ((len(current) + 1) * lengths[current[0]] > batch_tokens
                        or len(current) >= batch_size
                        or lengths[i] < (1 - max_padding) * lengths[current[0]]):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


# --------------------------------------------------------------------------- the view

class LanguageModelView:
    """Computes (and caches) the LM view of a corpus: {"hidden": N x d, "logits": N x V}.

    model: a Hugging Face id or local path of a causal LM, or a loaded model (then pass
        `tokenizer` too). instruction: a name from PROMPTS or an instruction text.
    template: must contain "{document}"; "{instruction}" is replaced by the instruction.
    chat_template: wrap the prompt in the tokenizer's chat template (instruction-tuned models).
    scoring: "first-token" or "variants" (see `lm_words`).
    max_document_tokens: token budget of the document part (None: no limit).
    batch_size / batch_tokens: most documents / padded tokens in one forward pass; None:
        2048 tokens on CPU (larger batches were no faster there and need more memory), 16384
        on GPU.
    max_padding: most share of padding in a batch; None: 0.1 on CPU, where padding is pure
        waste, 0.5 on GPU, where larger batches matter more.
    dtype: None/"auto" (bf16 on CUDA, fp32 on CPU), "float32", "bfloat16" or "float16".
    device: None/"auto" (CUDA when available), or any torch device string.
    cache_dir: folder of the on-disk cache (None: the default cache; False: no cache).
    chunk_size: documents per cache chunk (what an interruption can cost).
    store_top_k: None (default) stores all |V| logits per document; K stores each document's
        top K (`topk_indices`, `topk_values`, `topk_inexact`; see `softtopic.views.topk`), a
        separate cache entry, derived from a complete dense entry when there is one. Soft
        labels with top_k <= K are then exact; the full soft label is not available.
    engine: where the forward passes run (`softtopic.views.engines`): None for the one set by
        `use_engine` (default: this process), or an engine such as `RayEngine(workers=4,
        gpus_per_worker=1)`. Every engine writes the same cache, so a view computed on a
        cluster is read here unchanged, and a run interrupted on one resumes on another.
    """

    def __init__(self, model: str | object, tokenizer=None, instruction: str = "default",
                 template: str = DEFAULT_TEMPLATE, chat_template: bool = False,
                 scoring: str = "first-token", max_document_tokens: int | None = 512,
                 batch_size: int = 64, batch_tokens: int | None = None,
                 max_padding: float | None = None, dtype=None, device=None,
                 cache_dir: str | Path | None | bool = None, chunk_size: int = 256,
                 progress: bool = True, store_top_k: int | None = None, engine=None):
        resolve_instruction(instruction)  # fail early on an empty instruction
        if "{document}" not in template:
            raise ValueError(f"template must contain '{{document}}', got {template!r}")
        if scoring not in SCORING_POLICIES:
            raise ValueError(f"scoring must be one of {SCORING_POLICIES}, got {scoring!r}")
        for name, value in (("batch_size", batch_size), ("batch_tokens", batch_tokens),
                            ("chunk_size", chunk_size), ("store_top_k", store_top_k)):
            if not (name in ("batch_tokens", "store_top_k") and value is None) and (
                    not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if max_padding is not None and not 0.0 <= max_padding <= 1.0:
            raise ValueError(f"max_padding must be in [0, 1] or None, got {max_padding!r}")
        if max_document_tokens is not None and (not isinstance(max_document_tokens, int)
                                                or max_document_tokens < 0):
            raise ValueError(f"max_document_tokens must be a non-negative integer or None, got "
                             f"{max_document_tokens!r}")
        if not isinstance(model, (str, os.PathLike)) and tokenizer is None:
            raise ValueError("pass `tokenizer` together with a loaded model")
        self.model = model
        self.tokenizer = tokenizer
        self.instruction = instruction
        self.template = template
        self.chat_template = chat_template
        self.scoring = scoring
        self.max_document_tokens = max_document_tokens
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.max_padding = max_padding
        self.dtype = dtype
        self.device = device
        self.cache_dir = cache_dir
        self.chunk_size = chunk_size
        self.progress = progress
        self.store_top_k = store_top_k
        self.engine = engine
        self.model_ = self.tokenizer_ = None

    # Feed-forward blocks run over at most this many positions at a time (see lm_memory):
    # on CPU memory is the scarcer resource; on GPU larger matrix products run faster.
    FEED_FORWARD_ROWS = {"cpu": 1024, "cuda": 16384}

    def feed_forward_rows(self, device: torch.device) -> int:
        return self.FEED_FORWARD_ROWS.get(device.type, self.FEED_FORWARD_ROWS["cpu"])

    # ---- loading

    def _from_path(self) -> bool:
        return isinstance(self.model, (str, os.PathLike))

    def load_tokenizer(self):
        """The tokenizer alone: enough to build prompts and the cache key, so a view read from
        the cache never loads the model."""
        if self.tokenizer_ is None:
            tokenizer = self.tokenizer
            if tokenizer is None or isinstance(tokenizer, (str, os.PathLike)):
                tokenizer = _load_tokenizer(str(tokenizer or self.model))
            self.tokenizer_ = tokenizer
        return self.tokenizer_

    def load(self):
        """Load the model (once) and the tokenizer; returns (model, tokenizer)."""
        tokenizer = self.load_tokenizer()
        if self.model_ is not None:
            return self.model_, tokenizer
        device = resolve_device(self.device)
        if self._from_path():
            model = _load_causal_lm(str(self.model), device, resolve_dtype(self.dtype, device))
        else:
            model = self.model
            if self.device is not None:
                model = model.to(device)
            if self.dtype is not None:
                model = model.to(resolve_dtype(self.dtype, device))
        model.eval()
        # fail here, before any work, on a model without an output head or a separate decoder
        if model.get_output_embeddings() is None:
            raise ValueError(f"{type(model).__name__} has no output head; load the model with "
                             "AutoModelForCausalLM")
        decoder_of(model)
        self.model_ = model
        return model, tokenizer

    def _compute_device(self) -> torch.device:
        """The device the forward passes will run on: this process's, or on a distributed
        engine's workers, CUDA when they ask for GPUs (the driver may have none)."""
        worker_device = resolve_engine(self.engine).worker_device()
        if worker_device and self.device in (None, "auto"):
            return torch.device(worker_device)
        return resolve_device(self.device)

    def _dtype_name(self) -> str:
        """The model's dtype: read from the model once loaded, else what loading will give."""
        if self.model_ is not None:
            dtype = next(self.model_.parameters()).dtype
        elif self._from_path() or self.dtype is not None:
            dtype = resolve_dtype(self.dtype, self._compute_device())
        else:
            dtype = next(self.model.parameters()).dtype
        return str(dtype).replace("torch.", "")

    def settings(self, vocab_words: list[str], corpus_hash: str) -> dict:
        """Everything the cached arrays depend on (the cache key's parts)."""
        if self._from_path():
            name, fingerprint = str(self.model), model_fingerprint(str(self.model))
        else:
            name = getattr(self.model, "name_or_path", "") or type(self.model).__name__
            fingerprint = _object_fingerprint(self.model)
        return {"kind": "lm-view", "model": name, "fingerprint": fingerprint,
                "tokenizer": _tokenizer_fingerprint(self.load_tokenizer()),
                "instruction": resolve_instruction(self.instruction), "template": self.template,
                "chat_template": bool(self.chat_template), "scoring": self.scoring,
                "vocab": hashlib.sha256("\n".join(vocab_words).encode()).hexdigest(),
                "corpus": corpus_hash, "max_document_tokens": self.max_document_tokens,
                # chunk i holds rows [i * chunk_size, ...): a resumed run must use the same size
                "chunk_size": self.chunk_size, "dtype": self._dtype_name(),
                # only a compact view has this part: dense keys stay what they were
                **({"store_top_k": self.store_top_k} if self.store_top_k is not None else {})}

    # ---- computing

    def __call__(self, texts: list[str], vocab_words: list[str],
                 corpus_hash: str | None = None) -> dict[str, np.ndarray]:
        """The view of `texts` over `vocab_words`: {"hidden": N x d float32, "logits": N x V
        float32, "document_tokens": N int, "truncated": N bool}, from the cache when present.
        With store_top_k=K, "topk_indices" (N x K int), "topk_values" (N x K float32),
        "topk_inexact" (N bool) and "word_groups" (V int32) replace "logits"
        (`TopKLogits.from_view(result, V)` reads them as dense rows).
        Also sets `report_` (scoring report, prompt, truncation, timings, storage)."""
        from ..corpus import hash_texts
        texts = _check_texts(texts)
        vocab_words = list(vocab_words)
        k = self.store_top_k
        if k is not None and not k < len(vocab_words):
            raise ValueError(f"store_top_k={k} must be smaller than the vocabulary "
                             f"({len(vocab_words)} words); use store_top_k=None to keep all")
        self._prepare(vocab_words)
        engine = resolve_engine(self.engine)
        groups = word_groups(self.scoring_.variant_index) if k is not None else None
        dtypes = dict(STORAGE_DTYPES)
        if k is not None:
            del dtypes["logits"]
            dtypes.update(topk_indices=index_dtype(len(vocab_words)), topk_values=np.float32,
                          topk_inexact=np.uint8)
        compute = self.compute if k is None else (
            lambda chunk: self._compact(self.compute(chunk), groups))
        self.derived_from_ = None
        t0 = time.perf_counter()
        if self.cache_dir is False:
            with self._progress_bar(len(texts), 0) as self._bar:
                arrays = compute(texts)
            from_cache = False
        else:
            key_parts = self.settings(vocab_words, corpus_hash or hash_texts(texts))
            root = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
            view = ChunkedView(root / "lm" / cache_key(**key_parts), len(texts),
                               chunk_size=self.chunk_size, dtype=dtypes, key_parts=key_parts)
            from_cache = view.is_complete()
            chunk = lambda a, b: compute(texts[a:b])  # noqa: E731
            if k is not None and not from_cache:
                dense = self._complete_dense_view(root, key_parts, len(texts))
                if dense is not None:   # compact the cached dense logits: no LM pass
                    self.derived_from_ = str(dense.dir)
                    record_use(dense.dir)
                    stored = dense.load()
                    chunk = lambda a, b: self._compact(  # noqa: E731
                        {n: arr[a:b] for n, arr in stored.items()}, groups)
            missing = set(view.missing_chunks()) if not from_cache else set()
            done = len(texts) - sum(min((i + 1) * view.chunk_size, len(texts)) - i * view.chunk_size
                                    for i in missing)
            with self._progress_bar(len(texts), done) as self._bar:
                if isinstance(engine, LocalEngine) or self.derived_from_:
                    arrays = view.compute(chunk, progress=False)
                else:  # forward passes on the engine's workers; compacted here when asked
                    arrays = view.fill(lambda todo: (
                        (i, a if k is None else self._compact(a, groups))
                        for i, a in self._chunks_on(engine, view, texts, todo, vocab_words)),
                        progress=False)
        result = {"hidden": np.asarray(arrays["hidden"], dtype=np.float32),
                  "document_tokens": np.asarray(arrays["document_tokens"], dtype=np.int64),
                  "truncated": np.asarray(arrays["truncated"], dtype=bool)}
        if k is None:
            result["logits"] = np.asarray(arrays["logits"], dtype=np.float32)
        else:
            result.update(topk_indices=arrays["topk_indices"], topk_values=arrays["topk_values"],
                          topk_inexact=np.asarray(arrays["topk_inexact"], dtype=bool),
                          word_groups=groups)
        self.report_ = self._report(result, from_cache, time.perf_counter() - t0)
        return result

    def _prepare(self, vocab_words: list[str]):
        """What computing needs besides the model: word scoring, prompts, fresh statistics."""
        tokenizer = self.load_tokenizer()
        self.scoring_ = word_token_ids(tokenizer, vocab_words, self.scoring)
        self.prompt_ = PromptEncoder(tokenizer, self.instruction, self.template,
                                     self.chat_template, self.max_document_tokens)
        self.head_ = None  # built from the model when a chunk must be computed
        self._stats = {"documents": 0, "tokens": 0, "padded_tokens": 0, "seconds": 0.0,
                       "tokenize_seconds": 0.0}

    def worker(self, vocab_words: list[str]) -> "LanguageModelViewWorker":
        """A picklable description of this view's computation, for an engine's workers."""
        if not self._from_path():
            raise ValueError("a view computed by a distributed engine needs the model as a "
                             "Hugging Face id or local folder, not a loaded model object")
        params = {name: getattr(self, name) for name in inspect.signature(
            LanguageModelView.__init__).parameters if name not in ("self", "engine")}
        # the workers compute in the precision the cache key records
        # (top-K compaction, when asked, happens where the chunks are written)
        params.update(model=str(self.model), cache_dir=False, progress=False, store_top_k=None,
                      device=str(self._compute_device()), dtype=self._dtype_name(),
                      tokenizer=None if not isinstance(self.tokenizer, (str, os.PathLike))
                      else str(self.tokenizer))
        return LanguageModelViewWorker(params, list(vocab_words))

    def _chunks_on(self, engine, view: ChunkedView, texts: list[str], todo: list[int],
                   vocab_words: list[str]):
        """(chunk index, arrays) for the chunks in `todo`, computed by `engine`: the chunks'
        documents go out as rows, results come back in any order and are regrouped."""
        rows = np.concatenate([np.arange(*view.bounds(i)) for i in todo]).astype(np.int64)
        columns = {"row": rows, "text": np.array([texts[r] for r in rows], dtype=object)}
        assembler = ChunkAssembler(view.n_rows, view.chunk_size, todo)
        for batch in engine.map_batches(self.worker(vocab_words), columns, view.chunk_size):
            seconds, prompt_tokens = batch.pop("seconds"), batch.pop("prompt_tokens")
            padded_tokens = batch.pop("padded_tokens")
            self._stats["seconds"] += float(np.sum(seconds))
            self._stats["documents"] += len(seconds)
            self._stats["tokens"] += round(float(np.sum(prompt_tokens)))
            self._stats["padded_tokens"] += round(float(np.sum(padded_tokens)))
            if getattr(self, "_bar", None) is not None:
                self._bar.update(len(seconds))
            yield from assembler.add(batch)

    def _compact(self, arrays: dict, groups: np.ndarray) -> dict:
        """A chunk's arrays with its dense logits replaced by their top store_top_k."""
        arrays = dict(arrays)
        arrays.update(compact_logits(arrays.pop("logits"), self.store_top_k, groups))
        return arrays

    def _complete_dense_view(self, root: Path, key_parts: dict, n_rows: int):
        """The complete dense cache entry of these settings, if there is one."""
        dense_parts = {n: v for n, v in key_parts.items() if n != "store_top_k"}
        view = ChunkedView(root / "lm" / cache_key(**dense_parts), n_rows,
                           chunk_size=self.chunk_size, dtype=STORAGE_DTYPES, key_parts=dense_parts)
        return view if view.is_complete() else None

    def compute(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The view of a list of documents, without the cache (one cache chunk's work)."""
        model, _ = self.load()
        if self.head_ is None:
            self.head_ = RestrictedHead(model, self.scoring_.token_ids, _device_of(model))
        if getattr(self, "head_check_", None) is None:
            self.head_check_ = self.check_head()
        t0 = time.perf_counter()
        prompts = self.prompt_.encode(texts)
        self._stats["tokenize_seconds"] += time.perf_counter() - t0
        lengths = [len(p.ids) for p in prompts]
        hidden = logits = None
        gpu = _device_of(model).type == "cuda"
        max_padding = self.max_padding if self.max_padding is not None else (0.5 if gpu else 0.1)
        batch_tokens = self.batch_tokens or (16384 if gpu else 2048)
        for batch in token_batches(lengths, self.batch_size, batch_tokens, max_padding):
            t1 = time.perf_counter()
            h, token_logits = self._forward([prompts[i].ids for i in batch])
            words = self.scoring_.word_logits(token_logits)
            if hidden is None:
                hidden = np.zeros((len(texts), h.shape[1]), np.float32)
                logits = np.zeros((len(texts), words.shape[1]), np.float32)
            hidden[batch] = h.cpu().numpy()
            logits[batch] = words.cpu().numpy()
            self._stats["seconds"] += time.perf_counter() - t1
            self._stats["documents"] += len(batch)
            self._stats["tokens"] += sum(lengths[i] for i in batch)
            self._stats["padded_tokens"] += len(batch) * max(lengths[i] for i in batch)
            if getattr(self, "_bar", None) is not None:
                self._bar.update(len(batch))
                self._bar.set_postfix(tok_s=f"{self._stats['tokens'] / self._stats['seconds']:.0f}",
                                      refresh=False)
        return {"hidden": hidden, "logits": logits,
                "document_tokens": np.array([p.document_tokens for p in prompts], np.int32),
                "truncated": np.array([p.truncated for p in prompts], np.uint8)}

    @torch.inference_mode()
    def _forward(self, batch_ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden state and needed-token logits at the last position of each prompt."""
        model, tokenizer = self.load()
        device = _device_of(model)
        width = max(len(ids) for ids in batch_ids)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        input_ids = torch.full((len(batch_ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
        for row, ids in enumerate(batch_ids):  # left padding: every prompt ends at the last column
            input_ids[row, width - len(ids):] = torch.as_tensor(ids)
            mask[row, width - len(ids):] = 1
        inputs = {"input_ids": input_ids.to(device), "attention_mask": mask.to(device),
                  "use_cache": False}
        decoder = decoder_of(model)
        if "position_ids" in inspect.signature(decoder.forward).parameters:
            # positions count real tokens only, so padding does not shift a document's positions
            inputs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0).to(device)
        with chunked_feed_forward(decoder, self.feed_forward_rows(device)):
            out = decoder(**inputs)
        last = (out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0])[:, -1]
        return last.float(), self.head_(last)

    @torch.inference_mode()
    def check_head(self) -> dict:
        """Compare the restricted head with the full model's own logits on one short prompt
        (done once per view): catches a head transformation this module does not reproduce."""
        model, _ = self.load()
        ids = self.prompt_.encode(["The topic of this short document is the weather."])[0].ids
        _, token_logits = self._forward([ids])
        ours = self.scoring_.word_logits(token_logits)[0].cpu().numpy()
        kwargs = {"input_ids": torch.as_tensor([ids], device=_device_of(model)),
                  "use_cache": False}
        if "logits_to_keep" in inspect.signature(model.forward).parameters:
            kwargs["logits_to_keep"] = 1  # the full head, but at the last position only
        full = model(**kwargs).logits[0, -1].float()
        needed = full[torch.as_tensor(self.scoring_.token_ids, device=full.device)]
        reference = self.scoring_.word_logits(needed[None])[0].cpu().numpy()
        diff = float(np.max(np.abs(reference - ours)))
        scale = 1.0 + float(np.max(np.abs(reference)))
        fp32 = next(model.parameters()).dtype == torch.float32
        tolerance = (1e-3 if fp32 else 5e-2) * scale
        if not diff <= tolerance:
            raise RuntimeError(
                f"the restricted output head does not reproduce {type(model).__name__}'s logits "
                f"(largest difference {diff:.3g}, logits up to {scale - 1:.3g}): the model "
                "transforms its logits in a way softtopic does not know. Please report it.")
        return {"max_abs_difference": diff, "tolerance": tolerance}

    # ---- reporting and writing

    def _progress_bar(self, total: int, done: int):
        return tqdm(total=total, initial=done, desc="LM view", unit="doc",
                    disable=not self.progress, dynamic_ncols=True, smoothing=0.1)

    def _report(self, result: dict, from_cache: bool, seconds: float) -> dict:
        s = self._stats
        doc_tokens = result["document_tokens"]
        model = self.model_ if self.model_ is not None else self.model
        return {
            "model": str(self.model) if self._from_path() else type(self.model).__name__,
            "dtype": self._dtype_name(),
            "device": str(self._compute_device() if isinstance(model, (str, os.PathLike))
                          else _device_of(model)),
            "engine": resolve_engine(self.engine).describe(),
            "instruction": resolve_instruction(self.instruction),
            "template": self.template, "chat_template": bool(self.chat_template),
            "example_prompt": self.prompt_.prompt_text("<document>"),
            "max_document_tokens": self.max_document_tokens,
            "documents": int(len(doc_tokens)),
            "truncated_documents": int(result["truncated"].sum()),
            "document_tokens": {"mean": float(doc_tokens.mean()), "max": int(doc_tokens.max())},
            "word_scoring": self.scoring_.report,
            "head_check": getattr(self, "head_check_", None),
            "from_cache": from_cache,
            "storage": self._storage_report(result),
            "timings": {
                "seconds": seconds,
                "computed_documents": s["documents"],
                "forward_seconds": s["seconds"], "tokenize_seconds": s["tokenize_seconds"],
                "documents_per_second": s["documents"] / s["seconds"] if s["seconds"] else None,
                "tokens_per_second": s["tokens"] / s["seconds"] if s["seconds"] else None,
                "padding_share": 1 - s["tokens"] / s["padded_tokens"] if s["padded_tokens"]
                else None,
            },
        }

    def _storage_report(self, result: dict) -> dict:
        """How the soft labels are stored, with bytes per document in the cache."""
        n_words = len(self.scoring_.words)
        hidden_dim = int(result["hidden"].shape[1]) if result["hidden"].ndim == 2 else None
        k = self.store_top_k
        report = {"store_top_k": k, "arrays": sorted(set(result) - {"word_groups"}),
                  "bytes_per_document": bytes_per_document(n_words, hidden_dim, k)}
        if k is not None:
            groups = result["word_groups"]
            report.update(index_dtype=index_dtype(n_words).name,
                          inexact_documents=int(np.asarray(result["topk_inexact"]).sum()),
                          word_groups_shared=int(len(groups) - len(np.unique(groups))),
                          derived_from_dense_view=self.derived_from_)
        return report

    def write(self, out_dir: str | Path, result: dict, vocab_words: list[str],
              ids: list[str] | None = None, tau: float = DEFAULT_TAU, top_n: int = 5) -> Path:
        """Write the user-readable view folder: vocab.json, logits.npy (N x V float32, raw),
        hidden.npy (N x d float32), top_labels.jsonl (each document's top label words and their
        probabilities at tau) and report.json. A store_top_k view writes topk_indices.npy,
        topk_values.npy, topk_inexact.npy and word_groups.npy instead of logits.npy, and its
        top_labels probabilities are those of the top-K soft label (softmax over the stored
        K words and their group mates), the only one it can give."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        n = len(result["hidden"])
        ids = [str(i) for i in range(n)] if ids is None else list(ids)
        (out / "vocab.json").write_text(json.dumps(list(vocab_words), ensure_ascii=False))
        compact = "topk_indices" in result
        if compact:
            logits = TopKLogits.from_view(result, len(vocab_words))
            np.save(out / "topk_indices.npy", np.asarray(result["topk_indices"]))
            np.save(out / "topk_values.npy", np.asarray(result["topk_values"], np.float32))
            np.save(out / "topk_inexact.npy", np.asarray(result["topk_inexact"], np.uint8))
            np.save(out / "word_groups.npy", np.asarray(result["word_groups"], np.int32))
            for stale in ("logits.npy",):   # a folder reused from a dense run
                (out / stale).unlink(missing_ok=True)
        else:
            logits = result["logits"]
            np.save(out / "logits.npy", np.asarray(logits, np.float32))
            for stale in ("topk_indices.npy", "topk_values.npy", "topk_inexact.npy",
                          "word_groups.npy"):
                (out / stale).unlink(missing_ok=True)
        np.save(out / "hidden.npy", np.asarray(result["hidden"], np.float32))
        with open(out / "top_labels.jsonl", "w", encoding="utf-8") as f:
            for start in range(0, n, 4096):  # bounded memory for large corpora
                p = soft_labels(logits[start:min(start + 4096, n)], tau)
                top = np.argsort(-p, axis=1, kind="stable")[:, :top_n]
                for r in range(len(p)):
                    i = start + r
                    f.write(json.dumps({
                        "id": ids[i], "document_tokens": int(result["document_tokens"][i]),
                        "truncated": bool(result["truncated"][i]),
                        "labels": [[vocab_words[j], round(float(p[r, j]), 6)] for j in top[r]],
                    }, ensure_ascii=False) + "\n")
        report = dict(getattr(self, "report_", {}), tau=tau)
        if compact:
            report["top_labels_over"] = f"the top-{logits.k} soft label"
        (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
        return out


class LanguageModelViewWorker:
    """The LM view's work as an engine runs it: `build()` (once per worker process) loads the
    model and returns a function from a batch {"row", "text"} to its view rows, with each row's
    share of the batch's forward seconds, prompt tokens and padded tokens for the driver's
    report."""

    def __init__(self, params: dict, vocab_words: list[str]):
        self.params, self.vocab_words = params, vocab_words

    def build(self):
        view = LanguageModelView(**self.params)
        view._prepare(self.vocab_words)
        view.load()

        def run(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            texts = [str(t) for t in batch["text"]]
            before = dict(view._stats)
            out = view.compute(texts)
            n = len(texts)
            spent = {k: (view._stats[k] - before[k]) / n
                     for k in ("seconds", "tokens", "padded_tokens")}
            return {"row": np.asarray(batch["row"]), **out, "seconds": np.full(n, spent["seconds"]),
                    "prompt_tokens": np.full(n, spent["tokens"]),
                    "padded_tokens": np.full(n, spent["padded_tokens"])}
        return run


# --------------------------------------------------------------------------- helpers

def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of documents, not a single string")
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty: nothing to compute")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"document {i} is {type(t).__name__}, not str")
    return texts


def _device_of(model) -> torch.device:
    return next(model.parameters()).device


def _load_tokenizer(name: str):
    from transformers import AutoTokenizer
    try:
        return AutoTokenizer.from_pretrained(name)
    except Exception as e:  # hub unreachable, wrong path
        hint = "" if Path(name).exists() else " If this machine is offline, pass a local folder."
        raise RuntimeError(f"could not load the tokenizer of {name!r}: "
                           f"{type(e).__name__}: {e}.{hint}") from None


def _load_causal_lm(name: str, device: torch.device, dtype: torch.dtype):
    """Load a causal LM, refusing a checkpoint whose output head is missing (transformers would
    silently initialise a random one)."""
    from transformers import AutoModelForCausalLM
    try:
        model, info = AutoModelForCausalLM.from_pretrained(name, dtype=dtype,
                                                           output_loading_info=True)
    except Exception as e:  # hub unreachable, wrong path, not a causal LM
        hint = "" if Path(name).exists() else " If this machine is offline, pass a local folder."
        raise RuntimeError(f"could not load causal language model {name!r}: "
                           f"{type(e).__name__}: {e}.{hint}") from None
    head = model.get_output_embeddings()
    head_names = {n for n, m in model.named_modules() if m is head}
    missing = [k for k in info.get("missing_keys", []) if k.rsplit(".", 1)[0] in head_names]
    if missing and not getattr(model.config.get_text_config(), "tie_word_embeddings", False):
        raise ValueError(f"{name} has no trained output head (missing {missing}); it is a base "
                         "model without a language-model head")
    return model.to(device)


def describe_precision(logits: np.ndarray, tau: float = DEFAULT_TAU) -> dict:
    """How much storing these logits as float16 would change the soft labels (max relative
    error of a probability, mean KL); used by the benchmark and docs."""
    p = soft_labels(logits, tau).astype(np.float64)
    q = soft_labels(np.asarray(logits, np.float16).astype(np.float32), tau).astype(np.float64)
    rel = np.abs(q / np.maximum(p, 1e-300) - 1)
    kl = (p * (np.log(np.maximum(p, 1e-300)) - np.log(np.maximum(q, 1e-300)))).sum(-1)
    return {"tau": tau, "max_relative_error": float(rel.max()), "mean_kl": float(kl.mean()),
            "max_kl": float(kl.max()), "max_abs_logit": float(np.abs(logits).max()),
            "fp16_spacing_at_max": float(np.spacing(np.float16(np.abs(logits).max())))}
