"""Word scoring: which language-model tokens give each topic-vocabulary word its logit.

The topic vocabulary holds whole words; the LM predicts tokens. Two policies:

- "first-token" (default, as the authors' code): the logit of the first token of " " + word,
  the way the word would start after "Topic:". When that first token is a bare space piece
  (SentencePiece's lone "▁", or byte-level BPE's lone "Ġ" for a word it cannot merge with its
  space), the next token is used instead: the space piece is the same for every such word and
  would give them all one logit.
- "variants": the word's logit is the log-sum-exp of the first-token logits of its spellings
  " word", "word", " Word" and "Word" (duplicate tokens counted once), so a label the LM would
  capitalise or write without a space still counts.

Either way several words can share a token (for example "comput" for "computer" and
"computing"); they then get the same logit. The report counts such collisions and the words
that the tokenizer splits into several tokens, whose logit only reflects their beginning.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch

SCORING_POLICIES = ("first-token", "variants")
_SPACE_MARKS = "▁Ġ \u2581"


def _is_space_piece(token: str | None) -> bool:
    """A token that is only a word-boundary marker (SentencePiece "▁", byte-level "Ġ")."""
    return bool(token) and token.strip(_SPACE_MARKS) == ""


@dataclass
class WordScoring:
    """Token ids behind each vocabulary word, and how to turn token logits into word logits.

    `token_ids` are the distinct LM token ids needed (the rows of the output head to compute);
    `variant_index` (V x M) points into `token_ids`, -1 where a word has fewer than M spellings.
    """

    policy: str
    words: list[str]
    word_tokens: list[list[int]]        # per word, the LM token ids combined into its logit
    token_ids: np.ndarray
    variant_index: np.ndarray
    report: dict = field(default_factory=dict)

    def word_logits(self, token_logits: torch.Tensor) -> torch.Tensor:
        """(B, len(token_ids)) logits of the needed tokens -> (B, V) word logits."""
        index = torch.as_tensor(self.variant_index, device=token_logits.device)
        if index.shape[1] == 1:
            return token_logits[:, index[:, 0]]
        gathered = token_logits[:, index.clamp(min=0)]                 # (B, V, M)
        gathered = gathered.masked_fill(index < 0, float("-inf"))
        return torch.logsumexp(gathered, dim=-1)


def _first_token(tokenizer, text: str) -> tuple[int | None, int, bool]:
    """(first meaningful token id, count of meaningful tokens, whether a space piece was skipped)"""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    skipped = 0
    while skipped < len(ids) and _is_space_piece(tokens[skipped]):
        skipped += 1
    rest = ids[skipped:]
    return (rest[0] if rest else None), len(rest), skipped > 0


def _spellings(word: str, policy: str) -> list[str]:
    if policy == "first-token":
        return [" " + word]
    cap = word[:1].upper() + word[1:]
    return list(dict.fromkeys([" " + word, word, " " + cap, cap]))


def word_token_ids(tokenizer, words: list[str], scoring: str = "first-token") -> WordScoring:
    """Map vocabulary words to LM token ids under a scoring policy, with a report.

    Raises ValueError naming the words that tokenise to nothing (empty or whitespace words).
    """
    if scoring not in SCORING_POLICIES:
        raise ValueError(f"scoring must be one of {SCORING_POLICIES}, got {scoring!r}")
    words = list(words)
    if not words:
        raise ValueError("the vocabulary is empty")
    empty = [w for w in words if not isinstance(w, str) or not w.strip()]
    if empty:
        raise ValueError(f"vocabulary words that are empty or only whitespace: {empty[:10]!r}")

    word_tokens, primary, multi_token, space_skipped, nothing = [], [], [], [], []
    for w in words:
        ids = []
        for k, spelling in enumerate(_spellings(w, scoring)):
            tid, n, skipped = _first_token(tokenizer, spelling)
            if k == 0:  # " " + word: the primary spelling the report describes
                primary.append(tid)
                if n > 1:
                    multi_token.append(w)
                if skipped:
                    space_skipped.append(w)
            if tid is not None and tid not in ids:
                ids.append(tid)
        if primary[-1] is None:
            nothing.append(w)
        word_tokens.append(ids)
    if nothing:
        raise ValueError(f"{len(nothing)} vocabulary words tokenise to nothing but space pieces "
                         f"with this tokenizer: {nothing[:10]!r}")

    token_ids = np.array(sorted({t for ids in word_tokens for t in ids}), dtype=np.int64)
    position = {t: i for i, t in enumerate(token_ids.tolist())}
    width = max(len(ids) for ids in word_tokens)
    variant_index = np.full((len(words), width), -1, dtype=np.int64)
    for i, ids in enumerate(word_tokens):
        variant_index[i, :len(ids)] = [position[t] for t in ids]

    report = _report(tokenizer, words, word_tokens, primary, multi_token, space_skipped,
                     scoring, len(token_ids))
    return WordScoring(scoring, words, word_tokens, token_ids, variant_index, report)


def _report(tokenizer, words, word_tokens, primary, multi_token, space_skipped, scoring,
            n_rows) -> dict:
    """Collisions: words whose logit is not their own because another word shares its tokens."""
    groups = defaultdict(list)
    for w, ids in zip(words, word_tokens):
        groups[tuple(sorted(ids))].append(w)
    shared = sorted((g for g in groups.values() if len(g) > 1), key=len, reverse=True)
    first_groups = defaultdict(list)
    for w, t in zip(words, primary):
        first_groups[t].append(w)
    first_shared = [g for g in first_groups.values() if len(g) > 1]
    return {
        "scoring": scoring,
        "words": len(words),
        "head_rows": int(n_rows),
        # words that share their scoring tokens with another word (indistinguishable logits)
        "collisions": sum(len(g) for g in shared),
        "collision_groups": len(shared),
        "collision_examples": [
            {"tokens": tokenizer.convert_ids_to_tokens(list(key)), "words": g[:8]}
            for key, g in ((tuple(sorted(word_tokens[words.index(g[0])])), g) for g in shared[:10])
        ],
        # words whose first token of " " + word is shared with another word
        "first_token_collisions": sum(len(g) for g in first_shared),
        "multi_token": len(multi_token),
        "multi_token_examples": multi_token[:10],
        "space_piece_skipped": len(space_skipped),
    }
