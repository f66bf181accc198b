"""Prompts for the language-model view: instruction + template + document -> token ids.

A prompt is `template` with `{instruction}` and `{document}` filled in (default: the authors'
"{instruction}\\n\\nDocument: {document}\\n\\nTopic:"). With `chat_template=True` that text is
the user message of the tokenizer's chat template, followed by the generation prompt.

Truncation keeps the prompt whole: only the document's tokens are cut, to `max_document_tokens`
(its beginning is kept), so the instruction and the trailing "Topic:" always survive. (The
authors right-truncate the whole prompt, which can cut "Topic:" off a long document.)

Token boundaries. With a fast tokenizer the whole prompt is tokenised at once with character
offsets, and each token is assigned to the prefix, the document or the suffix: a token holding
any prefix character belongs to the prefix, any suffix character to the suffix, the rest to the
document. An untruncated prompt is therefore tokenised exactly as `tokenizer(prompt)` would, and
truncation cuts between two document tokens while keeping the prefix and suffix tokens as the
tokenizer produced them. Only tokenizers without offsets (rare since transformers 5) fall back
to tokenising the three parts separately, which can tokenise the few characters at each
boundary differently from a joint tokenisation.
"""
from __future__ import annotations

from dataclasses import dataclass

# The authors' instruction (sic) and the five paraphrases of the paper's prompt-sensitivity study.
PROMPTS = {
    "default": "Generate a label that capture the overall theme of the document below.",
    "central-theme": "Name the document's central theme.",
    "single-label": "Give a single label that sums up the text.",
    "main-idea": "Tag the document with its main idea.",
    "one-word": "Read the following document in full, identify its principal theme, and output a "
                "one-word label that best conveys that unifying concept.",
    "primary-theme": "Generate a tag that captures the primary theme running through the entire "
                     "document.",
}
DEFAULT_TEMPLATE = "{instruction}\n\nDocument: {document}\n\nTopic:"

_SENTINEL = "\u2063SOFTTOPIC-DOCUMENT\u2063"  # placeholder that no chat template rewrites
# Characters of the document looked at before tokenising: a token rarely spans more than a few
# characters, so this many per budget token is ample; when it was not, the document is
# tokenised again in full (see `encode`), so the cap only saves time, never changes a result.
_CHARS_PER_TOKEN_CAP = 32
_MIN_CHAR_CAP = 20_000
_TAIL_CHARS = 200  # a document's end, enough context for the suffix's boundary merges


