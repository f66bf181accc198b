"""Baselines of the paper's Table 1 through the common API: planted-topic recovery, save/load
round trips, word-vector files, and the missing-package message of wrapped models."""
import importlib.util
import sys

import numpy as np
import pytest

from softtopic.models import ECRTM, ETM, load
from softtopic.models.word_embeddings import file_word_embeddings

K_PLANTED, WORDS_PER_TOPIC, N_NOISE = 4, 10, 4


def _words(n, rng):
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    out = set()
    while len(out) < n:
        out.add("".join(rng.choice(list(consonants)) + rng.choice(list(vowels))
                        for _ in range(3)))
    return sorted(out)


@pytest.fixture(scope="module")
def planted():
    """Documents from K known topics (10 distinct words each, Zipf-like weights) + shared noise.

    Few noise words on purpose: ECR splits the vocabulary into K equal clusters and ECRTM ranks
    words by the topic-normalised beta, so a cluster larger than 10 words (10 + N_NOISE / K)
    would tie noise words with topic words in the top 10."""
    rng = np.random.default_rng(0)
    words = _words(K_PLANTED * WORDS_PER_TOPIC + N_NOISE, rng)
    topics = [words[k * WORDS_PER_TOPIC:(k + 1) * WORDS_PER_TOPIC] for k in range(K_PLANTED)]
    noise = words[K_PLANTED * WORDS_PER_TOPIC:]
    weights = 1.0 / np.arange(1, WORDS_PER_TOPIC + 1) ** 0.5
    weights /= weights.sum()
    docs, labels = [], []
    for i in range(240):
        k = i % K_PLANTED
        tokens = list(rng.choice(topics[k], size=38, p=weights)) + list(rng.choice(noise, 4))
        rng.shuffle(tokens)
        docs.append(" ".join(tokens))
        labels.append(k)
    return docs, topics, labels


def assert_recovers(model, topics):
    learned = model.get_topics(10)
    for planted_words in topics:
        best = max(len(set(planted_words) & set(t)) for t in learned)
        assert best >= 8, (planted_words, learned)


def assert_common_outputs(model, n_docs, k, v):
    assert model.theta_.shape == (n_docs, k)
    np.testing.assert_allclose(model.theta_.sum(1), 1.0, atol=1e-5)
    assert model.topic_word_.shape == (k, v)
    np.testing.assert_allclose(model.topic_word_distribution().sum(1), 1.0, atol=1e-5)
    assert len(model.get_topic_info()) == k


def assert_reload_identical(model, docs, tmp_path):
    path = model.save(tmp_path / type(model).__name__)
    again = load(path)
    assert type(again) is type(model)
    np.testing.assert_array_equal(again.topic_word_, model.topic_word_)
    np.testing.assert_array_equal(again.theta_, model.theta_)
    np.testing.assert_allclose(again.transform(docs[:20]), model.transform(docs[:20]),
                               atol=1e-6)
    assert again.get_topics(10) == model.get_topics(10)
    return again


@pytest.fixture(scope="module")
def vector_file(planted, tmp_path_factory):
    """A word2vec text file with random vectors for all but two vocabulary words."""
    docs, topics, _ = planted
    vocab = sorted({w for d in docs for w in d.split()})
    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("vectors") / "vectors.txt"
    kept = vocab[2:]
    lines = [f"{len(kept)} 64"] + [w + " " + " ".join(f"{x:.5f}" for x in rng.normal(size=64))
                                   for w in kept]
    path.write_text("\n".join(lines) + "\n")
    return path, vocab[:2]


# ---------------------------------------------------------------------------------- ECRTM
def test_ecrtm_recovers_planted_topics_and_reloads(planted, vector_file, tmp_path):
    docs, topics, _ = planted
    model = ECRTM(K_PLANTED, word_vectors=str(vector_file[0]), epochs=80, batch_size=32, seed=0,
                  progress=False)
    model.fit(docs)
    assert model.word_embedding_report_["missing"] == 2
    assert_common_outputs(model, len(docs), K_PLANTED, len(model.vocabulary_))
    assert_recovers(model, topics)
    assert "ecr" in model.history_["parts"][-1]
    assert_reload_identical(model, docs, tmp_path)


def test_ecrtm_beta_is_normalised_over_topics(planted, vector_file):
    docs, _, _ = planted
    model = ECRTM(K_PLANTED, word_vectors=str(vector_file[0]), epochs=1, progress=False)
    model.fit(docs)
    beta = np.exp(model.topic_word_)
    np.testing.assert_allclose(beta.sum(0), 1.0, atol=1e-5)   # columns, as the reference


