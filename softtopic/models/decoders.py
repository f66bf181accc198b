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


DECODERS = {"prodlda": ProdLDADecoder}