def resolve_instruction(instruction: str) -> str:
    """A name from PROMPTS, or an instruction text used as given."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError(f"instruction must be a name from {sorted(PROMPTS)} or a non-empty "
                         f"text, got {instruction!r}")
    return PROMPTS.get(instruction, instruction)


@dataclass
class EncodedPrompt:
    ids: list[int]
    document_tokens: int      # document tokens kept
    truncated: bool


class PromptEncoder:
    """Turns documents into prompt token ids with a document-only token budget."""

    def __init__(self, tokenizer, instruction: str = "default", template: str = DEFAULT_TEMPLATE,
                 chat_template: bool = False, max_document_tokens: int | None = 512):
        if template.count("{document}") != 1:
            raise ValueError("template must contain '{document}' exactly once, got "
                             f"{template!r}")
        if max_document_tokens is not None and max_document_tokens < 0:
            raise ValueError(f"max_document_tokens must be >= 0 or None, got "
                             f"{max_document_tokens}")
        self.tokenizer = tokenizer
        self.instruction = resolve_instruction(instruction)
        self.template = template
        self.chat_template = chat_template
        self.max_document_tokens = max_document_tokens
        # str.replace rather than str.format: braces in an instruction or template stay literal.
        text = template.replace("{instruction}", self.instruction)
        if chat_template:
            self.prefix, self.suffix = self._chat_parts(text)
            self.add_special_tokens = False  # the chat template writes its own special tokens
        else:
            self.prefix, self.suffix = text.split("{document}")
            self.add_special_tokens = True
        self.fast = bool(getattr(tokenizer, "is_fast", False))

    def _chat_parts(self, text: str) -> tuple[str, str]:
        tok = self.tokenizer
        if not getattr(tok, "chat_template", None):
            raise ValueError("chat_template=True but the tokenizer has no chat template; use a "
                             "plain template or an instruction-tuned model's tokenizer")
        rendered = tok.apply_chat_template(
            [{"role": "user", "content": text.replace("{document}", _SENTINEL)}],
            add_generation_prompt=True, tokenize=False)
        if rendered.count(_SENTINEL) != 1:
            raise ValueError("the tokenizer's chat template does not keep the user message "
                             "verbatim, so the document cannot be placed in it")
        prefix, suffix = rendered.split(_SENTINEL)
        return prefix, suffix

    def prompt_text(self, document: str) -> str:
        """The full prompt as text (for display; `encode` gives the ids the model reads)."""
        return self.prefix + document + self.suffix

    def encode(self, documents: list[str]) -> list[EncodedPrompt]:
        if not self.fast:
            return [self._encode_separately(d) for d in documents]
        budget = self.max_document_tokens
        cap = None if budget is None else max(_MIN_CHAR_CAP, budget * _CHARS_PER_TOKEN_CAP)
        long = [i for i, d in enumerate(documents) if cap is not None and len(d) > cap]
        capped = list(documents)
        for i in long:
            capped[i] = documents[i][:cap]
        parts = self._split([self.prefix + d + self.suffix for d in capped],
                            [(len(self.prefix), len(self.prefix) + len(d)) for d in capped])
        if long:
            # The suffix's tokens can depend on the document's last characters (a merge across
            # the boundary), so for a capped document take them from its real end.
            tails = [documents[i][-_TAIL_CHARS:] for i in long]
            tail_parts = self._split([t + self.suffix for t in tails],
                                     [(0, len(t)) for t in tails])
            for i, (_, _, suffix_ids) in zip(long, tail_parts):
                prefix_ids, doc_ids, _ = parts[i]
                parts[i] = (prefix_ids, doc_ids, suffix_ids)
        out = [self._assemble(*p) for p in parts]
        for i in long:
            if out[i].document_tokens < budget:  # the cap cut real content: do it in full
                out[i] = self._assemble(*self._split(
                    [self.prefix + documents[i] + self.suffix],
                    [(len(self.prefix), len(self.prefix) + len(documents[i]))])[0])
        return out

    def _split(self, texts: list[str], spans: list[tuple[int, int]]):
        """Tokenise texts and split each into (prefix, document, suffix) token ids, the
        document being the characters spans[i] = (start, stop) of texts[i]."""
        enc = self.tokenizer(texts, add_special_tokens=self.add_special_tokens,
                             return_offsets_mapping=True, return_special_tokens_mask=True)
        out = []
        for ids, offsets, special, (start, stop) in zip(
                enc["input_ids"], enc["offset_mapping"], enc["special_tokens_mask"], spans):
            added = [s and a == b == 0 for (a, b), s in zip(offsets, special)]  # BOS, EOS, ...
            # Added special tokens carry no text: leading ones belong to the prefix; trailing
            # ones (an EOS some tokenizers append) are dropped, since the model must predict
            # the token that follows the template's last word.
            end = len(ids)
            while end > 1 and added[end - 1]:
                end -= 1
            n_prefix = 0  # tokens holding a prefix character, or leading added tokens
            while n_prefix < end and (added[n_prefix] or offsets[n_prefix][0] < start):
                n_prefix += 1
            first_suffix = end  # tokens holding a suffix character
            while first_suffix > n_prefix and offsets[first_suffix - 1][1] > stop:
                first_suffix -= 1
            out.append((ids[:n_prefix], ids[n_prefix:first_suffix], ids[first_suffix:end]))
        return out

    def _encode_separately(self, document: str) -> EncodedPrompt:
        tok = self.tokenizer
        # spaces that end the prefix go with the document, so its first word gets the
        # leading-space token it has inside a sentence
        head = self.prefix.rstrip(" ")
        lead = self.prefix[len(head):]
        prefix_ids = tok(head, add_special_tokens=self.add_special_tokens)["input_ids"]
        eos = getattr(tok, "eos_token_id", None)
        if self.add_special_tokens and eos is not None and prefix_ids and prefix_ids[-1] == eos:
            prefix_ids = prefix_ids[:-1]  # a tokenizer that appends EOS: not inside a prompt
        doc_ids = tok(lead + document, add_special_tokens=False)["input_ids"] \
            if (lead + document) else []
        suffix_ids = tok(self.suffix, add_special_tokens=False)["input_ids"] if self.suffix else []
        return self._assemble(prefix_ids, doc_ids, suffix_ids)

    def _assemble(self, prefix_ids, doc_ids, suffix_ids) -> EncodedPrompt:
        budget = self.max_document_tokens
        truncated = budget is not None and len(doc_ids) > budget
        if truncated:
            doc_ids = doc_ids[:budget]
        ids = list(prefix_ids) + list(doc_ids) + list(suffix_ids)
        if not ids:
            raise ValueError("the prompt tokenises to nothing; give a template with text")
        return EncodedPrompt(ids, len(doc_ids), truncated)
