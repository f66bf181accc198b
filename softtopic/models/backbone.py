"""The one variational backbone every neural topic model here is built from.

    input features --encoder MLP--> (mu, logvar) --reparameterise--> z --softmax--> theta
    theta --decoder--> logits over the vocabulary --target--> reconstruction loss
    loss = reconstruction + KL(q(z|x) || logistic-normal prior) + regularisers

A model is this module with four choices: which features the encoder reads, which decoder turns
theta into word logits, which target the logits reconstruct (and with which loss), and which
regularisers are added. Presets (`softtopic.models.presets`) make those choices by name.

Defaults follow the CTM/OCTIS ProdLDA reference: softplus MLP with dropout 0.2, batch-normalised
mu and log-variance without affine parameters, a learnable prior initialised at the Laplace
approximation of a symmetric Dirichlet, dropout on theta while training, losses summed over the
batch.

Why the batch norm on mu matters for topic sizes: without affine parameters it standardises
each topic's posterior mean over the batch (mean 0, variance 1), so a topic holding a share p
of the documents lifts them to only about sqrt((1 - p) / p): large topics get small margins,
and the fit prefers topics of equal size. `mu_batch_norm="scale"` learns a scale per topic
after the standardisation (no shift), which lets topic sizes follow the data; "affine" also
learns a shift; "none" drops the batch norm on mu (docs/soft-label-model.md, round 6, has the
measurements: it helps on corpora of very unequal clusters and costs on others).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {"softplus": nn.Softplus, "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def laplace_dirichlet_prior(n_topics: int, alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of the logistic-normal Laplace approximation of Dirichlet(alpha)."""
    a = torch.full((n_topics,), float(alpha))
    mean = a.log() - a.log().mean()
    var = (1.0 / a) * (1 - 2.0 / n_topics) + (1.0 / a).sum() / n_topics ** 2
    return mean, var


def target_features(target) -> tuple[str, ...]:
    """The arrays a target reads: `target.features` when it has several, else `target.feature`."""
    features = getattr(target, "features", None)
    return tuple(features) if features else (target.feature,)


MU_BATCH_NORMS = ("fixed", "scale", "affine", "none")


