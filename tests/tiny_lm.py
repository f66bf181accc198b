"""A tiny, randomly initialised causal LM with a tokenizer trained on test text, saved to a folder
and loadable with `AutoTokenizer` / `AutoModelForCausalLM.from_pretrained`, the path users take.

Two tokenizer styles:
- "bytelevel": GPT-2 style byte-level BPE; a word after a space starts with a "Ġ" token;
- "metaspace": SentencePiece style BPE with a Metaspace pre-tokenizer ("▁" marks a space) and a
  BOS token added by the post-processor.
Letters listed in `unseen_letters` are in the tokenizer's alphabet but never in its training
text, so no merge involves them: a word such as "qqq" tokenises as a lone space piece ("Ġ" or
"▁") followed by "q", "q", "q" — the case the first-token word scoring must skip over.

Usage: path = make_tiny_lm(tmp_path, texts, style="metaspace"); then pass `str(path)` as the
model id wherever a Hugging Face model id is expected.
"""
from __future__ import annotations

import random
import string
from pathlib import Path

import torch

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]
UNSEEN_LETTERS = "qxz"
SIMPLE_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")

TOPIC_WORDS = {
    "space": "orbit rocket launch planet moon nasa shuttle satellite mission crew",
    "sport": "game team player season score coach league match goal hockey",
    "computing": "computer software windows driver disk memory program file system graphics",
    "religion": "god church faith belief bible christian religion moral truth prayer",
}
FILLER = "the a of and to in is that it for on with as was this by be are".split()


def topic_texts(n: int = 40, seed: int = 0, min_words: int = 5, max_words: int = 60) -> list[str]:
    """Documents mixing one topic's words with filler, lengths varied (for batching tests)."""
    rng = random.Random(seed)
    topics = list(TOPIC_WORDS.values())
    texts = []
    for i in range(n):
        words = topics[i % len(topics)].split()
        k = rng.randint(min_words, max_words)
        doc = [rng.choice(words) if rng.random() < 0.5 else rng.choice(FILLER) for _ in range(k)]
        doc[0] = doc[0].capitalize()
        texts.append(" ".join(doc) + ".")
    return texts


def train_tokenizer(texts: list[str], style: str = "bytelevel", vocab_size: int = 400,
                    unseen_letters: str = UNSEEN_LETTERS):
    """A `tokenizers.Tokenizer` trained on `texts` (letters in `unseen_letters` are removed
    from the training text but kept in the alphabet)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    table = str.maketrans("", "", unseen_letters + unseen_letters.upper())
    training = [t.translate(table) for t in texts]
    if style == "bytelevel":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    elif style == "metaspace":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
        alphabet = list(string.ascii_letters + string.digits + string.punctuation + "▁\n")
    else:
        raise ValueError(f"style must be 'bytelevel' or 'metaspace', got {style!r}")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator(training, trainer)
    if style == "metaspace":
        bos = tok.token_to_id("<s>")
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                           special_tokens=[("<s>", bos)])
    return tok


def make_tiny_lm(tmp_path, texts: list[str] | None = None, vocab_size: int = 400,
                 hidden: int = 32, layers: int = 2, heads: int = 4, kv_heads: int = 2,
                 style: str = "bytelevel", seed: int = 0, chat_template: str | None = None,
                 tie_word_embeddings: bool = False, initializer_range: float = 0.2,
                 name: str | None = None) -> Path:
    """Save a tiny random `LlamaForCausalLM` and its trained tokenizer; return the folder.

    `initializer_range` is larger than a real model's so that logits spread out (soft labels
    are then not uniform), which makes comparisons in tests meaningful.
    """
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    texts = texts if texts is not None else topic_texts()
    path = Path(tmp_path) / (name or f"tiny-{style}-lm")
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=train_tokenizer(texts, style, vocab_size),
                                        pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                        unk_token="<unk>")
    if chat_template:
        tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(path)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=4096, initializer_range=initializer_range,
        tie_word_embeddings=tie_word_embeddings, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(path)
    return path
