"""Soft labels on the ETM, ECRTM and FASTopic-style backbones (issue 5): planted-topic recovery
from an ideal teacher, save/load, parameters, the ECRTM tau / beta_temperature split, the
transport-plan decoder."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from planted import mixture_corpus, shared_words

from softtopic import (ECRTM, SoftLabelECRTM, SoftLabelETM, SoftLabelFASTopic, SoftLabelTM,
                       load)
from softtopic.models.decoders import TransportPlanDecoder
from softtopic.models.presets import SoftLabelPreset, TransportPlanTM
from softtopic.models.registry import MODELS
from softtopic.models.targets import SoftLabelTarget

K = 4
PRESETS = {"softlabel-etm": SoftLabelETM, "softlabel-ecrtm": SoftLabelECRTM,
           "softlabel-fastopic": SoftLabelFASTopic}


@pytest.fixture(scope="module")
def corpus():
    # few background words: ECRTM ranks words by the topic-normalised beta and ECR splits the
    # vocabulary into K equal clusters (see test_baselines.planted)
    return mixture_corpus(n_topics=K, n_docs=300, n_background=4)


@pytest.fixture(scope="module")
def vector_file(corpus, tmp_path_factory):
    """Random 32-d word vectors for every word (no sentence encoder needed)."""
    words = corpus[4]
    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("vectors") / "vectors.txt"
    path.write_text(f"{len(words)} 32\n" + "\n".join(
        w + " " + " ".join(f"{x:.5f}" for x in rng.normal(size=32)) for w in words) + "\n")
    return str(path)


def teacher_features(model, corpus):
    """An ideal teacher: raw logits whose soft label at the model's tau is exactly p_d, and a
    hidden state that is a linear image of the true theta."""
    texts, _, theta, p, words = corpus
    cols = [words.index(w) for w in model.vocabulary_for(texts)]
    logits = (model.tau * np.log(p[:, cols])).astype(np.float32)
    hidden = (theta @ np.random.default_rng(1).normal(size=(K, 16))).astype(np.float32)
    return {"lm_hidden": hidden, "lm_logits": logits}


def make(name, vector_file, **kwargs):
    extra = {"embedding_dim": 32} if name == "softlabel-fastopic" else \
        {"word_vectors": vector_file}
    return MODELS[name](K, epochs=30, batch_size=32, seed=0, progress=False,
                        **{**extra, **kwargs})


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_recovers_planted_topics_from_soft_labels_and_reloads(name, corpus, vector_file,
                                                                     tmp_path):
    texts, planted, _, _, _ = corpus
    model = make(name, vector_file)
    assert type(model) is PRESETS[name]
    features = teacher_features(model, corpus)
    model.fit(texts, features=features)
    assert model._input_features() == ("lm_hidden",)
    definition = model.module_.target.definition
    assert isinstance(definition, SoftLabelTarget)
    assert definition.tau == 3.0 and definition.weight == 1e3
    learned = model.get_topics(10)
    assert all(shared_words(planted, learned)), learned
    np.testing.assert_allclose(model.theta_.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(model.topic_word_distribution().sum(1), 1.0, atol=1e-5)
    assert "language model" in model.get_topic_info().attrs["teacher"]
    # save/load: same class, same parameters, identical transform output
    again = load(model.save(tmp_path / name))
    assert type(again) is type(model) and again.get_params() == model.get_params()
    new = {"lm_hidden": features["lm_hidden"][:20]}
    np.testing.assert_array_equal(model.transform(texts[:20], features=new),
                                  again.transform(texts[:20], features=new))
    np.testing.assert_array_equal(again.topic_word_, model.topic_word_)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_get_params_round_trip_and_one_definition_of_the_soft_label(name):
    klass = PRESETS[name]
    model = klass(7, tau=2.5, weight=10.0, divergence="ce", top_k=5, teacher="encoder",
                  epochs=3)
    params = model.get_params()
    assert params["tau"] == 2.5 and params["weight"] == 10.0 and params["top_k"] == 5
    assert klass(**params).get_params() == params
    assert model.set_params(tau=4.0).tau == 4.0
    assert model.default_input == "embedding"        # the encoder teacher's input
    # the soft-label parameters are defined once, in SoftLabelPreset
    assert issubclass(klass, SoftLabelPreset) and "__init__" not in klass.__dict__
    # SoftLabelTM only re-defaults the four parameters of the paper's setting (issue 10)
    import inspect
    from softtopic.models.presets import PAPER_SETTING
    own = set(inspect.signature(SoftLabelTM.__init__).parameters) - {"self", "n_topics", "kwargs"}
    assert own == set(PAPER_SETTING)
    with pytest.raises(ValueError, match="teacher must be one of"):
        klass(7, teacher="bert", epochs=1).fit(["aaa bbb"] * 10)


def test_ecrtm_beta_temperature_and_soft_label_tau_are_separate(vector_file, corpus):
    assert ECRTM(beta_temperature=0.1).beta_temperature == 0.1
    assert "tau" not in ECRTM._param_names()
    with pytest.raises(TypeError, match="beta_temperature"):
        ECRTM(tau=0.2)
    model = SoftLabelECRTM(K, tau=3, beta_temperature=0.25, word_vectors=vector_file, epochs=1,
                           progress=False)
    assert model.tau == 3 and model.beta_temperature == 0.25
    assert repr(model).startswith("SoftLabelECRTM(n_topics=4, beta_temperature=0.25")
    model.fit(corpus[0], features=teacher_features(model, corpus))
    assert model.module_.decoder.beta_temperature == 0.25
    assert model.module_.target.definition.tau == 3
    # the ECRTM part is intact: its regulariser and topic-normalised beta
    assert "ecr" in model.history_["parts"][-1]
    np.testing.assert_allclose(np.exp(model.topic_word_).sum(0), 1.0, atol=1e-5)


def test_transport_plan_decoder():
    torch.manual_seed(0)
    decoder = TransportPlanDecoder(3, 11, embedding_dim=8)
    beta = decoder.beta()
    torch.testing.assert_close(beta.sum(1), torch.ones(3))
    # beta is K times the transport plan with marginals 1/K per topic, softmax(w) per word
    plan = decoder.plan()
    torch.testing.assert_close(beta, 3 * plan, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(plan.sum(0), torch.softmax(decoder.word_weights, 0), atol=5e-3,
                               rtol=0)
    theta = torch.softmax(torch.randn(5, 3), 1)
    logits = decoder(theta)
    torch.testing.assert_close(logits.exp().sum(1), torch.ones(5))
    logits.sum().backward()   # gradients reach both embeddings and the word weights
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in (decoder.topic_embeddings, decoder.word_embeddings, decoder.word_weights))


def test_transport_plan_backbone_trains_on_the_bag_of_words(corpus):
    model = TransportPlanTM(K, embedding_dim=16, epochs=2, progress=False).fit(corpus[0])
    assert set(model.history_["parts"][-1]) == {"recon", "kl", "tw"}
    assert model.module_.decoder.last_transport is None   # consumed by the regulariser
    np.testing.assert_allclose(model.topic_word_distribution().sum(1), 1.0, atol=1e-5)
