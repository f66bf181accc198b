"""Reconstruction targets: what the decoder's logits are trained to reproduce, and the loss.

A target names the feature array it reads (`feature`) and returns one loss per document.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F


class BowReconstruction:
    """Multinomial negative log-likelihood of the document's word counts (ProdLDA, CTM)."""

    feature = "bow"

    def loss(self, logits: torch.Tensor, bow: torch.Tensor) -> torch.Tensor:
        return -(bow * F.log_softmax(logits, dim=1)).sum(1)

    def describe(self) -> dict:
        return {"target": "bow", "loss": "multinomial-nll"}


def soft_label_distribution(raw_logits: torch.Tensor, tau: float, top_k: int | None = None
                            ) -> torch.Tensor:
    """softmax(logits / tau) over the vocabulary, optionally restricted to each row's top_k:
    the words whose raw logit is >= the row's top_k-th largest (ties at that value are all
    kept). The mask is taken on the raw logits, so the kept words do not depend on tau."""
    if top_k is not None and top_k < raw_logits.shape[1]:
        kth = raw_logits.topk(top_k, dim=1).values[:, -1:]
        raw_logits = raw_logits.masked_fill(raw_logits < kth, float("-inf"))
    return F.softmax(raw_logits / tau, dim=1)


CENTRE_NEEDS_DENSE = (
    "hub_correction='centre' subtracts each word's mean logit over the corpus, which needs every "
    "word's logit of every document; compact soft labels (store_top_k) keep only each "
    "document's top K, so the mean (and the top-k after centring) cannot be exact. Use "
    "hub_correction='none' with store_top_k, or store_top_k=None (the dense view)")


PRECOMPUTE_BLOCK_VALUES = 1 << 22   # 16 MB of float32 teacher logits per block


