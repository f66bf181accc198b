"""Compact soft labels (store_top_k): each document's top-K logits instead of all |V|.

Values, not shapes: the compact target equals the dense top-k target, training on either gives
the same model, and what cannot be exact is refused.
"""
import json

import numpy as np
import scipy.sparse as sp
import pytest
import torch

from softtopic.models import targets
from softtopic.models.base import load
from softtopic.models.presets import SoftLabelTM
from softtopic.models.targets import SoftLabelTarget, soft_label_distribution
from softtopic.params import ParameterError
from softtopic.preprocessing import Vocabulary
from softtopic.views.lm import LanguageModelView, soft_labels
from softtopic.views.topk import (TopKLogits, bytes_per_document, compact_logits, index_dtype,
                                  word_groups)
from tiny_lm import make_tiny_lm, topic_texts

K = 10


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("compact")
    texts = topic_texts(32, seed=1, max_words=25)
    lm = str(make_tiny_lm(root, texts))
    vocab = Vocabulary()
    vocab.fit_transform(texts)
    return {"root": root, "texts": texts, "lm": lm, "words": list(vocab.words)}


def _views(tiny, cache, **kwargs):
    dense = LanguageModelView(tiny["lm"], cache_dir=cache, progress=False, **kwargs)
    compact = LanguageModelView(tiny["lm"], cache_dir=cache, progress=False, store_top_k=K,
                                **kwargs)
    return dense, compact


# ---------------------------------------------------------------------- compaction and ties
def test_compaction_keeps_ties_exact_through_word_groups():
    # words 1 and 4 share their scoring tokens (group 1); word 3 ties by accident in row 1
    groups = np.array([0, 1, 2, 3, 1, 5])
    logits = np.array([[5.0, 3.0, 4.0, 0.0, 3.0, 1.0],
                       [5.0, 3.0, 4.0, 3.0, 3.0, 1.0],
                       [9.0, 2.0, 8.0, 7.0, 2.0, 6.0]], dtype=np.float32)
    out = compact_logits(logits, 2 + 1, groups)
    assert out["topk_indices"].dtype == np.int16
    np.testing.assert_array_equal(out["topk_indices"], [[0, 2, 1], [0, 2, 1], [0, 2, 3]])
    np.testing.assert_array_equal(out["topk_values"], np.take_along_axis(
        logits, out["topk_indices"].astype(int), 1))
    np.testing.assert_array_equal(out["topk_inexact"], [0, 1, 0])   # word 3 in row 1
    compact = TopKLogits(out["topk_indices"], out["topk_values"], 6, groups, out["topk_inexact"])
    dense_rows = compact[np.arange(3)]
    # word 4 (cut off by the width, same tokens as word 1) is restored; word 3 in row 1 is not
    np.testing.assert_array_equal(dense_rows[0], [5, 3, 4, -np.inf, 3, -np.inf])
    assert compact.inexact_rows().tolist() == [1]
    raw, rows = torch.from_numpy(logits), torch.from_numpy(dense_rows)
    for top_k in (1, 2, 3):
        for r in (0, 2):   # exact rows: equal values, ties at the threshold kept as dense does
            torch.testing.assert_close(soft_label_distribution(rows[r:r + 1], 2.0, top_k),
                                       soft_label_distribution(raw[r:r + 1], 2.0, top_k),
                                       rtol=0, atol=0)
    assert soft_label_distribution(raw[:1], 1.0, 3)[0, 4] > 0     # the dense keeps the tie


def test_index_dtype_and_bytes_per_document():
    assert index_dtype(2000) == np.int16 and index_dtype(32768) == np.int16
    assert index_dtype(32769) == np.int32
    dense = bytes_per_document(2000, 1024)
    assert (dense["soft_label"], dense["hidden_float16"], dense["total"]) == (8000, 2048, 10048)
    for k, soft in ((50, 301), (100, 601)):
        b = bytes_per_document(2000, 1024, k)
        assert (b["soft_label"], b["total"], b["index_bytes"]) == (soft, soft + 2048, 2)
    assert bytes_per_document(50000, None, 100)["soft_label"] == 100 * 8 + 1


def test_word_groups_are_equal_scoring_rows():
    index = np.array([[3, -1], [1, 2], [3, -1], [1, 4]])
    g = word_groups(index)
    assert g[0] == g[2] and len(set(g.tolist())) == 3


