"""Compact soft labels: each document's top-K vocabulary logits instead of all |V|.

A dense LM view stores N x |V| float32 logits (10M documents x 2,000 words = 80 GB). With
`store_top_k=K` the view stores, per document,

- `topk_indices` (N x K, int16 when |V| <= 32,767, else int32): vocabulary columns, sorted by
  logit descending, ties in ascending column order;
- `topk_values` (N x K, float32): their raw logits (the same numbers the dense view holds);
- `topk_inexact` (N, uint8): 1 where exactness below is not guaranteed (see "Ties"),

and, per vocabulary, `word_groups` (|V|, int32): words whose scoring tokens are the same
(`lm_words.WordScoring.variant_index` rows equal) get the same group; they always have
bit-identical logits.

Exactness. The soft label with top_k (`targets.soft_label_distribution`) keeps every word whose
logit is >= the row's top_k-th largest (ties at the threshold are all kept) and takes
softmax(logit / tau) over them. `TopKLogits` rebuilds dense rows (per minibatch only) with the
stored logits, the same logit for every word of a stored word's group, and -inf elsewhere; for
any top_k <= K that row's top-k-masked soft label equals the dense one, value for value,
because every word with a logit >= the K-th largest is present:
- words above the K-th value are all among the K stored;
- words tied with the K-th value that are cut off by the K-slot width are restored from their
  group when they share the stored word's scoring tokens (the usual cause of ties: "comput"
  for computer and computing);
- the only other way to tie is two different tokens with float-equal logits. That is detected
  when the view is compacted (the dense row is known then) and flagged in `topk_inexact`;
  `report.json` counts the flagged documents and a fit warns about them.
With top_k None (all words) or top_k > K the dense soft label needs logits that were not kept,
so training refuses (see `check_top_k`).
"""
from __future__ import annotations

import numpy as np

TOPK_ARRAYS = ("topk_indices", "topk_values", "topk_inexact")


def index_dtype(n_words: int) -> np.dtype:
    """The smallest signed integer type that holds column indices 0 .. n_words - 1."""
    return np.dtype(np.int16 if n_words <= np.iinfo(np.int16).max + 1 else np.int32)


def word_groups(variant_index: np.ndarray) -> np.ndarray:
    """Group id per word: words with the same row of scoring token indices share a group (their
    logits are computed from the same tokens in the same order, so they are bit-identical)."""
    variant_index = np.asarray(variant_index).reshape(len(variant_index), -1)
    _, inverse = np.unique(variant_index, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int32)


def compact_logits(logits: np.ndarray, k: int, groups: np.ndarray | None = None
                   ) -> dict[str, np.ndarray]:
    """Top-k of each row of a dense (B, V) logit block: {"topk_indices", "topk_values",
    "topk_inexact"} (see the module docstring)."""
    logits = np.asarray(logits, dtype=np.float32)
    n, v = logits.shape
    if not 1 <= k < v:
        raise ValueError(f"store_top_k must be in [1, {v - 1}] for a vocabulary of {v} words, "
                         f"got {k}")
    # stable sort of -logit: descending values, ties in ascending column order
    order = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    values = np.take_along_axis(logits, order, axis=1)
    groups = np.arange(v, dtype=np.int32) if groups is None else np.asarray(groups)
    covered_groups = np.zeros((n, int(groups.max()) + 1), dtype=bool)
    covered_groups[np.arange(n)[:, None], groups[order]] = True
    covered = covered_groups[:, groups]                               # stored or a group mate
    tied_outside = (logits == values[:, -1:]) & ~covered
    return {"topk_indices": order.astype(index_dtype(v)), "topk_values": values,
            "topk_inexact": tied_outside.any(axis=1).astype(np.uint8)}


class TopKLogits:
    """A compact N x V logit array that training reads like a dense one: `rows` of it are dense
    float32 rows (stored logits, group mates of stored words, -inf elsewhere), built per
    minibatch; the N x V matrix is never made. `k` is the stored width."""

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, indices, values, n_words: int, groups=None, inexact=None):
        self.indices = indices
        self.values = values
        self.n_words = int(n_words)
        self.groups = None if groups is None else np.asarray(groups, dtype=np.int64)
        self.inexact = inexact
        if np.shape(indices) != np.shape(values) or len(np.shape(indices)) != 2:
            raise ValueError(f"topk_indices {np.shape(indices)} and topk_values "
                             f"{np.shape(values)} must be two arrays of the same N x K shape")
        if self.groups is not None and len(self.groups) != self.n_words:
            raise ValueError(f"word_groups has {len(self.groups)} entries for {n_words} words")
        self.k = int(np.shape(indices)[1])

    @classmethod
    def from_view(cls, result: dict, n_words: int) -> "TopKLogits":
        """From a LanguageModelView result (or a view folder's arrays) with store_top_k."""
        return cls(result["topk_indices"], result["topk_values"], n_words,
                   result.get("word_groups"), result.get("topk_inexact"))

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.indices), self.n_words)

    def __len__(self) -> int:
        return len(self.indices)

    def inexact_rows(self, rows=None) -> np.ndarray:
        """Rows (of `rows`, default all) flagged in topk_inexact."""
        if self.inexact is None:
            return np.zeros(0, dtype=np.int64)
        flags = np.asarray(self.inexact)
        rows = np.arange(len(flags)) if rows is None else np.asarray(rows)
        return rows[flags[rows] != 0]

    def __getitem__(self, rows) -> np.ndarray:
        idx = np.asarray(self.indices[rows], dtype=np.int64)
        val = np.asarray(self.values[rows], dtype=np.float32)
        if idx.ndim == 1:   # one row
            return self._dense(idx[None], val[None])[0]
        return self._dense(idx, val)

    def _dense(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        b = len(idx)
        if self.groups is None:
            out = np.full((b, self.n_words), -np.inf, dtype=np.float32)
            np.put_along_axis(out, idx, val, axis=1)
            return out
        # one slot per group (a group's stored words carry the same logit), then spread
        by_group = np.full((b, int(self.groups.max()) + 1), -np.inf, dtype=np.float32)
        np.put_along_axis(by_group, self.groups[idx], val, axis=1)
        return by_group[:, self.groups]


def check_top_k(top_k: int | None, stored: int) -> None:
    """Refuse a top_k the compact soft labels cannot give exactly."""
    if top_k is None or top_k > stored:
        raise ValueError(
            f"the soft labels were stored compactly (store_top_k={stored}: each document's top "
            f"{stored} logits), which gives the soft label exactly only for top_k <= {stored}; "
            f"got top_k={top_k}. Set top_k to at most {stored}, or use a larger store_top_k or "
            "the dense view (store_top_k=None)")


def bytes_per_document(n_words: int, hidden_dim: int | None, k: int | None = None) -> dict:
    """Stored bytes per document of the soft-label arrays (dense: |V| x float32; top-K: K x
    (float32 + index) + 1 flag byte) and of the float16 hidden state; also the dense figure for
    comparison."""
    hidden = 2 * hidden_dim if hidden_dim else 0
    dense = 4 * n_words
    out = {"dense_soft_label": dense, "hidden_float16": hidden}
    if k is None:
        out.update(soft_label=dense, total=dense + hidden)
    else:
        index = index_dtype(n_words).itemsize
        soft = k * (4 + index) + 1
        out.update(soft_label=soft, index_bytes=index, total=soft + hidden,
                   soft_label_ratio=soft / dense)
    return out