# ---------------------------------------------------------------------------------- ETM
def test_etm_recovers_planted_topics_and_reloads(planted, vector_file, tmp_path):
    docs, topics, _ = planted
    model = ETM(K_PLANTED, word_vectors=str(vector_file[0]), epochs=60, batch_size=32,
                seed=0, progress=False)
    model.fit(docs)
    assert_common_outputs(model, len(docs), K_PLANTED, len(model.vocabulary_))
    assert_recovers(model, topics)
    # frozen embeddings: the decoder keeps them as a buffer equal to the file's vectors
    rho = model.module_.decoder.word_embeddings
    assert not rho.requires_grad
    again = assert_reload_identical(model, docs, tmp_path)
    np.testing.assert_array_equal(again.module_.decoder.word_embeddings.numpy(), rho.numpy())


def test_word_vector_file_missing_words(vector_file, tmp_path):
    path, missing = vector_file
    table, report = file_word_embeddings(missing + ["zzzzzz"], path, missing="zero")
    assert report["missing"] == 3 and report["dim"] == 64
    assert not table.any()
    glove = tmp_path / "glove.txt"        # GloVe: no header line
    glove.write_text("hello 1.0 2.0 3.0\nworld 4.0 5.0 6.0\n")
    table, report = file_word_embeddings(["world", "Hello", "gone"], glove, missing="random")
    np.testing.assert_array_equal(table[0], [4, 5, 6])
    assert report["missing"] == 2 and report["missing_words"] == ["Hello", "gone"]
    assert table[2].any()


# ---------------------------------------------------------------------------------- LDA
def test_lda_recovers_planted_topics_and_reloads(planted, tmp_path):
    from softtopic.models.wrappers import LDA
    docs, topics, _ = planted
    model = LDA(K_PLANTED, passes=50, chunksize=60, seed=0, progress=False).fit(docs + [""])
    assert list(model.empty_documents_) == [len(docs)]
    np.testing.assert_allclose(model.theta_[-1], 1 / K_PLANTED)
    assert_common_outputs(model, len(docs) + 1, K_PLANTED, len(model.vocabulary_))
    assert_recovers(model, topics)
    np.testing.assert_array_equal(model.transform(docs[:5]), model.transform(docs[:5]))
    assert_reload_identical(model, docs, tmp_path)
    again = LDA(K_PLANTED, passes=50, chunksize=60, seed=0, progress=False).fit(docs + [""])
    np.testing.assert_array_equal(again.topic_word_, model.topic_word_)   # seeded


# ---------------------------------------------------------------------------------- wrapped
def test_missing_wrapped_package_says_which_extra(monkeypatch, planted):
    from softtopic.models.wrappers import BERTopic, FASTopic
    for package in ("fastopic", "bertopic"):   # a None entry makes `import package` fail
        monkeypatch.setitem(sys.modules, package, None)
    for klass, package in ((FASTopic, "fastopic"), (BERTopic, "bertopic")):
        with pytest.raises(ImportError, match=rf"{package}.*softtopic\[baselines\]"):
            klass(4, progress=False).fit(planted[0])


needs = lambda package: pytest.mark.skipif(importlib.util.find_spec(package) is None,  # noqa
                                           reason=f"{package} not installed")


@needs("fastopic")
def test_fastopic_recovers_planted_topics_and_reloads(planted, tmp_path):
    from softtopic.models.wrappers import FASTopic
    docs, topics, _ = planted
    model = FASTopic(K_PLANTED, epochs=100, seed=0, progress=False).fit(docs)
    assert_common_outputs(model, len(docs), K_PLANTED, len(model.vocabulary_))
    assert_recovers(model, topics)
    assert_reload_identical(model, docs, tmp_path)


@pytest.mark.slow   # UMAP's numba compilation alone takes about a minute on a busy CPU
@needs("bertopic")
def test_bertopic_outputs_shortfall_and_reload(planted, tmp_path):
    """Asked for twice the planted topics with clusters of at least 40 of the 240 documents,
    HDBSCAN finds at most 6 (the planted 60-document topics, usually 4): the
    shortfall is explicit (attribute, warning naming both numbers), the outputs have the found
    number of topics (not padded), and a reloaded model keeps it."""
    from softtopic.models.wrappers.bertopic import BERTopic, TopicShortfallWarning
    docs, topics, _ = planted
    asked = 2 * K_PLANTED
    shortfall = rf"found (\d+) topics, asked for {asked}"
    with pytest.warns(TopicShortfallWarning, match=shortfall) as record:
        model = BERTopic(asked, min_cluster_size=40, seed=0, progress=False).fit(docs)
    found = model.n_topics_found_
    assert 0 < found < asked and model.n_topics == asked and model.n_topics_ == found
    messages = [str(w.message) for w in record if w.category is TopicShortfallWarning]
    assert len(messages) == 1 and f"found {found} topics" in messages[0]
    assert_common_outputs(model, len(docs), found, len(model.vocabulary_))
    assert len(model.get_topics()) == found and model.transform(docs[:3]).shape == (3, found)
    if found == K_PLANTED:
        assert_recovers(model, topics)
    again = assert_reload_identical(model, docs, tmp_path)
    assert again.n_topics_found_ == found