# ---------------------------------------------------------------------- the tiny LM view
@pytest.mark.parametrize("scoring", ["first-token", "variants"])
def test_compact_target_equals_the_dense_top_k_target(tiny, tmp_path, scoring):
    dense_view, compact_view = _views(tiny, tmp_path / "cache", scoring=scoring)
    dense = dense_view(tiny["texts"], tiny["words"])
    compact = compact_view(tiny["texts"], tiny["words"])
    n, v = dense["logits"].shape
    assert compact["topk_indices"].shape == (n, K) and compact["topk_indices"].dtype == np.int16
    assert "logits" not in compact and not compact["topk_inexact"].any()
    # stored values are the dense logits at the stored columns, the K largest, descending
    idx = np.asarray(compact["topk_indices"], dtype=np.int64)
    np.testing.assert_array_equal(compact["topk_values"],
                                  np.take_along_axis(dense["logits"], idx, 1))
    np.testing.assert_array_equal(compact["topk_values"][:, 0], dense["logits"].max(1))
    assert (np.diff(compact["topk_values"], axis=1) <= 0).all()
    rows = TopKLogits.from_view(compact, v)
    bow = torch.from_numpy(np.random.default_rng(0).poisson(0.3, (n, v)).astype(np.float32))
    student = torch.randn(n, v, generator=torch.Generator().manual_seed(0))
    raw, rebuilt = torch.tensor(dense["logits"]), torch.from_numpy(rows[np.arange(n)])
    for top_k in (1, 3, K):
        for bow_mix in (0.0, 0.4):
            a = SoftLabelTarget(tau=3.0, top_k=top_k, bow_mix=bow_mix)
            b = SoftLabelTarget(tau=3.0, top_k=top_k, bow_mix=bow_mix, stored_top_k=K)
            torch.testing.assert_close(b.distribution(rebuilt, bow), a.distribution(raw, bow),
                                       rtol=1e-6, atol=1e-7)
            torch.testing.assert_close(b.loss(student, rebuilt, bow), a.loss(student, raw, bow),
                                       rtol=1e-6, atol=1e-4)
        # the view module's own soft_labels agree too (used for top_labels.jsonl)
        np.testing.assert_allclose(soft_labels(rows[np.arange(n)], 2.0, top_k=top_k),
                                   soft_labels(dense["logits"], 2.0, top_k=top_k), atol=1e-7)


def test_cache_keys_differ_and_a_dense_view_is_compacted_without_the_lm(tiny, tmp_path,
                                                                        monkeypatch):
    cache = tmp_path / "cache"
    calls = []
    original = LanguageModelView.compute
    monkeypatch.setattr(LanguageModelView, "compute",
                        lambda self, chunk: calls.append(len(chunk)) or original(self, chunk))
    dense_view, compact_view = _views(tiny, cache)
    texts, words = tiny["texts"], tiny["words"]
    assert "store_top_k" not in dense_view.settings(words, "h")     # dense keys unchanged
    assert compact_view.settings(words, "h")["store_top_k"] == K
    dense = dense_view(texts, words)
    assert sum(calls) == len(texts)
    calls.clear()
    derived = compact_view(texts, words)
    assert calls == []                                               # no LM pass
    storage = compact_view.report_["storage"]
    assert storage["derived_from_dense_view"] and storage["store_top_k"] == K
    assert len(list((cache / "lm").iterdir())) == 2                  # two cache folders
    # the same top-K computed from scratch (no dense view in its cache) is identical
    fresh = LanguageModelView(tiny["lm"], cache_dir=tmp_path / "other", progress=False,
                              store_top_k=K)(texts, words)
    assert sum(calls) == len(texts)
    (folder,) = (tmp_path / "other" / "lm").iterdir()       # no dense array was ever stored
    assert not list(folder.glob("logits*")) and (folder / "topk_values.npy").exists()
    for name in ("topk_indices", "topk_values", "topk_inexact", "hidden", "document_tokens"):
        np.testing.assert_array_equal(np.asarray(fresh[name]), np.asarray(derived[name]))
    np.testing.assert_array_equal(derived["hidden"], dense["hidden"])
    # a second call reads the compact cache entry
    calls.clear()
    again = LanguageModelView(tiny["lm"], cache_dir=cache, progress=False, store_top_k=K)
    again(texts, words)
    assert calls == [] and again.report_["from_cache"]
    # bytes per document in the report: K x (4 + 2) + 1 against |V| x 4
    b = storage["bytes_per_document"]
    assert b["soft_label"] == K * 6 + 1 and b["dense_soft_label"] == 4 * len(words)
    assert dense_view.report_["storage"]["bytes_per_document"]["soft_label"] == 4 * len(words)


