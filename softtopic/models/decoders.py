"""Decoders: theta (B x K) -> logits over the vocabulary (B x V), softmax of which is p(w | theta).

Every decoder returns logits, not probabilities, so that any target (multinomial NLL, soft-label
KL at a temperature, distillation) can apply its own softmax. A mixture decoder (ETM) returns
log-probabilities, which are valid logits. `topic_word()` gives the K x V weights used to rank
each topic's words, `topic_word_distribution()` rows that sum to one.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .optimal_transport import sinkhorn, squared_euclidean


class ProdLDADecoder(nn.Module):
    """Product of experts: logits = BN(theta @ beta), beta unnormalised (Srivastava & Sutton).

    Batch norm without affine parameters, as CTM/OCTIS ("batchnorm on beta"); topics are read
    from the raw beta rows, as CTM does.
    """

    def __init__(self, n_topics: int, vocab_size: int, batch_norm: bool = True):
        super().__init__()
        self.beta = nn.Parameter(torch.empty(n_topics, vocab_size))
        nn.init.xavier_uniform_(self.beta)
        self.bn = nn.BatchNorm1d(vocab_size, affine=False) if batch_norm else nn.Identity()

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return self.bn(theta @ self.beta)

    def topic_word(self) -> torch.Tensor:
        return self.beta.detach()

    def topic_word_distribution(self) -> torch.Tensor:
        return F.softmax(self.beta.detach(), dim=1)


def _word_embedding_table(vocab_size: int, word_embeddings, embedding_dim: int, trainable,
                          init_std: float) -> tuple[torch.Tensor, bool]:
    """The V x D word-embedding matrix and whether it is trained. Without given embeddings the
    table is random (N(0, init_std^2)) and trained unless `trainable` is False."""
    if word_embeddings is None:
        table = torch.randn(vocab_size, embedding_dim) * init_std
        return table, True if trainable is None else bool(trainable)
    table = torch.as_tensor(word_embeddings, dtype=torch.float32).clone()
    if table.shape[0] != vocab_size:
        raise ValueError(f"word_embeddings has {table.shape[0]} rows; the vocabulary has "
                         f"{vocab_size} words")
    return table, False if trainable is None else bool(trainable)


class _EmbeddingDecoder(nn.Module):
    """Word embeddings rho (V x D, a parameter when trained, else a buffer: either way saved) and
    topic embeddings (K x D, always trained)."""

    def _set_embeddings(self, word_table: torch.Tensor, trainable: bool, topic_table):
        self.train_word_embeddings = trainable
        if trainable:
            self.word_embeddings = nn.Parameter(word_table)
        else:
            self.register_buffer("word_embeddings", word_table)
        self.topic_embeddings = nn.Parameter(topic_table)


class ETMDecoder(_EmbeddingDecoder):
    """ETM (Dieng, Ruiz & Blei 2020): beta_k = softmax_V(rho @ alpha_k) and a mixture,
    p(w | theta) = theta @ beta; logits are log(theta @ beta), no batch norm.

    word_embeddings: V x D array (e.g. pre-fitted vectors), frozen unless
    train_word_embeddings=True; None gives random trainable embeddings of `embedding_dim`
    (the original's train_embeddings=1 mode). Topic embeddings are initialised as the original's
    nn.Linear(D, K) weights (uniform in +-1/sqrt(D)).
    """

    def __init__(self, n_topics: int, vocab_size: int, word_embeddings=None,
                 embedding_dim: int = 300, train_word_embeddings: bool | None = None):
        super().__init__()
        table, trainable = _word_embedding_table(vocab_size, word_embeddings, embedding_dim,
                                                 train_word_embeddings, init_std=1.0)
        bound = 1.0 / table.shape[1] ** 0.5
        self._set_embeddings(table, trainable,
                             torch.empty(n_topics, table.shape[1]).uniform_(-bound, bound))

    def log_beta(self) -> torch.Tensor:
        return F.log_softmax(self.topic_embeddings @ self.word_embeddings.T, dim=1)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        mixture = theta @ self.log_beta().exp()
        return mixture.clamp_min(torch.finfo(mixture.dtype).tiny).log()

    def topic_word(self) -> torch.Tensor:
        """log beta: ranks words as beta does, and its row softmax is beta itself."""
        return self.log_beta().detach()

    def topic_word_distribution(self) -> torch.Tensor:
        return self.log_beta().detach().exp()


class EmbeddingDistanceDecoder(_EmbeddingDecoder):
    """ECRTM (Wu et al. 2023): cost C_kv = ||t_k - w_v||^2 between topic and word embeddings,
    beta = softmax over *topics* (dim 0) of -C / beta_temperature (the reference's tau_beta, 0.2;
    named so it is never confused with the soft-label temperature tau). As the reference, each column,
    not each row, sums to one), logits = BN_V(theta @ beta) with the batch norm's scale frozen at
    1 and its shift learned (as the reference).

    Word embeddings are L2-normalised once at init (zero rows, e.g. words missing from a
    pretrained file, stay zero) and trained by default; topic embeddings are truncated-normal
    (std 0.1), L2-normalised at init, trained. `cost()` is what the ECR regulariser transports.

    Outputs: `topic_word()` is log beta (the topic-normalised beta; row order is the reference's
    top-word ranking) and `topic_word_distribution()` its rows renormalised over words.
    """

    def __init__(self, n_topics: int, vocab_size: int, word_embeddings=None,
                 embedding_dim: int = 200, train_word_embeddings: bool | None = True,
                 beta_temperature: float = 0.2, batch_norm: bool = True):
        super().__init__()
        if not beta_temperature > 0:
            raise ValueError(f"beta_temperature must be positive, got {beta_temperature}")
        self.beta_temperature = beta_temperature
        table, trainable = _word_embedding_table(vocab_size, word_embeddings, embedding_dim,
                                                 train_word_embeddings, init_std=0.1)
        topics = nn.init.trunc_normal_(torch.empty(n_topics, table.shape[1]), std=0.1)
        self._set_embeddings(F.normalize(table, dim=1), trainable, F.normalize(topics, dim=1))
        if batch_norm:
            self.bn = nn.BatchNorm1d(vocab_size, affine=True)
            self.bn.weight.requires_grad_(False)
        else:
            self.bn = nn.Identity()

    def cost(self) -> torch.Tensor:
        """K x V squared Euclidean distances between topic and word embeddings."""
        t, w = self.topic_embeddings, self.word_embeddings
        return (t ** 2).sum(1, keepdim=True) + (w ** 2).sum(1)[None, :] - 2 * t @ w.T

    def beta(self) -> torch.Tensor:
        return F.softmax(-self.cost() / self.beta_temperature, dim=0)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return self.bn(theta @ self.beta())

    def topic_word(self) -> torch.Tensor:
        return F.log_softmax(-self.cost().detach() / self.beta_temperature, dim=0)

    def topic_word_distribution(self) -> torch.Tensor:
        return F.softmax(self.topic_word(), dim=1)


class TransportPlanDecoder(_EmbeddingDecoder):
    """FASTopic's topic-word side (Wu et al. 2024): beta is the entropic optimal-transport plan
    between topic embeddings t_k and word embeddings w_v ("TW-ETP"), normalised per topic, and
    p(w | theta) = theta @ beta is a mixture, so logits are log(theta @ beta) (as ETM).

    Cost C_kv = ||t_k - w_v||^2; Sinkhorn (`sinkhorn`, stable at any cost spread) with
    marginals 1/K per topic and softmax(word_weights) per word, inverse regulariser `alpha` (FASTopic's TW alpha,
    2) and at most `max_iter` iterations (5000, as FASTopic); beta = K * plan, whose rows sum
    to one (divided by the row sums, so rounding never leaves them off one). Initialised as
    the reference: topic and word embeddings truncated-normal (std 1), L2-normalised once,
    trained; word-weight logits at 1/V. `cost()` and `plan()` are what `TransportCostRegularizer`
    adds to the loss (FASTopic's L_TW = <plan, C>).

    The document side of FASTopic (its DT-ETP between document and topic embeddings, which is
    its theta) is not here: in softtopic theta comes from the backbone's encoder.
    """

    def __init__(self, n_topics: int, vocab_size: int, embedding_dim: int = 384,
                 alpha: float = 2.0, max_iter: int = 5000):
        super().__init__()
        if not alpha > 0:
            raise ValueError(f"tw_alpha must be positive, got {alpha}")
        self.alpha, self.max_iter = alpha, max_iter
        words = nn.init.trunc_normal_(torch.empty(vocab_size, embedding_dim))
        topics = nn.init.trunc_normal_(torch.empty(n_topics, embedding_dim))
        self._set_embeddings(F.normalize(words, dim=1), True, F.normalize(topics, dim=1))
        self.word_weights = nn.Parameter(torch.full((vocab_size,), 1.0 / vocab_size))
        self.last_transport = None

    def cost(self) -> torch.Tensor:
        return squared_euclidean(self.topic_embeddings, self.word_embeddings)

    def plan(self, cost: torch.Tensor | None = None) -> torch.Tensor:
        cost = self.cost() if cost is None else cost
        return sinkhorn(cost, b=F.softmax(self.word_weights, dim=0), alpha=self.alpha,
                            max_iter=self.max_iter)

    def beta(self, plan: torch.Tensor | None = None) -> torch.Tensor:
        plan = self.plan() if plan is None else plan
        return plan / plan.sum(1, keepdim=True)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        cost = self.cost()
        plan = self.plan(cost)
        # kept for this step's transport-cost regulariser, so Sinkhorn runs once per step
        self.last_transport = (cost, plan)
        mixture = theta @ self.beta(plan)
        return mixture.clamp_min(torch.finfo(mixture.dtype).tiny).log()

    @torch.no_grad()
    def topic_word(self) -> torch.Tensor:
        """log beta (rows of beta sum to one, so its row softmax is beta itself)."""
        return self.beta().clamp_min(1e-30).log()

    @torch.no_grad()
    def topic_word_distribution(self) -> torch.Tensor:
        return self.beta()


DECODERS = {"prodlda": ProdLDADecoder, "etm": ETMDecoder, "ecrtm": EmbeddingDistanceDecoder,
            "fastopic": TransportPlanDecoder}
