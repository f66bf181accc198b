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
    beta = softmax over *topics* (dim 0) of -C / tau (the reference's behaviour: each column,
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
                 tau: float = 0.2, batch_norm: bool = True):
        super().__init__()
        if not tau > 0:
            raise ValueError(f"tau (beta temperature) must be positive, got {tau}")
        self.tau = tau
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
        return F.softmax(-self.cost() / self.tau, dim=0)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return self.bn(theta @ self.beta())

    def topic_word(self) -> torch.Tensor:
        return F.log_softmax(-self.cost().detach() / self.tau, dim=0)

    def topic_word_distribution(self) -> torch.Tensor:
        return F.softmax(self.topic_word(), dim=1)


DECODERS = {"prodlda": ProdLDADecoder, "etm": ETMDecoder, "ecrtm": EmbeddingDistanceDecoder}