def test_store_top_k_is_checked(tiny):
    with pytest.raises(ValueError, match="store_top_k must be a positive integer"):
        LanguageModelView(tiny["lm"], store_top_k=0)
    with pytest.raises(ValueError, match="store_top_k=40 must be smaller than the vocabulary"):
        LanguageModelView(tiny["lm"], store_top_k=40, cache_dir=False,
                          progress=False)(tiny["texts"][:2], tiny["words"][:40])


# ---------------------------------------------------------------------- training
def _kwargs(tiny, cache, **extra):
    return dict(lm=tiny["lm"], epochs=5, batch_size=8, progress=False, cache_dir=str(cache),
                seed=0, **extra)


@pytest.mark.parametrize("top_k,bow_mix", [(K, 0.0), (4, 0.0), (4, 0.5)])
def test_training_on_compact_soft_labels_gives_the_dense_model(tiny, tmp_path, monkeypatch,
                                                               top_k, bow_mix):
    texts = tiny["texts"]
    kw = _kwargs(tiny, tmp_path / "cache", top_k=top_k, bow_mix=bow_mix)
    precomputed = []
    original_precompute = SoftLabelTarget.precompute
    monkeypatch.setattr(SoftLabelTarget, "precompute", lambda self, *a: precomputed.append(
        original_precompute(self, *a)) or precomputed[-1])
    dense = SoftLabelTM(4, **kw).fit(texts)
    rows_built = []
    original = TopKLogits._dense
    monkeypatch.setattr(TopKLogits, "_dense",
                        lambda self, i, v: rows_built.append(len(i)) or original(self, i, v))
    monkeypatch.setattr(targets, "PRECOMPUTE_BLOCK_VALUES", 8 * len(dense.vocabulary_))
    compact = SoftLabelTM(4, store_top_k=K, **kw).fit(texts)
    assert rows_built and max(rows_built) <= 8       # dense rows 8 at a time only
    # the precomputed target is sparse (top_k words, ties at the threshold kept, plus the mixed
    # words) and the same from compact and dense soft labels
    from_dense, from_compact = (p["soft_label_target"] for p in precomputed)
    assert sp.issparse(from_compact) and abs(from_compact - from_dense).max() == 0
    if bow_mix == 0:
        assert from_compact.nnz <= len(texts) * (top_k + 1)
    np.testing.assert_array_equal(compact.topic_word_, dense.topic_word_)
    np.testing.assert_array_equal(compact.theta_, dense.theta_)
    assert compact.module_.target.describe()["stored_top_k"] == K


def test_what_cannot_be_exact_is_refused(tiny, tmp_path):
    texts = tiny["texts"]
    for top_k in (None, K + 1):
        model = SoftLabelTM(4, store_top_k=K, **_kwargs(tiny, tmp_path, top_k=top_k))
        with pytest.raises(ValueError, match=rf"store_top_k={K}.*top_k <= {K}; got "
                                             rf"top_k={top_k}"):
            model.fit(texts)
    with pytest.raises(ValueError, match="hub_correction='centre'.*store_top_k"):
        SoftLabelTM(4, store_top_k=K, **_kwargs(tiny, tmp_path, top_k=5,
                                                hub_correction="centre")).fit(texts)
    with pytest.raises(ValueError, match="store_top_k .* needs teacher='lm'"):
        SoftLabelTM(4, teacher="encoder", store_top_k=K, top_k=5).fit(texts)
    with pytest.raises(ParameterError, match="parameter store_top_k must be"):
        SoftLabelTM(4, store_top_k=0, top_k=5, lm=tiny["lm"]).fit(texts)
    # compact features passed by hand are checked the same way
    view = LanguageModelView(tiny["lm"], cache_dir=tmp_path / "c", progress=False,
                             store_top_k=K)
    out = view(texts, tiny["words"])
    features = {"lm_hidden": out["hidden"],
                "lm_logits": TopKLogits.from_view(out, len(tiny["words"]))}
    with pytest.raises(ValueError, match=f"store_top_k={K}"):
        SoftLabelTM(4, epochs=2, progress=False).fit(texts, features=features)
    with pytest.raises(ValueError, match="hub_correction='centre'"):
        SoftLabelTM(4, epochs=2, top_k=5, hub_correction="centre",
                    progress=False).fit(texts, features=features)
    model = SoftLabelTM(4, epochs=2, top_k=5, progress=False, seed=0).fit(texts,
                                                                      features=features)
    assert model.module_.target.definition.stored_top_k == K


