"""Regularisers added to the backbone's loss.

Interface (see docs/architecture.md): an `nn.Module` with `name`, `features` (extra arrays read
in training only), `forward(model, batch, out) -> scalar`, optionally `attach(model)` (called
once when the backbone is built) and `on_epoch_start(epoch, model, features, rows)`.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .optimal_transport import sinkhorn, transport_cost
from .partition import nearest_clusters


class EmbeddingClusteringRegularizer(nn.Module):
    """ECR (Wu et al., ICML 2023): weight * <pi*, C>, where C (K x V) is the decoder's cost between
    topic and word embeddings and pi* the entropic optimal transport plan with uniform marginals
    (1/K per topic, 1/V per word). Each topic embedding is pushed to be the centre of its own
    equal-size cluster of word embeddings; the gradient reaches both embeddings through the
    unrolled Sinkhorn iterations, as in the reference.

    weight: lambda_ECR (reference 250 on 20NG; TopMost and the soft-label paper's baseline 100).
    alpha: inverse entropic regulariser (reference 20). Works with any decoder that has a
    `cost() -> K x V` method (EmbeddingDistanceDecoder).
    """

    name = "ecr"
    features: tuple[str, ...] = ()

    def __init__(self, weight: float = 100.0, alpha: float = 20.0, max_iter: int = 1000,
                 tol: float = 5e-3):
        super().__init__()
        if weight < 0:
            raise ValueError(f"ECR weight must be >= 0, got {weight}")
        self.weight, self.alpha, self.max_iter, self.tol = weight, alpha, max_iter, tol

    def attach(self, model):
        if not callable(getattr(model.decoder, "cost", None)):
            raise ValueError(f"ECR needs a decoder with topic and word embeddings and a cost() "
                             f"method (e.g. decoder='ecrtm'); got {type(model.decoder).__name__}")

    def plan(self, cost: torch.Tensor) -> torch.Tensor:
        return sinkhorn(cost, alpha=self.alpha, max_iter=self.max_iter, tol=self.tol)

    def forward(self, model, batch, out) -> torch.Tensor:
        cost = model.decoder.cost()
        return self.weight * transport_cost(self.plan(cost), cost)


class TransportCostRegularizer(nn.Module):
    """FASTopic's L_TW: weight * <pi, C>, where pi is the decoder's own topic-word transport plan
    (`decoder.plan(cost)`, e.g. `TransportPlanDecoder`, whose beta is that plan) and C its cost.
    Minimising it pulls each topic embedding towards the word embeddings it transports to; the
    reference weights it 1 (L = L_DSR + L_DT + L_TW)."""

    name = "tw"
    features: tuple[str, ...] = ()

    def __init__(self, weight: float = 1.0):
        super().__init__()
        if weight < 0:
            raise ValueError(f"tw_weight must be >= 0, got {weight}")
        self.weight = weight

    def attach(self, model):
        if not callable(getattr(model.decoder, "plan", None)):
            raise ValueError("the transport-cost regulariser needs a decoder with cost() and "
                             f"plan() (decoder='fastopic'); got {type(model.decoder).__name__}")

    def forward(self, model, batch, out) -> torch.Tensor:
        decoder = model.decoder
        last = getattr(decoder, "last_transport", None)   # this step's, set by its forward
        decoder.last_transport = None
        if last is None:
            cost = decoder.cost()
            last = (cost, decoder.plan(cost))
        cost, plan = last
        return self.weight * transport_cost(plan, cost)


class ClusterAssignmentRegularizer(nn.Module):
    """weight * relu(max_{k != c} mu_k - mu_c + margin) per document, summed over the batch:
    the topic of the document's k-means cluster c must lead every other topic in the posterior
    mean mu by `margin`. c comes from a `softtopic.models.partition.Partition` of the training
    documents' unit-normalised `feature` (fitted once): the nearest of K `centroids`, or with
    first-stage `cells` the nearest cell's cluster (`cell_cluster`, -1: the nearest centroid
    decides). The feature is the encoder's input, or by default that input smoothed over each
    document's nearest neighbours ("cluster_input", `softtopic.models.neighbourhood`), which
    k-means partitions closer to the labels.

    Why: a topic model's theta is a mixture fitted to reconstruct words, and its argmax (the
    document's dominant topic) is a worse partition of the documents than k-means on the very
    vectors the encoder reads (subject lines, K 50: 1.35 nats of information about the labels
    against 1.59; docs/soft-label-model.md, round 7). The term only asks that the cluster's
    topic lead; once it does by the margin the term is zero, so the rest of theta stays the
    mixture the target asks for (a cross-entropy to the cluster made theta one-hot and cost 20NG
    .045 P@5; this hinge does not). The decoder still learns each topic's words from the target.
    The partition is held in buffers saved with the model, so training on after loading
    (partial_fit) uses the same clusters; a model saved before the cells existed has none.
    """

    name = "cluster"

    def __init__(self, weight: float, feature: str, centroids: torch.Tensor, margin: float = 1.0,
                 cells: torch.Tensor | None = None, cell_cluster: torch.Tensor | None = None):
        super().__init__()
        if weight < 0:
            raise ValueError(f"cluster_weight must be >= 0, got {weight}")
        self.weight, self.feature, self.margin = float(weight), feature, float(margin)
        self.features = (feature,)
        self.register_buffer("centroids", centroids)
        if cells is None:
            cells, cell_cluster = centroids.new_zeros((0, centroids.shape[1])), None
        self.register_buffer("cells", cells)
        self.register_buffer("cell_cluster", torch.zeros(0, dtype=torch.long)
                             if cell_cluster is None else cell_cluster.long())

    def assignments(self, x: torch.Tensor) -> torch.Tensor:
        return nearest_clusters(x, self.centroids, self.cells, self.cell_cluster)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the number of cells is the fit's (fewer where the corpus was small); a model saved
        # before cells existed has none: its clusters are the centroids' Voronoi cells
        for name in ("cells", "cell_cluster"):
            saved = state_dict.setdefault(prefix + name, getattr(self, name)[:0])
            setattr(self, name, torch.empty_like(saved))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, model, batch, out) -> torch.Tensor:
        cluster = self.assignments(batch[self.feature])[:, None]
        mu = out["mu"]
        own = mu.gather(1, cluster)
        best_other = mu.scatter(1, cluster, float("-inf")).max(1, keepdim=True).values
        return self.weight * torch.relu(best_other - own + self.margin).sum()