class SoftLabelTarget:
    """Reconstruct a teacher's soft label: weight * D(target || student), per document.

    `feature` holds raw restricted logits (the LM view's l_V, or another teacher's); the target is
    softmax(l_V / tau). divergence: "kl" = KL(target || student), the authors' code and the usual
    distillation direction (default); "reverse-kl" = KL(student || target), the direction the
    paper's equation is written in; "ce" = cross-entropy (the paper's "NLL" ablation).

    bow_mix = a in [0, 1] mixes the document's own words into the target, BAT-style:
    (1 - a) softmax(l_V / tau) + a bow_d / |bow_d|. A document with no vocabulary word keeps
    the pure soft label. The target then also reads `bow_feature` ("bow"; "bow_neighbours" for
    the neighbourhood bag of words, `softtopic.models.neighbourhood`, whose rows already sum
    to 1). It works for any teacher (LM or encoder): it only changes the target.

    word_offset (V,): subtracted from every document's raw logits before the softmax. The
    hubness correction ("centre") passes each word's mean logit over the training corpus, so a
    word that the teacher scores high for almost every document (a "hub") no longer dominates
    every soft label; what is left is how much more a document calls for a word than the
    corpus does.

    stored_top_k: set when the feature holds compact soft labels (an LM view with
    store_top_k=K, read as `softtopic.views.topk.TopKLogits`: each minibatch's rows are dense
    with -inf outside the stored top K). The target is then exact for top_k <= K and refused
    otherwise; word_offset is refused (centring needs every word's logit of every document).
    bow_mix works unchanged: it only mixes the exact top-k soft label with the bag of words.
    """

    DIVERGENCES = ("kl", "reverse-kl", "ce")

    def __init__(self, feature: str = "lm_logits", tau: float = 3.0, weight: float = 1e3,
                 divergence: str = "kl", top_k: int | None = None, bow_mix: float = 0.0,
                 word_offset: torch.Tensor | None = None, stored_top_k: int | None = None,
                 bow_feature: str = "bow"):
        if divergence not in self.DIVERGENCES:
            raise ValueError(f"divergence must be one of {self.DIVERGENCES}, got {divergence!r}")
        if not tau > 0:
            raise ValueError(f"tau must be positive, got {tau}")
        if not 0 <= bow_mix <= 1:
            raise ValueError(f"bow_mix must be in [0, 1], got {bow_mix}")
        if divergence == "reverse-kl" and top_k is not None:
            raise ValueError("reverse-kl is infinite where a top_k mask zeroes the target; "
                             "use divergence='kl' or 'ce' with top_k")
        if stored_top_k is not None:
            from ..views.topk import check_top_k
            check_top_k(top_k, stored_top_k)
            if word_offset is not None:
                raise ValueError(CENTRE_NEEDS_DENSE)
        self.stored_top_k = stored_top_k
        self.feature, self.tau, self.weight = feature, tau, weight
        self.divergence, self.top_k, self.bow_mix = divergence, top_k, bow_mix
        self.bow_feature = bow_feature
        self.features = (feature, bow_feature) if bow_mix > 0 else None
        self.word_offset = word_offset

    def distribution(self, raw_target_logits: torch.Tensor, bow: torch.Tensor | None = None
                     ) -> torch.Tensor:
        """The target distribution of each document (rows sum to 1)."""
        raw_target_logits = self._corrected(raw_target_logits)
        target = soft_label_distribution(raw_target_logits, self.tau, self.top_k)
        if self.bow_mix > 0:
            length = bow.sum(1, keepdim=True)
            own = bow / length.clamp_min(1e-12)
            mixed = (1 - self.bow_mix) * target + self.bow_mix * own
            target = torch.where(length > 0, mixed, target)
        return target

    def loss(self, logits: torch.Tensor, raw_target_logits: torch.Tensor,
             bow: torch.Tensor | None = None) -> torch.Tensor:
        target = self.distribution(raw_target_logits, bow)
        log_student = F.log_softmax(logits, dim=1)
        if self.divergence == "ce":
            d = -(target * log_student).sum(1)
        elif self.divergence == "kl":
            d = (target * (target.clamp_min(1e-30).log() - log_student)).sum(1)
        else:
            log_target = (F.log_softmax(self._corrected(raw_target_logits) / self.tau, dim=1)
                          if self.bow_mix == 0 else target.clamp_min(1e-30).log())
            d = (log_student.exp() * (log_student - log_target)).sum(1)
        return self.weight * d

    def _corrected(self, raw: torch.Tensor) -> torch.Tensor:
        if self.word_offset is None:
            return raw
        return raw - self.word_offset.to(device=raw.device, dtype=raw.dtype)

    def precompute(self, features: dict, rows: np.ndarray, new_array) -> dict:
        """Every training document's target, computed once: it depends on the teacher's logits
        and the (neighbourhood) words only, never on the student, so training reads it
        (`PrecomputedSoftLabel`) instead of redoing the softmax, the mix and log(target) at each
        of its ~100 x N / batch_size steps (warm training on the 18,846 subject lines: 119 s
        before, 55 s after; docs/soft-label-model.md, "Fit time").

        Returns {"soft_label_target": N x V float32, "soft_label_neg_entropy": N x 1, the sum of
        t log t of each row}; rows outside `rows` are zero. The target is dense, from
        `new_array(name, shape)` (in memory, or a memory map in a streamed corpus's work
        folder: N x V x 4 bytes), or CSR when top_k keeps at most top_k + mixed words a row.
        The teacher's rows are read PRECOMPUTE_BLOCK_VALUES logits at a time (compact soft labels
        are densified one block at a time, never the corpus)."""
        from ..training import make_batch
        rows = np.asarray(rows)
        n_documents, n_words = features[self.feature].shape
        names = self.features or (self.feature,)
        neg_entropy = np.zeros((n_documents, 1), dtype=np.float32)
        dense = None if self.top_k is not None else new_array("soft_label_target",
                                                              (n_documents, n_words))
        if dense is not None:
            dense[np.setdiff1d(np.arange(n_documents), rows)] = 0
        blocks, block = [], max(1, PRECOMPUTE_BLOCK_VALUES // n_words)
        for lo in range(0, len(rows), block):
            part = rows[lo:lo + block]
            batch = make_batch(features, names, part, torch.device("cpu"))
            target = self.distribution(batch[self.feature], batch.get(self.bow_feature))
            neg_entropy[part, 0] = (target * target.clamp_min(1e-30).log()).sum(1).numpy()
            if dense is None:
                blocks.append(sp.csr_matrix(target.numpy()))
            else:
                dense[part] = target.numpy()
        if dense is None:
            place = sp.csr_matrix((np.ones(len(rows), dtype=np.float32),
                                   (rows, np.arange(len(rows)))), shape=(n_documents, len(rows)))
            dense = sp.csr_matrix(place @ sp.vstack(blocks, format="csr"), dtype=np.float32)
        return {"soft_label_target": dense, "soft_label_neg_entropy": neg_entropy}

    def describe(self) -> dict:
        return {"target": self.feature, "loss": self.divergence, "tau": self.tau,
                "weight": self.weight, "top_k": self.top_k, "bow_mix": self.bow_mix,
                "mixed_words": self.bow_feature if self.bow_mix > 0 else None,
                "word_offset": None if self.word_offset is None else "per-word corpus mean",
                "stored_top_k": self.stored_top_k}


class PrecomputedSoftLabel:
    """A SoftLabelTarget's loss on the targets it precomputed (`SoftLabelTarget.precompute`):
    what the model trains with. Same divergence and weight; KL(t || s) is computed as
    sum t log t (precomputed) - sum t log s, the cross-entropy as the second term alone, and
    the reverse KL from log(t) clamped at 1e-30 (the per-batch SoftLabelTarget takes
    log_softmax of the logits there: equal wherever t > 1e-30)."""

    features = ("soft_label_target", "soft_label_neg_entropy")

    def __init__(self, definition: SoftLabelTarget):
        self.definition = definition

    def loss(self, logits: torch.Tensor, target: torch.Tensor, neg_entropy: torch.Tensor
             ) -> torch.Tensor:
        log_student = F.log_softmax(logits, dim=1)
        divergence = self.definition.divergence
        if divergence == "reverse-kl":
            d = (log_student.exp() * (log_student - target.clamp_min(1e-30).log())).sum(1)
        else:
            d = -(target * log_student).sum(1)
            if divergence == "kl":
                d = d + neg_entropy[:, 0]
        return self.definition.weight * d

    def describe(self) -> dict:
        return {**self.definition.describe(), "precomputed": True}


def word_means(logits, rows, block: int = 4096) -> torch.Tensor:
    """Each column's mean over `rows` of a (possibly memory-mapped float16) N x V array."""
    if hasattr(logits, "k") and hasattr(logits, "indices"):   # compact soft labels (TopKLogits)
        raise ValueError(CENTRE_NEEDS_DENSE)
    rows = np.asarray(rows)
    total = np.zeros(logits.shape[1], dtype=np.float64)
    for lo in range(0, len(rows), block):
        total += np.asarray(logits[rows[lo:lo + block]], dtype=np.float64).sum(axis=0)
    return torch.from_numpy(total / max(len(rows), 1)).float()


def clip_to_top(logits: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Set every logit of row d below its keep[d]-th largest to -inf (rows with keep >= V are
    left as they are). Ties at the threshold are kept."""
    n_words = logits.shape[1]
    keep = keep.long().clamp(1, n_words)
    threshold = logits.sort(dim=1, descending=True).values.gather(1, (keep - 1).unsqueeze(1))
    return logits.masked_fill(logits < threshold, float("-inf"))


def distilled_counts(teacher_logits: torch.Tensor, bow: torch.Tensor, temperature: float = 1.0,
                     clip: float | None = 10.0) -> torch.Tensor:
    """BAT's pseudo-document: N_d * softmax(z_d / T), z_d clipped to its top c * u_d words
    (u_d = distinct vocabulary words in document d; c = `clip`, None: no clipping)."""
    z = teacher_logits
    if clip is not None:
        distinct = (bow > 0).sum(1).float()
        z = clip_to_top(z, torch.ceil(clip * distinct).clamp_min(1))
    return bow.sum(1, keepdim=True) * F.softmax(z / temperature, dim=1)


class DistillationTarget:
    """BAT's reconstruction target (Hoyle, Goel and Resnik 2020): knowledge distillation from a
    teacher's logits over the vocabulary mixed with the document's own counts,

        weight * T^2 * CE(N_d softmax(clip(z_d) / T), softmax(logits / T))
        + (1 - weight) * CE(bow_d, softmax(logits))

    per document (CE(x, p) = -sum_v x_v log p_v). T^2 is Hinton's gradient-scale factor.
    Defaults are the authors' README run: weight 0.5, T 1, clip 10.
    """

    def __init__(self, weight: float = 0.5, temperature: float = 1.0, clip: float | None = 10.0,
                 bow_feature: str = "bow", teacher_feature: str = "teacher_logits"):
        if not 0 <= weight <= 1:
            raise ValueError(f"kd_weight must be in [0, 1], got {weight}")
        if not temperature > 0:
            raise ValueError(f"kd_temperature must be positive, got {temperature}")
        if clip is not None and not clip > 0:
            raise ValueError(f"kd_clip must be positive or None, got {clip}")
        self.weight, self.temperature, self.clip = weight, temperature, clip
        self.features = (bow_feature, teacher_feature)

    def loss(self, logits: torch.Tensor, bow: torch.Tensor, teacher_logits: torch.Tensor
             ) -> torch.Tensor:
        t = self.temperature
        pseudo = distilled_counts(teacher_logits, bow, t, self.clip)
        kd = -(pseudo * F.log_softmax(logits / t, dim=1)).sum(1)
        nll = -(bow * F.log_softmax(logits, dim=1)).sum(1)
        return self.weight * t * t * kd + (1 - self.weight) * nll

    def describe(self) -> dict:
        return {"target": "+".join(self.features), "loss": "distillation-ce",
                "weight": self.weight, "temperature": self.temperature, "clip": self.clip}
