"""The neighbourhood bag of words (bow_neighbours) and the soft-label defaults it is part of."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from planted import planted_corpus
from sklearn.metrics import normalized_mutual_info_score

from softtopic import SoftLabelTM, load
from softtopic.models.neighbour_words import nearest_neighbours, neighbour_bag_of_words
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
    # measured: own words 0.65 / 0.72 / 0.59, ten neighbours 0.76 / 0.82 / 0.81 (seeds 0-2)
    assert nmi[10] > 0.75 and nmi[10] > nmi[1] + 0.05, nmi


def test_defaults_and_the_paper_setting():
    model = SoftLabelTM()
    assert (model.bow_mix, model.bow_neighbours, model.dropout, model.theta_dropout,
            model.cluster_weight) == (0.5, 10, 0.0, 0.0, 100.0)
    paper = get_model_class("softlabel-paper")()
    assert isinstance(paper, SoftLabelTM)
    assert {k: getattr(paper, k) for k in PAPER_SETTING} == \
        {"bow_mix": 0.0, "bow_neighbours": 1, "dropout": 0.2, "theta_dropout": 0.2,
         "cluster_weight": 0.0}
    assert (paper.tau, paper.weight, paper.divergence, paper.top_k, paper.hub_correction) == \
        (3.0, 1e3, "kl", None, "none")
    # the paper's ablations keep the paper's setting; ZeroShotTM's equivalent is ZeroShotTM's
    for name in ("softlabel-nll", "softlabel-nll-bow", "softlabel-embeddings",
                 "softlabel-nll-bow-embeddings"):
        assert get_model_class(name)().bow_mix == 0.0 and get_model_class(name)().dropout == 0.2
    # the paper's pure soft label reads no bag of words: bow_neighbours is not computed
    targets = ("soft_label_target", "soft_label_neg_entropy")
    assert paper._extra_features() == targets
    assert model._extra_features() == ("bow_neighbours", *targets)
    assert SoftLabelTM(bow_neighbours=1)._extra_features() == ("bow", *targets)


def test_bad_neighbour_counts_are_named():
    texts = [f"alpha beta gamma{i % 3}" for i in range(6)]
    with pytest.raises(ValueError, match="bow_neighbours"):
        SoftLabelTM(2, teacher="encoder", bow_neighbours=0, progress=False).fit(texts)
    model = SoftLabelTM(2, teacher="encoder", bow_neighbours=7, epochs=1, progress=False)
    n = len(model.vocabulary_for(texts))
    with pytest.raises(ValueError, match="bow_neighbours=7 exceeds the number of training "
                                         "documents with vocabulary words \\(6\\)"):
        model.fit(texts, features={"embedding": np.eye(6, dtype=np.float32),
                                   "encoder_logits": np.zeros((6, n), np.float32)})


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
    assert loaded.bow_neighbours == 4 and loaded.bow_mix == 0.5
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
