"""Exploring a fitted model: document tables, representative documents, topics of a query,
search by topic distribution (checked against brute force), hand-made labels, topics over
time."""
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from planted import planted_corpus
from softtopic import ProdLDA, load
from softtopic.corpus import Corpus
from softtopic.explore import TopicSearch, topics_over_time
from softtopic.explore.over_time import time_bins

EPS = 1e-12


@pytest.fixture(scope="module")
def fitted():
    texts, topics, dominant = planted_corpus(n_topics=4, n_docs=240, seed=1)
    texts[7] = "the and of it"                 # no vocabulary word: an empty document
    ids = [f"doc{i}" for i in range(len(texts))]
    model = ProdLDA(n_topics=4, epochs=40, seed=0, progress=False)
    model.fit(Corpus(texts, ids=ids))
    return model, texts, topics, dominant


def brute_force(theta, query, metric):
    theta = np.asarray(theta, np.float64)
    theta = theta / theta.sum(1, keepdims=True)
    q = np.asarray(query, np.float64)
    q = q / q.sum()
    if metric == "kl":
        return (q * (np.log(q + EPS) - np.log(theta + EPS))).sum(1)
    return np.sqrt(np.maximum(0, 1 - np.sqrt(q * theta).sum(1)))


@pytest.mark.parametrize("metric", ["kl", "hellinger"])
def test_search_is_exact_against_brute_force(metric):
    rng = np.random.default_rng(0)
    theta = rng.dirichlet(np.full(6, 0.3), 500)
    theta[10] = theta[11]                       # an exact tie: ordered by position
    queries = rng.dirichlet(np.full(6, 0.3), 7)
    index = TopicSearch(theta, metric, block_size=3)   # several blocks
    result = index.query(queries, k=20)
    for i, q in enumerate(queries):
        d = brute_force(theta, q, metric)
        order = np.lexsort((np.arange(len(d)), np.round(d, 9)))[:20]
        assert list(result.indices[i]) == list(order)
        np.testing.assert_allclose(result.distances[i], d[order], rtol=1e-9, atol=1e-12)
    own = index.query_documents([10, 3], k=5)
    assert 10 not in own.indices[0] and own.indices[0][0] == 11 and own.distances[0][0] < 1e-9
    assert 3 not in own.indices[1]
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.query(queries, k=0)
    with pytest.raises(ValueError, match="metric must be one of"):
        TopicSearch(theta, "cosine")


@pytest.mark.parametrize("metric", ["kl", "hellinger"])
def test_screened_search_equals_the_full_float64_ranking_with_many_ties(metric):
    from softtopic.evaluation.retrieval import _Distances, _prepare_theta, nearest
    rng = np.random.default_rng(2)
    theta = np.vstack([np.eye(5)[rng.integers(0, 5, 300)],          # one-hot: massive ties
                       rng.dirichlet(np.full(5, 0.05), 300),         # near-one-hot
                       np.repeat(rng.dirichlet(np.ones(5), 10), 20, axis=0)])  # duplicates
    queries = np.vstack([theta[::37], rng.dirichlet(np.ones(5), 10)])
    full = _Distances(_prepare_theta(theta), metric)
    for k in (1, 7, 50):
        expected = nearest(full.between(_prepare_theta(queries)), k)
        assert (TopicSearch(theta, metric).query(queries, k).indices == expected).all()


def test_model_search_by_document_and_query(fitted):
    model, texts, _, dominant = fitted
    hits = model.search(doc="doc0", k=10)
    assert list(hits.columns) == ["rank", "row", "id", "distance", "topic", "label", "text"]
    assert "doc0" not in set(hits.id) and "doc7" not in set(hits.id)   # itself, empty doc
    assert (np.diff(hits.distance) >= -1e-12).all()
    # the planted corpus: nearest documents by topic distribution share the planted topic
    assert (dominant[hits.row] == dominant[0]).mean() >= 0.9
    expected = brute_force(np.delete(model.theta_, 7, 0), model.theta_[0], "kl")
    assert hits.distance.iloc[0] == pytest.approx(np.sort(np.delete(expected, 0))[0], abs=1e-9)
    by_text = model.search(query=texts[0], k=5, metric="hellinger")
    assert (dominant[by_text.row] == dominant[0]).all()
    with pytest.raises(ValueError, match="exactly one of"):
        model.search()
    with pytest.raises(ValueError, match="no training document has id 'nope'"):
        model.search(doc="nope")
    with pytest.raises(ValueError, match="no vocabulary word"):
        model.search(doc="doc7")


