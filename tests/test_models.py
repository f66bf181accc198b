import numpy as np
import pytest
import torch

import softtopic
from softtopic import CombinedTM, ProdLDA, ZeroShotTM
from softtopic.models.backbone import laplace_dirichlet_prior
from softtopic.models.base import NotFittedError
from softtopic.training import TrainingError

from planted import planted_corpus, recovered

FAST = dict(epochs=40, batch_size=64, progress=False, seed=0)


@pytest.fixture(scope="module")
def planted():
    return planted_corpus(n_topics=5, n_docs=500, seed=0)


def test_prodlda_recovers_planted_topics(planted):
    texts, topics, _ = planted
    model = ProdLDA(n_topics=5, **FAST).fit(texts)
    assert all(recovered(model.get_topics(10), topics))


def test_combinedtm_recovers_planted_topics(planted):
    texts, topics, _ = planted
    model = CombinedTM(n_topics=5, **{**FAST, "epochs": 80}).fit(texts)
    assert all(recovered(model.get_topics(10), topics))


def test_theta_assigns_documents_to_their_planted_topic(planted):
    texts, topics, dominant = planted
    model = ProdLDA(n_topics=5, **FAST).fit(texts)
    theta = model.theta_
    assert theta.shape == (500, 5) and np.allclose(theta.sum(1), 1, atol=1e-5)
    # map each learned topic to the planted topic whose words it ranks first, then compare
    learned_to_planted = [next(i for i, p in enumerate(topics) if t[0] in p)
                          for t in model.get_topics(1)]
    predicted = np.array(learned_to_planted)[theta.argmax(1)]
    assert (predicted == dominant).mean() > 0.9


def test_same_seed_same_model_different_seed_different(planted):
    texts = planted[0][:200]
    a = ProdLDA(n_topics=5, epochs=5, progress=False, seed=1).fit(texts)
    b = ProdLDA(n_topics=5, epochs=5, progress=False, seed=1).fit(texts)
    c = ProdLDA(n_topics=5, epochs=5, progress=False, seed=2).fit(texts)
    np.testing.assert_array_equal(a.theta_, b.theta_)
    np.testing.assert_array_equal(a.topic_word_, b.topic_word_)
    assert not np.array_equal(a.topic_word_, c.topic_word_)


def test_transform_is_repeatable_and_posterior_mean_option(planted):
    texts = planted[0][:200]
    model = ProdLDA(n_topics=5, epochs=5, progress=False).fit(texts)
    np.testing.assert_array_equal(model.transform(texts[:20]), model.transform(texts[:20]))
    mean = model.set_params(n_samples=0).transform(texts[:20])
    assert np.allclose(mean.sum(1), 1, atol=1e-5)
    assert not np.allclose(mean, model.set_params(n_samples=20).transform(texts[:20]))


@pytest.mark.parametrize("klass", [ProdLDA, ZeroShotTM, CombinedTM])
def test_save_load_gives_identical_outputs(tmp_path, planted, klass):
    texts = planted[0][:150]
    model = klass(n_topics=4, epochs=3, progress=False, seed=3).fit(texts)
    before = model.transform(texts[:30])
    model.save(tmp_path / "m")
    loaded = softtopic.load(tmp_path / "m")
    assert type(loaded) is klass and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.transform(texts[:30]), before)
    np.testing.assert_array_equal(loaded.theta_, model.theta_)
    assert loaded.get_topics(10) == model.get_topics(10)
    assert klass.load(tmp_path / "m").get_topics(5) == model.get_topics(5)


