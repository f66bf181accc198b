"""A document's neighbourhood (`softtopic.models.neighbourhood`): the neighbourhood bag of words
(bow_neighbours), the smoothed input the cluster term partitions (cluster_neighbours), and the
soft-label defaults they are part of."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from planted import planted_corpus
from sklearn.metrics import normalized_mutual_info_score

from softtopic import SoftLabelTM, load
from softtopic.models import neighbourhood
from softtopic.models.neighbourhood import (nearest_neighbours, neighbour_bag_of_words,
                                            smoothed_input)
from softtopic.models.presets import PAPER_SETTING
from softtopic.models.registry import get_model_class
from softtopic.models.targets import SoftLabelTarget


def test_neighbour_bag_of_words_is_the_mean_of_the_normalised_neighbours():
    X = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [1, 0]], dtype=np.float32)
    bow = sp.csr_matrix(np.array([[2, 0, 0], [0, 1, 1], [0, 0, 3], [1, 1, 1], [0, 4, 0]], float))
    rows = np.array([0, 1, 2, 4])        # document 3 has no vocabulary word in this fit
    nb = nearest_neighbours(X, 2, rows)
    # itself first, then the nearest other training document; 0 and 4 are the same vector, and
    # each still lists itself first; 3 is never a neighbour
    np.testing.assert_array_equal(nb, [[0, 3], [1, 0], [2, 1], [3, 0]])
    mean = neighbour_bag_of_words(bow, nb, rows).toarray()
    np.testing.assert_allclose(mean, [[0.5, 0.5, 0], [0.5, 0.25, 0.25], [0, 0.25, 0.75],
                                      [0, 0, 0], [0.5, 0.5, 0]])
    # k = 1 is the document's own normalised words
    own = neighbour_bag_of_words(bow, nearest_neighbours(X, 1, rows), rows).toarray()
    np.testing.assert_allclose(own[rows], bow.toarray()[rows] / bow.toarray()[rows].sum(1, keepdims=True))
    with pytest.raises(ValueError, match=r"bow_neighbours=5 exceeds .* \(4\)"):
        nearest_neighbours(X, 5, rows)


def test_the_smoothed_input_is_the_twice_averaged_unit_neighbourhood():
    X = np.array([[2, 0], [0, 3], [1, 1], [5, 5], [0, 1]], dtype=np.float32)
    rows = np.array([0, 1, 2, 4])        # document 3 is not a training document: its row is 0
    nb = np.array([[0, 2], [1, 3], [2, 0], [3, 1]])    # indices into rows
    u = X[rows] / np.linalg.norm(X[rows], axis=1, keepdims=True)
    once = u[nb].mean(1)
    once /= np.linalg.norm(once, axis=1, keepdims=True)
    twice = once[nb].mean(1)
    twice /= np.linalg.norm(twice, axis=1, keepdims=True)
    out = smoothed_input(X, nb, rows)
    assert out.dtype == np.float32 and out.shape == (5, 2)
    np.testing.assert_allclose(out[rows], twice, rtol=1e-6)
    np.testing.assert_array_equal(out[3], [0, 0])
    np.testing.assert_allclose(smoothed_input(X, nb, rows, rounds=1)[rows], once, rtol=1e-6)
    # a neighbourhood of the document alone is the unit input
    np.testing.assert_allclose(smoothed_input(X, nb[:, :1], rows)[rows], u, rtol=1e-6)


def _word_vector_corpus(seed, n_docs=1000, n_topics=10):
    """Four-word planted documents, 30% of their tokens noise, embedded as the mean of random
    word vectors: the embedding knows which words a text has and nothing of what they mean, so
    two documents of one topic are close only if they share a word, as short texts often do not.
    A teacher that knows nothing (random logits)."""
    texts, _, dominant = planted_corpus(n_topics=n_topics, n_docs=n_docs, doc_len=4, noise=0.3,
                                        seed=seed)
    rng = np.random.default_rng(seed + 10)
    vectors = {w: rng.normal(size=64) for w in sorted({w for t in texts for w in t.split()})}
    embedding = np.array([np.mean([vectors[w] for w in t.split()], 0) for t in texts],
                         dtype=np.float32)
    return texts, dominant, embedding, rng


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_cluster_term_on_the_smoothed_input_recovers_topics_the_raw_input_hides(seed):
    """Neighbours link documents that share no word through documents that share one with
    each: k-means on the smoothed input finds the topics, on the input itself far less, and the
    default model (cluster_neighbours=10) follows the smoothed partition."""
    from sklearn.cluster import KMeans
    texts, dominant, embedding, rng = _word_vector_corpus(seed)
    rows = np.arange(len(texts))
    unit = embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
    raw = KMeans(10, n_init=1, random_state=seed).fit_predict(unit)
    smooth = KMeans(10, n_init=1, random_state=seed).fit_predict(
        smoothed_input(embedding, nearest_neighbours(embedding, 10, rows), rows))
    # measured: raw .50 / .47 / .50, smoothed .82 / .80 / .80 (seeds 0-2)
    assert normalized_mutual_info_score(dominant, smooth) > \
        normalized_mutual_info_score(dominant, raw) + 0.2
    nmi = {}
    for k in (1, 10):
        # cluster_neighbours=1 has no neighbour graph to merge k-means cells along
        model = SoftLabelTM(10, teacher="encoder", cluster_neighbours=k, seed=seed,
                            progress=False, **({"cluster_oversplit": 1} if k == 1 else {}))
        logits = rng.normal(size=(len(texts), len(model.vocabulary_for(texts))))
        theta = model.fit_transform(texts, features={"embedding": embedding,
                                                     "encoder_logits": logits.astype(np.float32)})
        nmi[k] = normalized_mutual_info_score(dominant, theta.argmax(1))
    # measured (default weight 300): cluster_neighbours=1 .54 / .50 / .51, 10 .82 / .80 / .80
    assert nmi[10] > 0.75 and nmi[10] > nmi[1] + 0.1, nmi


def test_one_search_serves_both_neighbourhood_features(monkeypatch):
    texts, dominant, embedding, rng = _word_vector_corpus(0, n_docs=120, n_topics=4)
    calls = []
    search = neighbourhood.nearest_neighbours
    monkeypatch.setattr(neighbourhood, "nearest_neighbours",
                        lambda X, k, rows, parameter="bow_neighbours":
                        calls.append((k, parameter)) or search(X, k, rows, parameter))
    model = SoftLabelTM(4, teacher="encoder", bow_neighbours=3, cluster_neighbours=6, epochs=1,
                        progress=False)
    logits = rng.normal(size=(120, len(model.vocabulary_for(texts)))).astype(np.float32)
    model.fit(texts, features={"embedding": embedding, "encoder_logits": logits})
    assert calls == [(6, "cluster_neighbours")]          # the larger k, once
    rows = np.arange(120)
    nb = search(embedding, 6, rows)
    features = model._compute_features(
        softtopic_corpus(texts), model.vocabulary_.transform(texts),
        {"bow_neighbours", "cluster_input"}, {"embedding": embedding})
    np.testing.assert_allclose(features["cluster_input"], smoothed_input(embedding, nb, rows),
                               rtol=1e-6)
    np.testing.assert_allclose(
        features["bow_neighbours"].toarray(),
        neighbour_bag_of_words(model.vocabulary_.transform(texts), nb[:, :3], rows).toarray())
    # the cluster term's k-means reads the smoothed input
    assert model.module_.regularizers[0].feature == "cluster_input"
    assert SoftLabelTM(cluster_neighbours=1)._extra_features()[0] == "bow_neighbours"
    assert SoftLabelTM(cluster_weight=0)._extra_features()[0] == "bow_neighbours"


def test_a_model_saved_before_a_parameter_existed_loads_as_it_was_trained(tmp_path):
    """Models saved before the target's corrections (bow_mix, bow_neighbours, hub_correction),
    cluster_weight (round 7), cluster_neighbours (round 8) or cluster_oversplit (round 10)
    existed, or before mu_batch_norm did, lack them in their config: they load with the values
    they were trained with (the paper's pure soft label, no cluster term, k-means on the input
    itself, plain k-means, ProdLDA's fixed batch norm), not with today's defaults (0.25, 10,
    300, 10, 3, "scale")."""
    texts, _, embedding, rng = _word_vector_corpus(0, n_docs=120, n_topics=4)
    given = {"embedding": embedding}
    paper_target = {"bow_mix": 0.0, "bow_neighbours": 1, "hub_correction": "none"}
    # (the parameters of the fit, those its saved config lacks)
    for saved_with, missing in (
            ({**paper_target, "cluster_weight": 0.0, "cluster_neighbours": 1,
              "cluster_oversplit": 1},
             (*paper_target, "cluster_weight", "cluster_neighbours", "cluster_oversplit")),
            ({"cluster_weight": 0.0, "cluster_neighbours": 1, "cluster_oversplit": 1},
             ("cluster_weight", "cluster_neighbours", "cluster_oversplit")),
            ({"cluster_weight": 50.0, "cluster_neighbours": 1, "cluster_oversplit": 1},
             ("cluster_neighbours", "cluster_oversplit")),
            ({"cluster_weight": 50.0, "cluster_oversplit": 1, "mu_batch_norm": None},
             ("cluster_oversplit", "mu_batch_norm"))):
        model = SoftLabelTM(4, teacher="encoder", epochs=2, progress=False, **saved_with)
        logits = rng.normal(size=(120, len(model.vocabulary_for(texts)))).astype(np.float32)
        model.fit(texts, features={**given, "encoder_logits": logits})
        folder = model.save(tmp_path / f"m{len(missing)}-{len(saved_with)}")
        config = json.loads((folder / "config.json").read_text())
        for name in missing:
            del config["params"][name]
        (folder / "config.json").write_text(json.dumps(config))
        loaded = load(folder)
        assert {name: getattr(loaded, name) for name in missing} == \
            {name: getattr(model, name) for name in missing}
        assert loaded.teacher_description() == model.teacher_description()
        first = {"embedding": embedding[:10]}
        np.testing.assert_array_equal(loaded.transform(texts[:10], features=first),
                                      model.transform(texts[:10], features=first))


def softtopic_corpus(texts):
    from softtopic.corpus import as_corpus
    return as_corpus(texts)


def test_the_target_mixes_the_neighbourhood_words():
    raw = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    neighbourhood = torch.tensor([[0.25, 0.75], [1.0, 0.0]])
    target = SoftLabelTarget("lm_logits", tau=1.0, bow_mix=0.4, bow_feature="bow_neighbours")
    assert target.features == ("lm_logits", "bow_neighbours")
    e = np.exp(3.0) / (np.exp(3.0) + 1)
    np.testing.assert_allclose(target.distribution(raw, neighbourhood).numpy(),
                               [[0.6 * 0.5 + 0.4 * 0.25, 0.6 * 0.5 + 0.4 * 0.75],
                                [0.6 * e + 0.4, 0.6 * (1 - e)]], rtol=1e-6)


def _short_planted(n_docs=500, n_topics=10):
    """Two-word documents, half of their tokens noise; an input feature that knows each
    document's topic (noisily), and a teacher that knows nothing (random logits)."""
    texts, topics, dominant = planted_corpus(n_topics=n_topics, n_docs=n_docs, doc_len=2,
                                             noise=0.5, seed=0)
    rng = np.random.default_rng(1)
    embedding = (np.eye(n_topics)[dominant] + rng.normal(scale=0.3, size=(n_docs, n_topics))
                 ).astype(np.float32)
    return texts, dominant, embedding, rng


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_neighbourhood_words_recover_short_documents_topics_where_own_words_do_not(seed):
    texts, dominant, embedding, rng = _short_planted()
    nmi = {}
    for k in (1, 10):
        # without the cluster term, which would recover the partition from the embedding
        # whatever the words (tests/test_cluster_regularizer.py): this is the words' effect
        model = SoftLabelTM(10, teacher="encoder", bow_neighbours=k, cluster_weight=0,
                            seed=seed, progress=False)
        logits = rng.normal(size=(len(texts), len(model.vocabulary_for(texts))))
        theta = model.fit_transform(texts, features={"embedding": embedding,
                                                     "encoder_logits": logits.astype(np.float32)})
        nmi[k] = normalized_mutual_info_score(dominant, theta.argmax(1))
    # measured at bow_mix 0.25 (the default; a quarter of the target is words, the rest the
    # random teacher) with the default theta (the posterior mean, n_samples=0): own words
    # 0.67 / 0.63 / 0.52, ten neighbours 0.77 / 0.79 / 0.67 (seeds 0-2); with CTM's 20-sample
    # theta it was 0.61 / 0.59 / 0.50 and 0.75 / 0.73 / 0.65
    assert nmi[10] > 0.6 and nmi[10] > nmi[1] + 0.05, nmi


def test_defaults_and_the_paper_setting():
    model = SoftLabelTM()
    assert (model.bow_mix, model.bow_neighbours, model.dropout, model.theta_dropout,
            model.cluster_weight, model.cluster_neighbours, model.cluster_oversplit,
            model.mu_batch_norm, model.n_samples) == \
        (0.25, 10, 0.0, 0.0, 300.0, 10, 3, "scale", 0)
    paper = get_model_class("softlabel-paper")()
    assert isinstance(paper, SoftLabelTM)
    assert {k: getattr(paper, k) for k in PAPER_SETTING} == \
        {"bow_mix": 0.0, "bow_neighbours": 1, "dropout": 0.2, "theta_dropout": 0.2,
         "cluster_weight": 0.0, "cluster_oversplit": 1, "mu_batch_norm": None, "n_samples": 20}
    assert (paper.tau, paper.weight, paper.divergence, paper.top_k, paper.hub_correction) == \
        (3.0, 1e3, "kl", None, "none")
    # the paper's ablations keep the paper's setting; ZeroShotTM's equivalent is ZeroShotTM's
    for name in ("softlabel-nll", "softlabel-nll-bow", "softlabel-embeddings",
                 "softlabel-nll-bow-embeddings"):
        assert get_model_class(name)().bow_mix == 0.0 and get_model_class(name)().dropout == 0.2
    # the paper's pure soft label reads no bag of words: bow_neighbours is not computed
    targets = ("soft_label_target", "soft_label_neg_entropy")
    assert paper._extra_features() == targets
    graph = ("cluster_input", "neighbour_graph")
    assert model._extra_features() == (*graph, "bow_neighbours", *targets)
    assert SoftLabelTM(bow_neighbours=1)._extra_features() == (*graph, "bow", *targets)
    assert SoftLabelTM(cluster_oversplit=1)._extra_features() == \
        ("cluster_input", "bow_neighbours", *targets)


def test_the_default_theta_is_the_posterior_mean_not_a_sample_average():
    """n_samples=0 (round 13): theta is softmax(mu), so no inference noise reaches it."""
    texts, dominant, embedding, rng = _short_planted(n_docs=200, n_topics=5)
    model = SoftLabelTM(5, teacher="encoder", epochs=20, seed=0, progress=False)
    logits = rng.normal(size=(len(texts), len(model.vocabulary_for(texts)))).astype(np.float32)
    features = {"embedding": embedding, "encoder_logits": logits}
    theta = model.fit_transform(texts, features=features)
    np.testing.assert_allclose(theta.sum(1), 1, atol=1e-5)
    # the noise generator is seeded by `seed`: another seed changes nothing without sampling
    np.testing.assert_array_equal(model.set_params(seed=7).transform(texts, features=features),
                                  theta)
    sampled = model.set_params(n_samples=20).transform(texts, features=features)
    assert np.abs(sampled - theta).max() > 1e-3           # CTM's 20-sample mean differs...
    assert (sampled.argmax(1) == theta.argmax(1)).mean() > 0.95   # ...but not in its topics


def test_bad_neighbour_counts_are_named():
    texts = [f"alpha beta gamma{i % 3}" for i in range(6)]
    given = {"embedding": np.eye(6, dtype=np.float32)}
    for parameter in ("bow_neighbours", "cluster_neighbours"):
        with pytest.raises(ValueError, match=f"parameter {parameter} must be"):
            SoftLabelTM(2, teacher="encoder", progress=False, **{parameter: 0}).fit(texts)
    for parameter, kwargs in (("bow_neighbours", dict(bow_neighbours=7, cluster_weight=0)),
                              ("cluster_neighbours", dict(bow_neighbours=2))):
        model = SoftLabelTM(2, teacher="encoder", epochs=1, progress=False, **kwargs)
        n = len(model.vocabulary_for(texts))
        k = kwargs.get("bow_neighbours") if parameter == "bow_neighbours" else 10
        with pytest.raises(ValueError, match=f"{parameter}={k} exceeds the number of training "
                                             "documents with vocabulary words \\(6\\)"):
            model.fit(texts, features={**given, "encoder_logits": np.zeros((6, n), np.float32)})


def test_a_streamed_fit_equals_the_in_memory_fit(tmp_path):
    from softtopic import stream_corpus
    fruit = ["apple", "banana", "cherry", "damson", "elder", "grape", "lemon"]
    texts = [f"{fruit[i % 7]} {fruit[(3 * i) % 7]} {fruit[(i // 7) % 7]}" for i in range(40)]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    kwargs = dict(teacher="encoder", epochs=3, progress=False, bow_neighbours=5)
    n = len(SoftLabelTM(2, **kwargs).vocabulary_for(texts))
    rng = np.random.default_rng(0)
    given = {"embedding": rng.normal(size=(40, 4)).astype(np.float32),
             "encoder_logits": rng.normal(size=(40, n)).astype(np.float32)}
    memory = SoftLabelTM(2, **kwargs).fit(texts, features=given)
    streamed = SoftLabelTM(2, **kwargs).fit(stream_corpus(path, work_dir=tmp_path / "w"),
                                            features=given)
    np.testing.assert_allclose(streamed.topic_word_, memory.topic_word_, atol=1e-6)
    own = SoftLabelTM(2, **{**kwargs, "bow_neighbours": 1}).fit(texts, features=given)
    assert not np.allclose(own.topic_word_, memory.topic_word_)


def test_neighbourhood_words_through_the_tiny_lm(tmp_path):
    """The LM teacher finds neighbours by its hidden state; the setting is saved and the
    reloaded model gives identical output."""
    from tiny_lm import make_tiny_lm, topic_texts
    texts = topic_texts(32, seed=1, max_words=25)
    lm = str(make_tiny_lm(tmp_path, texts))
    kwargs = dict(lm=lm, epochs=5, batch_size=8, progress=False, cache_dir=str(tmp_path / "c"),
                  seed=0)
    own = SoftLabelTM(4, bow_neighbours=1, **kwargs).fit(texts)
    pooled = SoftLabelTM(4, bow_neighbours=4, **kwargs).fit(texts)
    assert not np.allclose(own.topic_word_, pooled.topic_word_)   # the target changed
    again = SoftLabelTM(4, bow_neighbours=4, **kwargs).fit(texts)   # seeded, views cached
    np.testing.assert_array_equal(again.topic_word_, pooled.topic_word_)
    pooled.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert loaded.bow_neighbours == 4 and loaded.bow_mix == 0.25
    np.testing.assert_array_equal(loaded.transform(texts), pooled.transform(texts))


def test_derived_features_come_after_those_they_are_derived_from(monkeypatch):
    from softtopic.models import neural
    registry = dict(neural.DERIVED_FEATURES)
    monkeypatch.setattr(neural, "DERIVED_FEATURES", registry)
    neural.derived_feature("a_target", after=("z_words",))(lambda *a: {})
    neural.derived_feature("z_words", after=("m_first",))(lambda *a: {})
    neural.derived_feature("m_first")(lambda *a: {})
    assert neural.derived_order({"a_target", "z_words", "m_first"}) == \
        ["m_first", "z_words", "a_target"]
    assert neural.derived_order({"a_target"}) == ["a_target"]   # what is not asked is not added
    order = neural.derived_order({"soft_label_target", "soft_label_neg_entropy",
                                  "bow_neighbours"})
    assert order[0] == "bow_neighbours"