class ScaledBatchNorm(nn.Module):
    """Batch norm without affine parameters, then a learned scale per feature (no shift)."""

    def __init__(self, n: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(n, affine=False)
        self.scale = nn.Parameter(torch.ones(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * self.scale


def mu_normalisation(kind: str, n_topics: int) -> nn.Module:
    """The layer after the posterior mean's linear map: one of MU_BATCH_NORMS."""
    if kind not in MU_BATCH_NORMS:
        raise ValueError(f"mu_batch_norm must be one of {MU_BATCH_NORMS}, got {kind!r}")
    if kind == "none":
        return nn.Identity()
    if kind == "scale":
        return ScaledBatchNorm(n_topics)
    return nn.BatchNorm1d(n_topics, affine=kind == "affine")


class Encoder(nn.Module):
    """MLP from the input features to the posterior's mean and log-variance. batch_norm: batch
    norm (no affine parameters) on the log-variance, and on mu unless mu_batch_norm says
    otherwise (None: "fixed" with batch_norm, else "none")."""

    def __init__(self, input_dim: int, n_topics: int, hidden_sizes: Sequence[int] = (200, 200),
                 activation: str = "softplus", dropout: float = 0.2, batch_norm: bool = True,
                 mu_batch_norm: str | None = None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        layers, width = [], input_dim
        for h in hidden_sizes:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            width = h
        self.mlp = nn.Sequential(*layers, nn.Dropout(dropout))
        self.mu = nn.Linear(width, n_topics)
        self.logvar = nn.Linear(width, n_topics)
        self.mu_bn = mu_normalisation(mu_batch_norm or ("fixed" if batch_norm else "none"),
                                      n_topics)
        self.logvar_bn = nn.BatchNorm1d(n_topics, affine=False) if batch_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.mlp(x)
        return self.mu_bn(self.mu(h)), self.logvar_bn(self.logvar(h))


class VariationalTopicModel(nn.Module):
    """Encoder + logistic-normal posterior + decoder, with a pluggable target and regularisers.

    input_features: names of the arrays concatenated (in order) as the encoder input.
    input_projections: {feature: (in_dim, out_dim)}: a linear layer applied to that feature
        before the concatenation (CombinedTM projects the sentence embedding to |V| dimensions,
        as CTM does); input_dim counts the projected width.
    decoder: module mapping theta (B x K) to logits (B x V); see `softtopic.models.decoders`.
    target: object with `.feature` (the array it reads) and `.loss(logits, target) -> (B,)`; a
        target that reads several arrays sets `.features` (a tuple) instead, and its loss gets
        them in that order: `.loss(logits, *arrays)` (e.g. distillation reads bow and a teacher).
    regularizers: modules with `.features` and `forward(model, batch, out) -> scalar`.
    prior_alpha: the prior is the Laplace approximation of Dirichlet(prior_alpha); None gives the
    standard normal N(0, I) (ETM). encoder_batch_norm: batch norm on mu and log-variance;
    mu_batch_norm: what follows mu's linear map instead (`mu_normalisation`; None: as
    encoder_batch_norm).
    """

    def __init__(self, input_features: Sequence[str], input_dim: int, n_topics: int,
                 decoder: nn.Module, target, regularizers: Sequence[nn.Module] = (),
                 hidden_sizes: Sequence[int] = (200, 200), activation: str = "softplus",
                 dropout: float = 0.2, theta_dropout: float = 0.2, prior_alpha: float | None = 1.0,
                 learn_prior: bool = True, reduction: str = "sum", encoder_batch_norm: bool = True,
                 input_projections: dict[str, tuple[int, int]] | None = None,
                 mu_batch_norm: str | None = None):
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        self.input_features = tuple(input_features)
        self.n_topics = n_topics
        self.projections = nn.ModuleDict({name: nn.Linear(*dims) for name, dims in
                                          (input_projections or {}).items()})
        self.encoder = Encoder(input_dim, n_topics, hidden_sizes, activation, dropout,
                               encoder_batch_norm, mu_batch_norm)
        self.decoder = decoder
        self.target = target
        self.regularizers = nn.ModuleList(regularizers)
        self.theta_dropout = nn.Dropout(theta_dropout)
        self.reduction = reduction
        if prior_alpha is None:  # standard normal N(0, I), as ETM
            mean, var = torch.zeros(n_topics), torch.ones(n_topics)
        else:
            mean, var = laplace_dirichlet_prior(n_topics, prior_alpha)
        if learn_prior:
            self.prior_mean, self.prior_var = nn.Parameter(mean), nn.Parameter(var)
        else:
            self.register_buffer("prior_mean", mean)
            self.register_buffer("prior_var", var)
        for reg in self.regularizers:
            if hasattr(reg, "attach"):
                reg.attach(self)

    # ------------------------------------------------------------------ forward pieces
    def features_needed(self, training: bool) -> set[str]:
        needed = set(self.input_features)
        if training:
            needed.update(target_features(self.target))
            for reg in self.regularizers:
                needed.update(reg.features)
        return needed

    def encode(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [self.projections[f](batch[f]) if f in self.projections else batch[f]
                 for f in self.input_features]
        return self.encoder(torch.cat(parts, dim=1))

    def prior_kl(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(N(mu, diag exp(logvar)) || N(prior_mean, diag prior_var)) per document."""
        var = logvar.exp()
        pv = self.prior_var
        return 0.5 * ((var / pv) + (mu - self.prior_mean) ** 2 / pv + pv.log() - logvar
                      ).sum(1) - 0.5 * self.n_topics

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        mu, logvar = self.encode(batch)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        theta = F.softmax(z, dim=1)
        logits = self.decoder(self.theta_dropout(theta))
        return {"mu": mu, "logvar": logvar, "z": z, "theta": theta, "logits": logits}

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """The training objective for one minibatch, and its parts for logging."""
        out = self(batch)
        reduce = torch.sum if self.reduction == "sum" else torch.mean
        recon = reduce(self.target.loss(out["logits"],
                                        *(batch[f] for f in target_features(self.target))))
        kl = reduce(self.prior_kl(out["mu"], out["logvar"]))
        total = recon + kl
        parts = {"recon": recon.item(), "kl": kl.item()}
        for reg in self.regularizers:
            value = reg(self, batch, out)
            total = total + value
            parts[reg.name] = float(value.detach())
        return total, parts

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def infer_theta(self, batch: dict[str, torch.Tensor], n_samples: int = 20,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Document-topic proportions in eval mode: the mean of `n_samples` posterior samples of
        softmax(z) (as CTM), or softmax(mu) when n_samples == 0 (the posterior mean's image)."""
        mu, logvar = self.encode(batch)
        if n_samples == 0:
            return F.softmax(mu, dim=1)
        std = (0.5 * logvar).exp()
        theta = torch.zeros_like(mu)
        for _ in range(n_samples):
            eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device="cpu")
            theta += F.softmax(mu + eps.to(mu.device) * std, dim=1)
        return theta / n_samples

    def topic_word(self) -> torch.Tensor:
        """K x V weights whose row order ranks each topic's words (the decoder's beta)."""
        return self.decoder.topic_word()