def test_outputs_api(planted):
    texts = planted[0][:200]
    model = ProdLDA(n_topics=5, epochs=10, progress=False).fit(texts)
    topic = model.get_topic(0, top_n=5)
    assert [w for w, _ in topic] == model.get_topics(5)[0]
    weights = [p for _, p in topic]
    assert weights == sorted(weights, reverse=True) and 0 < sum(weights) <= 1
    info = model.get_topic_info()
    assert list(info.columns) == ["topic", "size", "share", "label", "name", "top_words"]
    assert info["size"].sum() == 200 and (info["label"] == [t[0] for t in model.get_topics(1)]).all()
    octis = model.to_octis(top_n=10)
    assert octis["topic-document-matrix"].shape == (5, 200)
    assert np.allclose(octis["topic-word-matrix"].sum(1), 1)
    with pytest.raises(IndexError, match="topic 7 out of range"):
        model.get_topic(7)


def test_documents_without_vocabulary_words_are_reported_and_uniform(planted, capsys):
    texts = list(planted[0][:100]) + ["", "the and of it", "12345 !!"]
    model = ProdLDA(n_topics=5, epochs=3, seed=0).fit(texts)
    assert model.empty_documents_.tolist() == [100, 101, 102]
    assert "3 of 103 documents have no vocabulary word" in capsys.readouterr().err
    np.testing.assert_allclose(model.theta_[100:], 0.2)
    assert model.get_topic_info()["size"].sum() == 100
    np.testing.assert_allclose(model.transform(["", planted[0][0]])[0], 0.2)


def test_zeroshot_gives_real_theta_for_documents_without_vocabulary_words(planted):
    texts = list(planted[0][:100]) + ["the and of it"]
    model = ZeroShotTM(n_topics=5, epochs=3, progress=False).fit(texts)
    assert model.empty_documents_.tolist() == [100]
    assert not np.allclose(model.theta_[100], 0.2)  # it has an embedding to read


def test_short_texts_one_or_two_vocabulary_words():
    """Tweets and question titles: documents of one or two vocabulary words."""
    rng = np.random.default_rng(0)
    words = [["goal", "match", "striker"], ["orbit", "rocket", "nasa"], ["bread", "oven", "flour"]]
    truth = np.arange(300) % 3
    texts = [" ".join(rng.choice(words[t], size=rng.integers(1, 3))) for t in truth]
    model = ProdLDA(n_topics=3, epochs=100, progress=False).fit(texts)
    # each learned topic's two leading words come from one planted topic, all three distinct
    owner = [{next(i for i, w in enumerate(words) if word in w) for word in t}
             for t in model.get_topics(2)]
    assert all(len(o) == 1 for o in owner) and len(set.union(*owner)) == 3
    mapping = np.array([o.pop() for o in owner])
    assert (mapping[model.theta_.argmax(1)] == truth).mean() > 0.9


def test_bad_parameters_and_inputs_fail_early_with_names():
    texts = ["alpha beta gamma", "beta gamma delta", "gamma delta epsilon"]
    with pytest.raises(ValueError, match="n_topics must be an integer >= 2"):
        ProdLDA(n_topics=1).fit(texts)
    with pytest.raises(ValueError, match="parameter epochs must be an integer >= 1, got 0"):
        ProdLDA(n_topics=2, epochs=0).fit(texts)
    with pytest.raises(ValueError, match=r"n_topics=10 needs at least as many documents.*3 of 3"):
        ProdLDA(n_topics=10, progress=False).fit(texts)
    with pytest.raises(ValueError, match="input feature 'pixels' is unknown"):
        ProdLDA(n_topics=2, input="bow+pixels").fit(texts)
    with pytest.raises(NotFittedError):
        ProdLDA().get_topics()
    with pytest.raises(ValueError, match="invalid parameter 'n_topic'"):
        ProdLDA().set_params(n_topic=3)


def test_nan_guard_names_the_epoch(planted):
    texts = planted[0][:100]
    bad = np.random.default_rng(0).normal(size=(100, 8)).astype(np.float32)
    bad[5, 3] = np.nan  # one corrupt row in a precomputed embedding
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1, batch \d+"):
        ZeroShotTM(n_topics=5, epochs=2, progress=False).fit(texts, features={"embedding": bad})


