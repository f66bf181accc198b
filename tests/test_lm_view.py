"""The language-model view: prompts, word scoring, restricted head, batching, cache, CLI."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from tiny_lm import SIMPLE_CHAT_TEMPLATE, TOPIC_WORDS, make_tiny_lm, topic_texts
from transformers import AutoModelForCausalLM, AutoTokenizer

from softtopic.views.lm import (LanguageModelView, entropy, soft_labels, token_batches,
                                word_token_ids)
from softtopic.views.lm_prompt import PROMPTS, PromptEncoder

# The models are tiny: one thread avoids oversubscribing the 2-core CI machine, where OpenMP
# threads waiting on each other made these tests several times slower (as tests/conftest.py).
torch.set_num_threads(1)

STYLES = ["bytelevel", "metaspace"]
VOCAB = sorted(set(" ".join(TOPIC_WORDS.values()).split())) + ["qqq", "qxz", "zebra"]


@pytest.fixture(scope="module")
def lm_paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("lms")
    return {style: make_tiny_lm(root, style=style, chat_template=SIMPLE_CHAT_TEMPLATE)
            for style in STYLES}


@pytest.fixture(scope="module")
def loaded(lm_paths):
    return {style: (AutoModelForCausalLM.from_pretrained(p).eval(),
                    AutoTokenizer.from_pretrained(p)) for style, p in lm_paths.items()}


def view_of(loaded, style, **kwargs):
    model, tokenizer = loaded[style]
    kwargs.setdefault("cache_dir", False)
    kwargs.setdefault("progress", False)
    return LanguageModelView(model, tokenizer=tokenizer, **kwargs)


def full_last_logits(model, ids):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0, -1].float()


# --------------------------------------------------------------------------- word scoring

def _expected_first_tokens(tokenizer, words):
    """Independent statement of the first-token rule: skip leading bare space pieces."""
    out = []
    for w in words:
        tokens = tokenizer.tokenize(" " + w)
        while tokens and tokens[0] in ("▁", "Ġ"):
            tokens = tokens[1:]
        out.append(tokenizer.convert_tokens_to_ids(tokens[0]))
    return out


@pytest.mark.parametrize("style", STYLES)
def test_first_token_scoring_skips_lone_space_piece_and_reports_collisions(loaded, style):
    _, tok = loaded[style]
    space = "Ġ" if style == "bytelevel" else "▁"
    assert tok.tokenize(" qqq")[0] == space  # the fixture gives unseen words a lone space piece
    scoring = word_token_ids(tok, VOCAB)
    assert [ids[0] for ids in scoring.word_tokens] == _expected_first_tokens(tok, VOCAB)
    q = tok.convert_tokens_to_ids("q")
    assert scoring.word_tokens[VOCAB.index("qqq")] == [q] == scoring.word_tokens[VOCAB.index("qxz")]
    report = scoring.report
    firsts = _expected_first_tokens(tok, VOCAB)
    expected_collisions = sum(1 for t in firsts if firsts.count(t) > 1)
    assert report["collisions"] == expected_collisions >= 2
    assert any(set(g["words"]) >= {"qqq", "qxz"} for g in report["collision_examples"])
    multi = [w for w in VOCAB if len([t for t in tok.tokenize(" " + w) if t != space]) > 1]
    assert report["multi_token"] == len(multi)
    assert report["space_piece_skipped"] >= 3  # qqq, qxz, zebra
    assert report["head_rows"] == len(set(firsts))


@pytest.mark.parametrize("style", STYLES)
def test_variants_scoring_is_logsumexp_of_spellings(loaded, style):
    model, tok = loaded[style]
    first = word_token_ids(tok, VOCAB, "first-token")
    variants = word_token_ids(tok, VOCAB, "variants")
    ids = tok("Some text about orbit and rockets.\n\nTopic:")["input_ids"]
    full = full_last_logits(model, ids)
    for i, w in enumerate(VOCAB):
        spellings = {" " + w, w, " " + w.capitalize(), w.capitalize()}
        expected = sorted({_first_of(tok, s) for s in spellings})
        assert sorted(variants.word_tokens[i]) == expected, w
    word_logits = variants.word_logits(full[torch.as_tensor(variants.token_ids)][None])[0]
    manual = torch.stack([torch.logsumexp(full[torch.as_tensor(t)], 0)
                          for t in variants.word_tokens])
    torch.testing.assert_close(word_logits, manual)
    first_logits = first.word_logits(full[torch.as_tensor(first.token_ids)][None])[0]
    assert torch.all(word_logits >= first_logits - 1e-5)  # adding spellings never lowers a logit
    assert variants.report["scoring"] == "variants"


def _first_of(tok, text):
    tokens = tok.tokenize(text)
    while tokens and tokens[0] in ("▁", "Ġ"):
        tokens = tokens[1:]
    return tok.convert_tokens_to_ids(tokens[0])


def test_words_that_tokenise_to_nothing_are_refused(loaded):
    _, tok = loaded["bytelevel"]
    with pytest.raises(ValueError, match="empty or only whitespace"):
        word_token_ids(tok, ["orbit", " "])
    with pytest.raises(ValueError, match="scoring"):
        word_token_ids(tok, ["orbit"], scoring="mean")


# --------------------------------------------------------------------------- soft labels

def test_soft_labels_sum_to_one_and_sharpen_as_tau_falls():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (20, 50)).astype(np.float32)
    entropies = []
    for tau in (10.0, 3.0, 1.0, 0.3):
        p = soft_labels(logits, tau)
        np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
        entropies.append(entropy(p))
    for hotter, colder in zip(entropies, entropies[1:]):
        assert np.all(colder < hotter)
    p = soft_labels(logits, 3.0, top_k=5)
    assert np.all((p > 0).sum(1) == 5)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    top5 = np.argsort(-logits, 1)[:, :5]
    assert np.all(np.take_along_axis(p, top5, 1) > 0)
    pt = soft_labels(torch.from_numpy(logits), 3.0)
    np.testing.assert_allclose(pt.numpy(), soft_labels(logits, 3.0), atol=1e-6)
    with pytest.raises(ValueError, match="tau"):
        soft_labels(logits, 0)


# --------------------------------------------------------------------------- prompts

@pytest.mark.parametrize("style", STYLES)
def test_untruncated_prompt_is_tokenised_as_a_whole(loaded, style):
    _, tok = loaded[style]
    enc = PromptEncoder(tok, "default", max_document_tokens=512)
    for doc in topic_texts(6) + ["", "  leading spaces", "ends with newline\n"]:
        p = enc.encode([doc])[0]
        assert p.ids == tok(enc.prompt_text(doc))["input_ids"]
        assert not p.truncated


@pytest.mark.parametrize("style", STYLES)
def test_truncation_keeps_instruction_and_prompt_tail(loaded, style):
    _, tok = loaded[style]
    long_doc = " ".join(topic_texts(90, min_words=50, max_words=60))  # > the 20k-character cap
    assert len(long_doc) > 20_000
    enc = PromptEncoder(tok, "one-word", max_document_tokens=16)
    p = enc.encode([long_doc])[0]
    assert p.truncated and p.document_tokens == 16
    # the prompt's head and tail are the tokens of the untruncated prompt's head and tail
    whole = tok(enc.prompt_text(long_doc))["input_ids"]
    head = tok(enc.prefix)["input_ids"][:-1]  # minus a boundary token that may merge
    # (minus one token: tokenised alone, the suffix may start with a space piece)
    tail = whole[1 - len(tok("\n\nTopic:", add_special_tokens=False)["input_ids"]):]
    assert p.ids[:len(head)] == whole[:len(head)] and p.ids[-len(tail):] == tail
    text = tok.decode(p.ids, skip_special_tokens=True)
    assert PROMPTS["one-word"] in text and text.endswith("Topic:")
    untruncated = enc.encode(["short"])[0]
    assert len(p.ids) - len(untruncated.ids) == 16 - untruncated.document_tokens
    # the authors' right-truncation of the whole prompt loses the tail
    right = tok(enc.prompt_text(long_doc), truncation=True, max_length=len(p.ids))["input_ids"]
    assert right[-len(tail):] != tail


def test_tokenizers_without_offsets_tokenise_the_parts_separately(loaded):
    _, tok = loaded["bytelevel"]
    enc = PromptEncoder(tok, "default", max_document_tokens=16)
    enc.fast = False  # as for a tokenizer that gives no character offsets
    short = enc.encode(["rocket launch today."])[0]
    assert not short.truncated
    # byte-level BPE splits at these boundaries anyway, so the parts join seamlessly
    assert short.ids == tok(enc.prompt_text("rocket launch today."))["input_ids"]
    long = enc.encode([" ".join(topic_texts(5))])[0]
    assert long.truncated and long.document_tokens == 16
    assert tok.decode(long.ids).endswith("\n\nTopic:")


def test_chat_template_wraps_the_prompt(loaded):
    _, tok = loaded["metaspace"]
    enc = PromptEncoder(tok, "default", chat_template=True)
    assert enc.prefix.startswith("<|user|>\n") and enc.suffix.endswith("<|assistant|>\n")
    p = enc.encode(["rocket launch"])[0]
    assert p.ids == tok(enc.prompt_text("rocket launch"), add_special_tokens=False)["input_ids"]
    with pytest.raises(ValueError, match="document"):
        PromptEncoder(tok, "default", template="no placeholder")


# --------------------------------------------------------------------------- the head

@pytest.mark.parametrize("style", STYLES)
def test_restricted_head_equals_full_logits_at_vocabulary_ids(loaded, style):
    model, tok = loaded[style]
    texts = topic_texts(5)
    view = view_of(loaded, style, batch_size=1)
    result = view(texts, VOCAB)
    scoring = word_token_ids(tok, VOCAB)
    for i, doc in enumerate(texts):
        ids = view.prompt_.encode([doc])[0].ids
        full = full_last_logits(model, ids)
        np.testing.assert_allclose(result["logits"][i], full[scoring.token_ids][
            torch.as_tensor(scoring.variant_index[:, 0])].numpy(), atol=1e-4, rtol=1e-4)


def test_restricted_head_includes_bias_and_refuses_unknown_transforms(lm_paths):
    texts = topic_texts(4)
    tok = AutoTokenizer.from_pretrained(lm_paths["bytelevel"])
    model = AutoModelForCausalLM.from_pretrained(lm_paths["bytelevel"]).eval()
    model.lm_head.bias = torch.nn.Parameter(torch.linspace(-3, 3, len(tok)))
    view = LanguageModelView(model, tokenizer=tok, cache_dir=False, progress=False)
    result = view(texts, VOCAB)
    full = full_last_logits(model, view.prompt_.encode([texts[0]])[0].ids)
    np.testing.assert_allclose(result["logits"][0], full[view.scoring_.token_ids].numpy()[
        view.scoring_.variant_index[:, 0]], atol=1e-4)
    # a config claiming a soft-cap the model does not apply: the one-time check must refuse it
    model.config.final_logit_softcapping = 0.5
    with pytest.raises(RuntimeError, match="does not reproduce"):
        LanguageModelView(model, tokenizer=tok, cache_dir=False, progress=False)(texts, VOCAB)


def test_softcapping_model_matches_its_own_logits(loaded):
    from transformers import Gemma2Config, Gemma2ForCausalLM
    _, tok = loaded["bytelevel"]
    torch.manual_seed(0)
    cfg = Gemma2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       head_dim=8, final_logit_softcapping=2.0, initializer_range=0.5,
                       pad_token_id=tok.pad_token_id)
    model = Gemma2ForCausalLM(cfg).eval()
    view = LanguageModelView(model, tokenizer=tok, cache_dir=False, progress=False)
    texts = topic_texts(3)
    result = view(texts, VOCAB)
    full = full_last_logits(model, view.prompt_.encode([texts[1]])[0].ids)
    np.testing.assert_allclose(result["logits"][1], full[view.scoring_.token_ids].numpy()[
        view.scoring_.variant_index[:, 0]], atol=1e-4)
    assert np.abs(result["logits"]).max() <= 2.0


def test_model_without_output_head_is_refused(lm_paths, tmp_path):
    from transformers import AutoModel
    base = AutoModel.from_pretrained(lm_paths["bytelevel"])
    tok = AutoTokenizer.from_pretrained(lm_paths["bytelevel"])
    with pytest.raises(ValueError, match="no output head"):
        LanguageModelView(base, tokenizer=tok, cache_dir=False)(["a document"], VOCAB)
    base.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    with pytest.raises(ValueError, match="output head"):
        LanguageModelView(str(tmp_path / "base"), cache_dir=False)(["a document"], VOCAB)


# --------------------------------------------------------------------------- batching

def test_token_batches_respect_both_budgets():
    lengths = [5, 50, 7, 48, 6, 100, 49]
    batches = token_batches(lengths, batch_size=2, batch_tokens=100)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 2
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 100
    assert batches[0] == [5]  # longest first, alone
    # a padding bound keeps documents of very different lengths apart
    for b in token_batches(lengths, batch_size=8, batch_tokens=1000, max_padding=0.1):
        assert min(lengths[i] for i in b) >= 0.9 * max(lengths[i] for i in b)


@pytest.mark.parametrize("style", STYLES)
def test_batched_results_equal_one_at_a_time(loaded, style):
    texts = topic_texts(12, min_words=1, max_words=80) + [""]
    batched = view_of(loaded, style, batch_size=64, batch_tokens=100_000, max_padding=1.0)
    assert batched.feed_forward_rows(torch.device("cpu")) > 1000
    batched = batched(texts, VOCAB)
    small = view_of(loaded, style, batch_size=3, batch_tokens=150, max_padding=1.0)
    small.FEED_FORWARD_ROWS = {"cpu": 16}  # feed-forward blocks in chunks of 16 rows
    small = small(texts, VOCAB)
    single = view_of(loaded, style, batch_size=1)(texts, VOCAB)
    for other in (small, single):
        np.testing.assert_allclose(batched["logits"], other["logits"], atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(batched["hidden"], other["hidden"], atol=1e-4, rtol=1e-4)
    assert np.all(np.isfinite(batched["logits"]))


def test_empty_document_gets_a_prompt_and_a_valid_result(loaded):
    view = view_of(loaded, "metaspace")
    result = view(["", "rocket launch"], VOCAB)
    assert result["document_tokens"][0] == 0
    assert np.all(np.isfinite(result["logits"][0])) and np.all(np.isfinite(result["hidden"][0]))
    np.testing.assert_allclose(soft_labels(result["logits"][0]).sum(), 1, atol=1e-5)
    with pytest.raises(ValueError, match="empty"):
        view([], VOCAB)
    with pytest.raises(TypeError, match="single string"):
        view("one string", VOCAB)


def test_bad_parameters_are_named(lm_paths):
    for kwargs, name in (({"batch_size": 0}, "batch_size"), ({"scoring": "x"}, "scoring"),
                         ({"instruction": ""}, "instruction"),
                         ({"max_document_tokens": -1}, "max_document_tokens"),
                         ({"template": "{instruction}"}, "template")):
        with pytest.raises(ValueError, match=name):
            LanguageModelView(str(lm_paths["bytelevel"]), **kwargs)


# --------------------------------------------------------------------------- cache

def test_cache_resumes_after_interruption_without_recomputing(lm_paths, tmp_path):
    texts = topic_texts(9)
    path = str(lm_paths["bytelevel"])
    reference = LanguageModelView(path, cache_dir=False, progress=False)(texts, VOCAB)

    calls = []

    def interrupted_after(k):
        def wrapped(self, chunk):
            calls.append(len(chunk))
            if len(calls) > k:
                raise KeyboardInterrupt("simulated interruption")
            return original(self, chunk)
        return wrapped

    original = LanguageModelView.compute
    cache = tmp_path / "cache"
    LanguageModelView.compute = interrupted_after(2)
    try:
        with pytest.raises(KeyboardInterrupt):
            LanguageModelView(path, cache_dir=cache, chunk_size=2, progress=False)(texts, VOCAB)
        assert calls == [2, 2, 2]  # two chunks finished, the third interrupted
        calls.clear()
        LanguageModelView.compute = interrupted_after(10)
        view = LanguageModelView(path, cache_dir=cache, chunk_size=2, progress=False)
        resumed = view(texts, VOCAB)
        assert calls == [2, 2, 1]  # only the three missing chunks (9 documents, chunks of 2)
        calls.clear()
        again = LanguageModelView(path, cache_dir=cache, chunk_size=2, progress=False)
        again(texts, VOCAB)
        assert calls == [] and again.report_["from_cache"]
        assert again.model_ is None  # a cached view loads the tokenizer only
    finally:
        LanguageModelView.compute = original
    np.testing.assert_allclose(resumed["logits"], reference["logits"], atol=1e-5)
    np.testing.assert_allclose(resumed["hidden"], reference["hidden"], atol=2e-3, rtol=2e-3)
    assert resumed["logits"].dtype == np.float32
    # another prompt is another cache entry
    other = LanguageModelView(path, cache_dir=cache, chunk_size=2, progress=False,
                              instruction="main-idea")
    other(texts[:2], VOCAB)
    assert not other.report_["from_cache"]


# --------------------------------------------------------------------------- output

def test_view_folder_and_cli(lm_paths, tmp_path, capsys):
    from softtopic.commands import soft_labels as command
    corpus = tmp_path / "corpus.jsonl"
    texts = topic_texts(8)
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n"
                              for i, t in enumerate(texts)))
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["soft-labels", str(corpus), "--lm", str(lm_paths["metaspace"]),
                              "--out", str(tmp_path / "view"), "--vocab-size", "30",
                              "--max-document-tokens", "20", "--cache-dir",
                              str(tmp_path / "cache"), "--quiet", "--scoring", "variants"])
    assert args.func(args) == 0
    out = tmp_path / "view"
    vocab = json.loads((out / "vocab.json").read_text())
    logits, hidden = np.load(out / "logits.npy"), np.load(out / "hidden.npy")
    assert logits.shape == (8, len(vocab)) and hidden.shape == (8, 32)
    rows = [json.loads(line) for line in (out / "top_labels.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"d{i}" for i in range(8)]
    p = soft_labels(logits[0], 3.0)
    assert rows[0]["labels"][0] == [vocab[int(np.argmax(p))], pytest.approx(p.max(), abs=1e-5)]
    assert len(rows[0]["labels"]) == 5
    report = json.loads((out / "report.json").read_text())
    assert report["word_scoring"]["scoring"] == "variants" and report["tau"] == 3.0
    printed = capsys.readouterr().out
    assert "share their tokens" in printed and "document d0:" in printed


def test_chunked_feed_forward_is_exact_and_restores_the_model(loaded):
    from softtopic.views.lm_memory import chunked_feed_forward
    model, _ = loaded["bytelevel"]
    decoder = model.get_decoder()
    ids = torch.randint(5, 300, (2, 37))
    with torch.no_grad():
        plain = decoder(input_ids=ids).last_hidden_state
        with chunked_feed_forward(decoder, max_rows=8) as n_blocks:
            assert n_blocks == len(decoder.layers)
            chunked = decoder(input_ids=ids).last_hidden_state
    torch.testing.assert_close(chunked, plain, atol=1e-5, rtol=1e-5)
    assert all("forward" not in layer.mlp.__dict__ for layer in decoder.layers)