def test_documents_flagged_inexact_are_reported_at_fit(tiny, tmp_path, capsys):
    texts = tiny["texts"]
    out = LanguageModelView(tiny["lm"], cache_dir=tmp_path / "c", progress=False,
                            store_top_k=K)(texts, tiny["words"])
    flags = np.zeros(len(texts), dtype=np.uint8)
    flags[[3, 7]] = 1
    logits = TopKLogits(out["topk_indices"], out["topk_values"], len(tiny["words"]),
                        out["word_groups"], flags)
    SoftLabelTM(4, epochs=1, top_k=5, progress=False).fit(
        texts, features={"lm_hidden": out["hidden"], "lm_logits": logits})
    assert "2 of 32 training documents have a word outside their stored top 10" in \
        capsys.readouterr().err


# ---------------------------------------------------------------------- the command line
def test_cli_writes_compact_files_and_fit_reads_a_compact_view(tiny, tmp_path, capsys):
    from softtopic.cli import main
    texts = tiny["texts"]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n"
                              for i, t in enumerate(texts)))
    cache = str(tmp_path / "cache")
    assert main(["soft-labels", str(corpus), "--lm", tiny["lm"], "--out", str(tmp_path / "view"),
                 "--store-top-k", str(K), "--cache-dir", cache, "--quiet"]) == 0
    assert "instead of" in capsys.readouterr().out
    out = tmp_path / "view"
    assert not (out / "logits.npy").exists()
    indices, values = np.load(out / "topk_indices.npy"), np.load(out / "topk_values.npy")
    inexact, groups = np.load(out / "topk_inexact.npy"), np.load(out / "word_groups.npy")
    vocab = json.loads((out / "vocab.json").read_text())
    assert indices.dtype == np.int16 and values.dtype == np.float32 and inexact.dtype == np.uint8
    assert indices.shape == values.shape == (len(texts), K) and groups.shape == (len(vocab),)
    report = json.loads((out / "report.json").read_text())
    assert report["storage"]["bytes_per_document"]["soft_label"] == 6 * K + 1
    assert report["storage"]["index_dtype"] == "int16"
    # the folder's arrays are the soft label: top_labels.jsonl agrees with them
    dense_rows = TopKLogits(indices, values, len(vocab), groups)[np.arange(len(texts))]
    p = soft_labels(dense_rows[0], 3.0)
    first = json.loads((out / "top_labels.jsonl").read_text().splitlines()[0])
    assert first["labels"][0] == [vocab[int(np.argmax(p))], pytest.approx(p.max(), abs=1e-5)]
    # the LM view of the same settings, dense, gives the same stored values
    dense = LanguageModelView(tiny["lm"], cache_dir=False, progress=False)(texts, vocab)
    np.testing.assert_array_equal(values, np.take_along_axis(dense["logits"],
                                                             indices.astype(int), 1))
    # fit from the compact view (the cache entry the command wrote): same model as the API's
    run = tmp_path / "run"
    assert main(["fit", str(corpus), "--model", "softlabel", "--lm", tiny["lm"], "--k", "4",
                 "--epochs", "5", "--batch-size", "8", "--top-k", "5", "--store-top-k", str(K),
                 "--cache-dir", cache, "--out", str(run), "--quiet"]) == 0
    api = SoftLabelTM(4, **_kwargs(tiny, tmp_path / "dense-cache", top_k=5)).fit(texts)
    np.testing.assert_allclose(np.load(run / "theta.npy"), api.theta_, rtol=1e-6)


def test_saved_compact_model_loads_back_with_identical_outputs(tiny, tmp_path):
    texts = tiny["texts"]
    model = SoftLabelTM(4, store_top_k=K, **_kwargs(tiny, tmp_path / "cache", top_k=5,
                                                    bow_mix=0.2)).fit(texts)
    model.save(tmp_path / "m")
    again = load(tmp_path / "m")
    assert again.store_top_k == K and again.top_k == 5
    np.testing.assert_array_equal(again.topic_word_, model.topic_word_)
    np.testing.assert_array_equal(again.transform(texts), model.transform(texts))
    assert again.get_topics(5) == model.get_topics(5)
