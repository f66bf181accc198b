"""NeuroMax (Pham et al., Findings of EMNLP 2024): ECRTM plus two training-only regularisers.

- `InfoNCERegularizer`: mutual information between the sampled theta and a frozen pretrained
  encoder's document embedding (the `"embedding"` feature), through the InfoNCE bound with
  in-batch negatives. The embedding is read in training only: inference reads the bag of words.
- `GroupRegularizer`: after a warm-up, the topic embeddings are clustered into G groups
  (k-means on L2-normalised embeddings); a K x K target P (1 within a group, 0.2 between,
  symmetrised to marginals ~1/K) is compared with the entropic OT plan Q between topics (cost
  ||t_i - t_j||^2, marginals those of P) by the generalised KL(P || Q).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..params import Number, OneOf, non_negative_number, positive_integer, positive_number
from .optimal_transport import sinkhorn, squared_euclidean
from .presets import ECRTM


def info_nce(projected: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
    """(1/B) sum_i [-S_ii + log sum_j exp S_ij], S_ij = cos(projected_i, embeddings_j)
    (temperature 1, one direction: topic side -> PLM side; other documents are negatives)."""
    s = F.normalize(projected, dim=1) @ F.normalize(embeddings, dim=1).T
    return (torch.logsumexp(s, dim=1) - s.diagonal()).mean()


class InfoNCERegularizer(nn.Module):
    """weight * InfoNCE(Dropout(Linear(theta)), e): theta is the sampled softmax(z) also used for
    reconstruction; e the precomputed document embedding (identity on the PLM side)."""

    name = "infonce"

    def __init__(self, n_topics: int, embedding_dim: int, weight: float = 50.0,
                 dropout: float = 0.2, feature: str = "embedding"):
        super().__init__()
        if weight < 0:
            raise ValueError(f"nce_weight must be >= 0, got {weight}")
        self.weight, self.features = weight, (feature,)
        self.projection = nn.Sequential(nn.Linear(n_topics, embedding_dim), nn.Dropout(dropout))

    def forward(self, model, batch, out) -> torch.Tensor:
        return self.weight * info_nce(self.projection(out["theta"]), batch[self.features[0]])


def group_target_matrix(groups: torch.Tensor, between: float = 0.2, floor: float = 1e-4,
                        n_iter: int = 50) -> torch.Tensor:
    """NeuroMax's K x K target: 1 for topics in the same group, `between` otherwise, 0 on the
    diagonal, floored at `floor`; then `n_iter` times: rows scaled to sum 1/K, symmetrised.
    The result is symmetric with row and column sums ~1/K (total mass ~1)."""
    k = len(groups)
    same = groups[:, None] == groups[None, :]
    p = torch.where(same, 1.0, between).to(torch.float32)
    p.fill_diagonal_(0.0)
    p = p.clamp_min(floor)
    for _ in range(n_iter):
        p = p / (p.sum(1, keepdim=True) * k)
        p = (p + p.T) / 2
    return p


def kmeans_groups(embeddings: np.ndarray, n_groups: int, seed: int = 0) -> np.ndarray:
    """Group labels from k-means (scikit-learn) on L2-normalised rows."""
    from sklearn.cluster import KMeans
    x = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    return KMeans(n_groups, n_init=10, max_iter=1000, random_state=seed).fit_predict(x)


class GroupRegularizer(nn.Module):
    """weight * generalised KL(P || Q) between the group target P and the OT plan Q between
    topic embeddings (`decoder.topic_embeddings`). Groups are formed once, at the start of the
    epoch after `warmup` epochs, and applied from then on; before that the term is 0. The groups
    and P are buffers, so a saved model keeps them."""

    name = "group"
    features: tuple[str, ...] = ()

    def __init__(self, n_topics: int, n_groups: int = 20, weight: float = 1.0,
                 alpha: float = 5.0, warmup: int = 10, between: float = 0.2,
                 max_iter: int = 1000, seed: int = 0):
        super().__init__()
        if not 1 <= n_groups <= n_topics:
            raise ValueError(f"n_groups must be in [1, n_topics={n_topics}], got {n_groups}")
        self.n_groups, self.weight, self.alpha, self.warmup = n_groups, weight, alpha, warmup
        self.between, self.max_iter, self.seed = between, max_iter, seed
        self.register_buffer("groups", torch.full((n_topics,), -1, dtype=torch.long))
        self.register_buffer("target", torch.zeros(n_topics, n_topics))

    def attach(self, model):
        if not isinstance(getattr(model.decoder, "topic_embeddings", None), torch.Tensor):
            raise ValueError("the group regulariser needs a decoder with topic_embeddings "
                             f"(e.g. decoder='ecrtm'); got {type(model.decoder).__name__}")

    @property
    def active(self) -> bool:
        return bool((self.groups >= 0).all())

    def form_groups(self, topic_embeddings: torch.Tensor):
        labels = kmeans_groups(topic_embeddings.detach().cpu().numpy().astype(np.float64),
                               self.n_groups, self.seed)
        self.groups.copy_(torch.from_numpy(labels))
        self.target.copy_(group_target_matrix(self.groups, self.between))

    def on_epoch_start(self, epoch, model, features, rows):
        if epoch == self.warmup and not self.active:
            self.form_groups(model.decoder.topic_embeddings)

    def plan(self, topic_embeddings: torch.Tensor) -> torch.Tensor:
        """The OT plan between topics with the target's marginals (the reference adds 10 to the
        cost, which changes nothing: the scalings absorb it)."""
        p = self.target
        return sinkhorn(squared_euclidean(topic_embeddings, topic_embeddings), p.sum(1),
                            p.sum(0), alpha=self.alpha, max_iter=self.max_iter)

    def forward(self, model, batch, out) -> torch.Tensor:
        if not self.active:
            return out["theta"].new_zeros(())
        p = self.target
        q = self.plan(model.decoder.topic_embeddings).clamp_min(1e-6)
        return self.weight * (p * (p / q).log() - p + q).sum()


class NeuroMax(ECRTM):
    """NeuroMax (Pham et al. 2024): ECRTM + InfoNCE with a PLM embedding + group topic
    regularisation. The PLM embedding (the bundled sentence encoder, or `encoder`) is a training
    feature only: `transform` reads the bag of words and never loads the PLM.

    Defaults are the authors' documented run: K 50, G 20, lambda_ECR 40, lambda_GR 1 (alpha 5),
    lambda_NCE 50, dropout 0.2, Adam 2e-3 halved every 125 epochs, 500 epochs, batch 200,
    groups formed after a warm-up of 10 epochs. n_groups=None (default) keeps that ratio for
    fewer topics: G = 2K/5 (at least 1), at most 20 (so 20 at the authors' K = 50 and above;
    2 at K = 6).
    """

    MAX_DEFAULT_GROUPS = 20
    _parameter_constraints = {
        "n_groups": OneOf(None, positive_integer()), "gr_weight": non_negative_number(),
        "gr_alpha": positive_number(), "gr_warmup": Number(0, kind="integer"),
        "nce_weight": non_negative_number(),
    }

    def __init__(self, n_topics: int = 50, *, n_groups: int | None = None, gr_weight: float = 1.0,
                 gr_alpha: float = 5.0, gr_warmup: int = 10, nce_weight: float = 50.0,
                 ecr_weight: float = 40.0, epochs: int = 500, batch_size: int = 200,
                 lr: float = 2e-3, lr_schedule: str | None = "step:125:0.5",
                 dropout: float = 0.2, **kwargs):
        self.n_groups = n_groups
        self.gr_weight = gr_weight
        self.gr_alpha = gr_alpha
        self.gr_warmup = gr_warmup
        self.nce_weight = nce_weight
        super().__init__(n_topics, ecr_weight=ecr_weight, epochs=epochs, batch_size=batch_size,
                         lr=lr, lr_schedule=lr_schedule, dropout=dropout, **kwargs)

    def _n_groups(self) -> int:
        """The number of groups: n_groups, or the authors' 20 groups for 50 topics scaled to
        n_topics when it is None."""
        if self.n_groups is not None:
            return self.n_groups
        return max(1, min(self.MAX_DEFAULT_GROUPS, 2 * self.n_topics // 5))

    def _validate_params(self):
        super()._validate_params()
        if self._n_groups() > self.n_topics:
            raise ValueError(f"parameter n_groups must be at most n_topics ({self.n_topics}), "
                             f"got {self.n_groups}")

    def _extra_features(self) -> tuple[str, ...]:
        return (*super()._extra_features(), "embedding")

    def _build_regularizers(self, ctx) -> list:
        return [*super()._build_regularizers(ctx),
                InfoNCERegularizer(ctx.n_topics, ctx.feature_dims["embedding"], self.nce_weight,
                                   self.dropout),
                GroupRegularizer(ctx.n_topics, self._n_groups(), self.gr_weight, self.gr_alpha,
                                 self.gr_warmup, seed=self.seed)]

    def _group_regularizer(self) -> GroupRegularizer:
        return next(r for r in self.module_.regularizers if isinstance(r, GroupRegularizer))

    def _after_fit(self, ctx):
        super()._after_fit(ctx)
        reg = self._group_regularizer()
        self.groups_applied_ = reg.active
        if not reg.active:  # trained for no more than the warm-up: group the final topics
            reg.form_groups(self.module_.decoder.topic_embeddings)

    def get_topic_groups(self) -> list[list[int]]:
        """Topic ids by group (groups numbered as k-means found them; empty groups omitted)."""
        self._check_fitted()
        labels = self._group_regularizer().groups.cpu().numpy()
        return [np.flatnonzero(labels == g).tolist() for g in range(self._n_groups())
                if (labels == g).any()]

    def get_topic_info(self, top_n: int = 10):
        info = super().get_topic_info(top_n)
        info["group"] = self._group_regularizer().groups.cpu().numpy()
        return info