def test_prior_is_laplace_approximation_of_dirichlet():
    mean, var = laplace_dirichlet_prior(4, alpha=1.0)
    assert torch.allclose(mean, torch.zeros(4)) and torch.allclose(var, torch.full((4,), 0.75))
    mean, var = laplace_dirichlet_prior(50, alpha=0.02)
    assert torch.allclose(var, torch.full((50,), (1 / 0.02) * (1 - 1 / 50)))


def test_loading_through_another_class_raises_and_softtopic_load_returns_the_saved_one(
        tmp_path, planted):
    ProdLDA(n_topics=4, epochs=2, progress=False).fit(planted[0][:100]).save(tmp_path / "m")
    with pytest.raises(TypeError, match="holds a saved ProdLDA, not a ZeroShotTM.*softtopic.load"):
        ZeroShotTM.load(tmp_path / "m")
    assert type(softtopic.load(tmp_path / "m")) is ProdLDA
    assert type(softtopic.TopicModel.load(tmp_path / "m")) is ProdLDA


def test_mu_batch_norm_fixed_gives_large_topics_small_margins_and_scale_lifts_them():
    """The documented mechanism: without affine parameters a topic on for a share p of the batch
    lifts those documents to sqrt((1 - p) / p) (large topics get small margins); a learned
    scale multiplies that margin, a shift moves every document, "none" leaves mu as it is."""
    from softtopic.models.backbone import mu_normalisation
    for p in (0.5, 0.2, 0.05):
        on = int(200 * p)
        x = torch.zeros(200, 2)
        x[:on, 0] = 3.0                                   # topic 0 on for a share p
        x[:, 1] = torch.linspace(-1, 1, 200)
        fixed = mu_normalisation("fixed", 2).train()(x)
        assert fixed[0, 0].item() == pytest.approx(np.sqrt((1 - p) / p), rel=1e-3)
        assert fixed.mean(0).abs().max().item() < 1e-5
        scaled_layer = mu_normalisation("scale", 2).train()
        with torch.no_grad():
            scaled_layer.scale.copy_(torch.tensor([2.0, 0.5]))
        scaled = scaled_layer(x)
        torch.testing.assert_close(scaled, fixed * torch.tensor([2.0, 0.5]))
    affine = mu_normalisation("affine", 2).train()
    with torch.no_grad():
        affine.weight.copy_(torch.tensor([2.0, 0.5]))
        affine.bias.copy_(torch.tensor([1.0, -1.0]))
    torch.testing.assert_close(affine(x), fixed * torch.tensor([2.0, 0.5]) + torch.tensor([1.0, -1.0]))
    torch.testing.assert_close(mu_normalisation("none", 2)(x), x)
    with pytest.raises(ValueError, match="mu_batch_norm"):
        mu_normalisation("batch", 2)


def test_mu_batch_norm_default_keeps_the_reference_model_and_scale_trains_and_round_trips(
        tmp_path, planted):
    texts, topics, _ = planted
    reference = ProdLDA(n_topics=5, **FAST).fit(texts)
    explicit = ProdLDA(n_topics=5, mu_batch_norm="fixed", **FAST).fit(texts)
    np.testing.assert_array_equal(reference.theta_, explicit.theta_)   # None means "fixed" here
    assert not any("scale" in k for k in reference.module_.state_dict())
    model = ProdLDA(n_topics=5, mu_batch_norm="scale", **FAST).fit(texts)
    assert all(recovered(model.get_topics(10), topics))               # its defaults converge
    scale = model.module_.encoder.mu_bn.scale.detach().numpy()
    assert np.abs(scale - 1).max() > 0.01                             # the scale was learned
    model.save(tmp_path / "m")
    loaded = softtopic.load(tmp_path / "m")
    assert loaded.get_params()["mu_batch_norm"] == "scale"
    np.testing.assert_array_equal(loaded.transform(texts[:30]), model.transform(texts[:30]))
    with pytest.raises(ValueError, match="parameter mu_batch_norm must be"):
        ProdLDA(n_topics=5, mu_batch_norm="batch", **FAST).fit(texts)