def test_document_info_and_representative_docs(fitted):
    model, texts, _, dominant = fitted
    info = model.get_document_info()
    assert len(info) == len(texts) and info.id[3] == "doc3" and info.text[3] == texts[3]
    theta = model.theta_
    assert (info.topic == theta.argmax(1)).all()
    np.testing.assert_allclose(info.probability, theta.max(1), rtol=1e-6)
    assert info.top_topics[5][0] == info.topic[5] and len(info.top_topics[5]) == 3
    assert info.top_shares[5] == sorted(info.top_shares[5], reverse=True)
    assert list(info.index[info.is_empty]) == [7]
    assert info.label[0] == model.topic_labels()[info.topic[0]]
    rep = model.get_representative_docs(n=3)
    assert len(rep) == 12 and 7 not in set(rep.row)
    for k in range(4):
        rows = rep[rep.topic == k]
        others = np.delete(np.arange(len(texts)), list(rows.row) + [7])
        assert rows.share.min() >= theta[others, k].max() - 1e-7     # really the top 3
        assert (np.diff(rows.share) <= 0).all() and list(rows.text) == [texts[i] for i in rows.row]
    one = model.get_representative_docs(topic=2, n=2)
    assert set(one.topic) == {2} and len(one) == 2
    with pytest.raises(IndexError, match="topic 9 out of range"):
        model.get_representative_docs(topic=9)


def test_find_topics_ranks_the_query_topic_first(fitted):
    model, texts, _, _ = fitted
    topics, shares = model.find_topics(texts[0], top_n=4)
    assert topics[0] == int(model.transform([texts[0]])[0].argmax())
    assert shares == sorted(shares, reverse=True) and sum(shares) == pytest.approx(1, abs=1e-5)
    with pytest.raises(ValueError, match="non-empty string"):
        model.find_topics("  ")


def test_hand_labels_are_shown_and_saved(fitted, tmp_path):
    model, texts, _, _ = fitted
    model.set_topic_labels({1: "second"})
    model.set_topic_labels({"2": "third"})
    labels = model.topic_labels()
    assert labels[1] == "second" and labels[2] == "third"
    assert model.get_topic_info().label[1] == "second"
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert loaded.topic_labels() == labels and loaded.document_ids_[3] == "doc3"
    assert "text" not in loaded.get_document_info().columns        # no text is saved
    assert loaded.get_document_info(texts=texts).text[2] == texts[2]
    assert list(loaded.search(doc="doc1", k=4).id) == list(model.search(doc="doc1", k=4).id)
    with pytest.raises(ValueError, match="got 3 labels for 4 topics"):
        model.set_topic_labels(["a", "b", "c"])
    with pytest.raises(ValueError, match="topic 4 out of range"):
        model.set_topic_labels({4: "x"})
    with pytest.raises(ValueError, match="non-empty string"):
        model.set_topic_labels({0: " "})
    with pytest.raises(ValueError, match="texts must be the 240 training documents"):
        loaded.get_document_info(texts=texts[:5])
    model.custom_labels_ = {}


def test_topics_over_time_attribute_words_by_responsibility():
    # two topics on words 0-1 and 2-3; bin 0 holds topic-0 documents, bin 1 topic-1 documents
    beta = np.array([[0.45, 0.45, 0.05, 0.05], [0.05, 0.05, 0.45, 0.45]])
    theta = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.3, 0.7]])
    bow = sp.csr_matrix(np.array([[3, 1, 0, 1], [2, 0, 1, 0], [0, 1, 4, 2], [1, 0, 0, 3]]))
    table = topics_over_time(theta, beta, bow, ["a", "b", "c", "d"], [1, 2, 9, 10], bins=2,
                             top_n=2)
    assert list(table.columns) == ["bin", "start", "topic", "share", "documents", "words"]
    row = table[(table.bin == 0) & (table.topic == 0)].iloc[0]
    assert row.share == pytest.approx(0.85) and row.documents == 2 and row.words == ["a", "b"]
    # hand computation of topic 1's attributed count of word "c" in bin 1
    r = lambda d, w: theta[d, 1] * beta[1, w] / (theta[d] @ beta[:, w])  # noqa: E731
    dense = bow.toarray()
    expected_c = dense[2, 2] * r(2, 2) + dense[3, 2] * r(3, 2)
    from softtopic.explore.over_time import _attributed_counts
    counts = _attributed_counts(theta[2:], beta, bow[2:])
    assert counts[1, 2] == pytest.approx(expected_c)
    assert counts.sum() == pytest.approx(dense[2:].sum())        # every occurrence attributed
    assert table[(table.bin == 1) & (table.topic == 1)].iloc[0].words == ["d", "c"]


def test_time_bins_of_dates_and_bad_timestamps():
    bins, starts = time_bins(["2020-01-01", "2020-06-01", "2021-01-01"], bins=2)
    assert list(bins) == [0, 0, 1] and starts[1] == pd.Timestamp("2020-07-02", tz="UTC")
    with pytest.raises(ValueError, match="numbers or dates"):
        time_bins(["yesterday-ish", "2020-01-01"], bins=2)
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        time_bins([1, 2], bins=0)


def test_model_topics_over_time(fitted):
    model, texts, _, dominant = fitted
    table = model.topics_over_time(np.arange(len(texts)), bins=3)
    assert set(table.bin) == {0, 1, 2} and isinstance(table, pd.DataFrame)
    shares = table.groupby("bin").share.sum()
    np.testing.assert_allclose(shares, 1.0, rtol=1e-5)
    assert table.documents.sum() == len(texts) - 1                 # the empty one excluded
