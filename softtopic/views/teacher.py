"""Teacher view (BAT): an encoder with a head over the vocabulary, trained to reconstruct each
document's bag of words, whose logits over V become a feature the student distils.

Two ways to train it (Hoyle, Goel and Resnik 2020 fine-tune all of BERT):
- mode "head" (default, cheap, runs on a CPU): the sentence encoder stays frozen; only the head
  is trained, on the encoder's cached embeddings.
- mode "finetune" (for GPU users): a Hugging Face encoder (`transformers.AutoModel`, mean pooling
  over tokens) is fine-tuned together with the head (AdamW, linear decay, gradient clipping at 1,
  as the authors' teacher).
The head is BERT's classification head shape: Linear(E, E), tanh, dropout 0.1, Linear(E, V).

Training objective: -sum_v x_dv log softmax(z_d)_v, averaged over the batch. 10% of the documents
(seeded) are held out; the weights with the best held-out perplexity exp(mean_d L_d / N_d) are
kept (early stopping after `patience` epochs without improvement), as the authors' teacher.

Long documents: the text is split into chunks of `chunk_words` words; each chunk is encoded
(truncated at `max_seq_length` tokens) and gets logits from the head, and a document's logits are
the mean of its chunks' logits, in training and when the view is computed (the authors' README's
"mean-over-logits" pooling).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from .cache import ChunkedView, cache_key, default_cache_dir
from .sentence import DEFAULT_ENCODER, SentenceEmbeddings, model_fingerprint, resolve_encoder

MODES = ("head", "finetune")
_DEFAULTS = {"head": {"epochs": 50, "lr": 1e-3, "batch_size": 64},
             "finetune": {"epochs": 6, "lr": 5e-5, "batch_size": 20}}


def split_words(text: str, chunk_words: int | None) -> list[str]:
    """The text cut into pieces of at most `chunk_words` words (one piece when None)."""
    words = text.split()
    if not chunk_words or len(words) <= chunk_words:
        return [text]
    return [" ".join(words[i:i + chunk_words]) for i in range(0, len(words), chunk_words)]


class TeacherHead(nn.Module):
    def __init__(self, dim: int, vocab_size: int, dropout: float = 0.1):
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(dim, vocab_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(torch.tanh(self.dense(h))))


class FinetunedEncoder(nn.Module):
    """A transformers encoder with mean pooling over non-padding tokens."""

    def __init__(self, name: str, max_seq_length: int | None):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        self.tokenizer = AutoTokenizer.from_pretrained(name)
        self.model = AutoModel.from_pretrained(name)
        self.max_seq_length = max_seq_length or self.tokenizer.model_max_length
        self.dim = self.model.config.hidden_size

    def forward(self, texts: list[str]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        enc = self.tokenizer(texts, padding=True, truncation=True,
                             max_length=self.max_seq_length, return_tensors="pt").to(device)
        hidden = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)


class BowTeacher:
    """Trains the teacher and computes its logits over the vocabulary (N x V)."""

    def __init__(self, mode: str = "head", encoder: str = DEFAULT_ENCODER,
                 epochs: int | None = None, lr: float | None = None,
                 batch_size: int | None = None, chunk_words: int | None = 200,
                 max_seq_length: int | None = 256, dev_fraction: float = 0.1, patience: int = 3,
                 seed: int = 0, device: str | None = None, cache_dir: str | None = None,
                 progress: bool = True):
        if mode not in MODES:
            raise ValueError(f"teacher mode must be one of {MODES}, got {mode!r}")
        self.mode, self.encoder = mode, encoder
        self.epochs = epochs or _DEFAULTS[mode]["epochs"]
        self.lr = lr or _DEFAULTS[mode]["lr"]
        self.batch_size = batch_size or _DEFAULTS[mode]["batch_size"]
        self.chunk_words, self.max_seq_length = chunk_words, max_seq_length
        self.dev_fraction, self.patience, self.seed = dev_fraction, patience, seed
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.cache_dir, self.progress = cache_dir, progress
        self.module: nn.Module | None = None
        self.history: list[dict] = []

    def settings(self) -> dict:
        return {"kind": "bat-teacher", "mode": self.mode, "encoder": self.encoder,
                "fingerprint": model_fingerprint(resolve_encoder(self.encoder)),
                "epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size,
                "chunk_words": self.chunk_words, "max_seq_length": self.max_seq_length,
                "dev_fraction": self.dev_fraction, "patience": self.patience, "seed": self.seed}

    # ------------------------------------------------------------------ pieces
    def _chunks(self, texts: list[str]) -> tuple[list[str], np.ndarray]:
        """All chunk texts, and offsets: document d owns chunks offsets[d]:offsets[d + 1]."""
        pieces = [split_words(t, self.chunk_words) for t in texts]
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(p) for p in pieces])
        return [c for p in pieces for c in p], offsets

    def _chunk_embeddings(self, chunk_texts: list[str]) -> np.ndarray:
        return SentenceEmbeddings(self.encoder, self.max_seq_length, device=str(self.device),
                                  cache_dir=self.cache_dir, progress=self.progress)(chunk_texts)

    def _build(self, vocab_size: int, dim: int | None = None):
        torch.manual_seed(self.seed)
        if self.mode == "head":
            self.module = TeacherHead(dim, vocab_size)
        else:
            enc = FinetunedEncoder(resolve_encoder(self.encoder), self.max_seq_length)
            self.module = nn.ModuleDict({"encoder": enc, "head": TeacherHead(enc.dim, vocab_size)})
        self.module.to(self.device)

    def _doc_logits(self, docs: np.ndarray, offsets: np.ndarray, source) -> torch.Tensor:
        """Mean chunk logits of documents `docs`; `source` is the chunk embedding array (head
        mode) or the list of chunk texts (finetune mode)."""
        rows = np.concatenate([np.arange(offsets[d], offsets[d + 1]) for d in docs])
        seg = torch.from_numpy(np.repeat(np.arange(len(docs)), offsets[docs + 1] - offsets[docs]))
        if self.mode == "head":
            h = torch.from_numpy(np.asarray(source[rows], dtype=np.float32)).to(self.device)
            chunk_logits = self.module(h)
        else:
            h = self.module["encoder"]([source[r] for r in rows])
            chunk_logits = self.module["head"](h)
        seg = seg.to(self.device)
        total = torch.zeros(len(docs), chunk_logits.shape[1], device=self.device,
                            dtype=chunk_logits.dtype).index_add_(0, seg, chunk_logits)
        counts = torch.bincount(seg, minlength=len(docs)).clamp_min(1).unsqueeze(1)
        return total / counts

    # ------------------------------------------------------------------ training
    def fit(self, texts: list[str], bow: sp.csr_matrix) -> "BowTeacher":
        offsets, source = self.prepare(texts)
        self._build(bow.shape[1], source.shape[1] if self.mode == "head" else None)
        rng = np.random.default_rng(self.seed)
        docs = np.flatnonzero(np.asarray(bow.sum(1)).ravel() > 0)
        docs = docs[rng.permutation(len(docs))]
        n_dev = int(round(self.dev_fraction * len(docs))) if len(docs) >= 20 else 0
        dev, train = docs[:n_dev], docs[n_dev:]
        params = [p for p in self.module.parameters() if p.requires_grad]
        if self.mode == "head":
            opt = torch.optim.Adam(params, lr=self.lr)
            sched = None
        else:
            opt = torch.optim.AdamW(params, lr=self.lr, eps=1e-8, weight_decay=0.0)
            steps = self.epochs * math.ceil(len(train) / self.batch_size)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / steps))
        best, best_state, bad = math.inf, None, 0
        bar = tqdm(range(self.epochs), desc=f"teacher ({self.mode})", disable=not self.progress,
                   unit="epoch", dynamic_ncols=True)
        for epoch in bar:
            self.module.train()
            order = train[rng.permutation(len(train))]
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                x = torch.from_numpy(bow[batch].toarray().astype(np.float32)).to(self.device)
                logits = self._doc_logits(batch, offsets, source)
                loss = -(x * F.log_softmax(logits, dim=1)).sum(1).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.mode == "finetune":
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                if sched is not None:
                    sched.step()
                total += loss.item() * len(batch)
            record = {"epoch": epoch + 1, "train_loss": total / max(len(train), 1)}
            if len(dev):
                record["dev_perplexity"] = self._perplexity(dev, offsets, source, bow)
                if record["dev_perplexity"] < best:
                    best, bad = record["dev_perplexity"], 0
                    best_state = {k: v.detach().clone() for k, v in
                                  self.module.state_dict().items()}
                else:
                    bad += 1
            self.history.append(record)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"})
            if len(dev) and bad >= self.patience:
                break
        if best_state is not None:
            self.module.load_state_dict(best_state)
        self.module.eval()
        return self

    @torch.no_grad()
    def _perplexity(self, docs, offsets, source, bow) -> float:
        self.module.eval()
        per_word = []
        for start in range(0, len(docs), 256):
            batch = docs[start:start + 256]
            x = torch.from_numpy(bow[batch].toarray().astype(np.float32)).to(self.device)
            nll = -(x * F.log_softmax(self._doc_logits(batch, offsets, source), 1)).sum(1)
            per_word.append((nll / x.sum(1)).cpu())
        return float(torch.cat(per_word).mean().exp())

    # ------------------------------------------------------------------ inference
    def prepare(self, texts: list[str]) -> tuple[np.ndarray, object]:
        """(offsets, source) for `texts`: what `logits_range` reads (chunk embeddings are computed
        here, once, in head mode)."""
        chunk_texts, offsets = self._chunks(texts)
        source = self._chunk_embeddings(chunk_texts) if self.mode == "head" else chunk_texts
        return offsets, source

    @torch.no_grad()
    def logits_range(self, start: int, stop: int, offsets: np.ndarray, source) -> np.ndarray:
        """Teacher logits (float32) of documents start..stop-1 of a `prepare`d list."""
        if self.module is None:
            raise RuntimeError("the teacher is not trained")
        self.module.eval()
        out = [self._doc_logits(np.arange(a, min(a + 256, stop)), offsets, source).float().cpu()
               for a in range(start, stop, 256)]
        return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)

    def logits(self, texts: list[str]) -> np.ndarray:
        """Teacher logits (len(texts) x V, float32) for any documents."""
        offsets, source = self.prepare(texts)
        return self.logits_range(0, len(texts), offsets, source)

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.module.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor], vocab_size: int):
        dim = state["dense.weight"].shape[1] if self.mode == "head" else None
        self._build(vocab_size, dim)
        self.module.load_state_dict(state)
        self.module.eval()
        return self


def teacher_logits_view(teacher: BowTeacher, texts: list[str], bow: sp.csr_matrix,
                        corpus_hash: str, vocab_hash: str) -> np.ndarray:
    """Train `teacher` on (texts, bow) and cache its logits, or reuse both from the cache.

    The cache folder (keyed by the teacher's settings, the corpus and the vocabulary) holds the
    logits as a chunked view and the teacher's weights (`teacher.safetensors`); after this call
    `teacher.module` holds the trained weights either way.
    """
    key_parts = {**teacher.settings(), "corpus": corpus_hash, "vocabulary": vocab_hash}
    root = Path(teacher.cache_dir) if teacher.cache_dir else default_cache_dir()
    folder = root / "teacher" / cache_key(**key_parts)
    weights = folder / "teacher.safetensors"
    if weights.exists():
        teacher.load_state_dict(load_file(str(weights)), bow.shape[1])
    else:
        teacher.fit(texts, bow)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "teacher.safetensors.tmp"
        save_file(teacher.state_dict(), str(tmp))
        tmp.replace(weights)
    view = ChunkedView(folder / "logits", len(texts), chunk_size=2048, key_parts=key_parts)
    if view.is_complete():
        return view.load()["teacher_logits"]
    offsets, source = teacher.prepare(texts)
    arrays = view.compute(lambda a, b: {"teacher_logits": teacher.logits_range(a, b, offsets,
                                                                               source)},
                          desc="teacher logits", progress=teacher.progress)
    return arrays["teacher_logits"]
