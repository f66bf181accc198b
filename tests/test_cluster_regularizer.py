"""The k-means cluster term (`cluster_weight`): values of the loss, the centroids, and what it
does to a model: theta's argmax follows the input's partition where the target alone does not."""
import numpy as np
import pytest
import torch
from sklearn.metrics import normalized_mutual_info_score

import softtopic
from softtopic import CombinedTM, ProdLDA, ZeroShotTM
from softtopic.models.presets import SoftLabelTM
from softtopic.models.partition import kmeans_partition
from softtopic.models.regularizers import ClusterAssignmentRegularizer

from planted import planted_corpus, recovered


def test_loss_is_a_hinge_on_the_posterior_mean_of_the_nearest_centroids_topic():
    centroids = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    reg = ClusterAssignmentRegularizer(3.0, "embedding", centroids)
    # lengths differ: the input is unit-normalised, so (5, 1) is nearest (1, 0), not (0, 1)
    x = torch.tensor([[5.0, 1.0], [0.1, 2.0], [-0.3, 0.1]])
    np.testing.assert_array_equal(reg.assignments(x).numpy(), [0, 1, 2])
    mu = torch.tensor([[2.5, 0.0, 1.0],     # its topic 0 leads by 1.5 >= margin 1: no loss
                       [0.0, 0.5, 0.2],     # topic 1 leads by 0.3: 1 - 0.3 = 0.7
                       [2.0, 0.0, 0.5]])    # topic 2 trails topic 0 by 1.5: 1.5 + 1 = 2.5
    loss = reg(None, {"embedding": x}, {"mu": mu})
    assert loss.item() == pytest.approx(3.0 * (0.0 + 0.7 + 2.5), rel=1e-6)
    assert reg.features == ("embedding",)
    # the gradient reaches only the documents below the margin: the first is left alone
    mu.requires_grad_(True)
    reg(None, {"embedding": x}, {"mu": mu}).backward()
    np.testing.assert_array_equal(mu.grad[0].numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(mu.grad[1].numpy(), [0.0, -3.0, 3.0])
    np.testing.assert_array_equal(mu.grad[2].numpy(), [3.0, 0.0, -3.0])


def test_with_cells_a_document_takes_its_nearest_cells_cluster_or_if_cut_the_nearest_centroids():
    centroids = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    cells = torch.tensor([[1.0, 0.0], [0.7, 0.7], [0.0, 1.0]])
    reg = ClusterAssignmentRegularizer(1.0, "embedding", centroids, cells=cells,
                                       cell_cluster=torch.tensor([0, 1, -1]))
    # (0.75, 0.65) is nearer centroid 0, but its cell (1) is kept whole in cluster 1
    x = torch.tensor([[5.0, 0.5], [0.75, 0.65], [0.2, 1.0]])
    np.testing.assert_array_equal(reg.assignments(x).numpy(), [0, 1, 1])
    mu = torch.tensor([[0.0, 3.0], [3.0, 0.0], [0.0, 3.0]])
    # documents 0 and 1 have the other topic ahead by 3: (3 + 1) each; document 2 leads
    assert reg(None, {"embedding": x}, {"mu": mu}).item() == pytest.approx(8.0)
    assert reg.features == ("embedding",)


def test_a_saved_term_loads_its_cells_and_one_saved_before_cells_existed_loads_without():
    centroids = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    cells = torch.tensor([[1.0, 0.0], [0.7, 0.7], [0.6, 0.8], [0.0, 1.0]])
    saved = ClusterAssignmentRegularizer(1.0, "embedding", centroids, cells=cells,
                                         cell_cluster=torch.tensor([0, 1, 1, -1])).state_dict()
    # rebuilt for loading: shapes only, no cells (their number is the fit's)
    empty = ClusterAssignmentRegularizer(1.0, "embedding", torch.zeros(2, 2))
    empty.load_state_dict(saved)
    torch.testing.assert_close(empty.cells, cells)
    np.testing.assert_array_equal(empty.cell_cluster.numpy(), [0, 1, 1, -1])
    x = torch.tensor([[0.75, 0.65]])
    assert empty.assignments(x).item() == 1
    # a state saved before round 15 holds only the centroids: the nearest centroid decides
    old = ClusterAssignmentRegularizer(1.0, "embedding", torch.zeros(2, 2), cells=cells,
                                       cell_cluster=torch.tensor([0, 1, 1, -1]))
    old.load_state_dict({"centroids": centroids})
    assert len(old.cells) == 0 and old.assignments(x).item() == 0


def blobs(n_per=60, dim=8, seed=0):
    """Three tight blobs around orthogonal directions, rows shuffled."""
    rng = np.random.default_rng(seed)
    X = np.vstack([np.eye(dim)[k] * 3 + rng.normal(0, 0.05, (n_per, dim)) for k in range(3)])
    order = rng.permutation(len(X))
    return X[order].astype(np.float32), np.repeat(np.arange(3), n_per)[order]


def test_kmeans_partition_centroids_find_the_blobs_on_the_unit_sphere_and_follow_the_seed():
    X, _ = blobs()
    C = kmeans_partition(X, 3, seed=0).centroids
    assert C.shape == (3, 8) and C.dtype == np.float32
    # each centroid sits at one blob's direction, at (nearly) unit length
    assert sorted(np.argmax(C, 1)) == [0, 1, 2]
    assert np.allclose(np.sort(C.max(1)), 1.0, atol=0.01)
    np.testing.assert_array_equal(C, kmeans_partition(X, 3, seed=0).centroids)
    # a sample of the rows (drawn with the seed) finds the same blobs
    assert sorted(np.argmax(kmeans_partition(X, 3, seed=0, sample=40).centroids, 1)) == [0, 1, 2]
    # only the given rows are read: the first two blobs alone give two centroids there
    first_two = np.flatnonzero(np.argmax(X, 1) < 2)
    two = kmeans_partition(X, 2, seed=0, rows=first_two).centroids
    assert sorted(np.argmax(two, 1)) == [0, 1]
    # k-means draws from its own generator: torch's and numpy's global ones are untouched, so
    # adding the term changes no initial weight and a seed still fixes the whole run
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    kmeans_partition(X, 3, seed=1)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    with pytest.raises(ValueError, match="cluster_weight needs at least n_topics=5"):
        kmeans_partition(X[:4], 5, seed=0)


def conflicting_corpus(n=400, seed=0):
    """Words say one thing, the embedding another: each document draws its words from planted
    topic A or B, while its embedding sits in group 0 or 1 chosen independently, and the groups
    are further apart in the embedding than the word topics."""
    rng = np.random.default_rng(seed)
    texts, topics, word_topic = planted_corpus(n_topics=2, n_docs=n, doc_len=30, seed=seed)
    group = rng.integers(0, 2, n)
    E = (np.eye(16)[word_topic] * 1.0 + np.eye(16)[8 + group] * 3.0
         + rng.normal(0, 0.1, (n, 16))).astype(np.float32)
    return texts, topics, word_topic, group, E


def agreement(a, b):
    """Share of documents on which two 2-way partitions agree, up to relabelling."""
    same = (a == b).mean()
    return max(same, 1 - same)


def test_cluster_term_makes_theta_follow_the_inputs_partition_where_the_target_alone_does_not():
    texts, topics, word_topic, group, E = conflicting_corpus()
    fast = dict(n_topics=2, epochs=30, progress=False, seed=0)
    plain = ZeroShotTM(**fast).fit(texts, features={"embedding": E})
    clustered = ZeroShotTM(cluster_weight=1000.0, **fast).fit(texts, features={"embedding": E})
    # the bag-of-words target alone splits by word topic, not by the embedding's groups
    assert agreement(plain.theta_.argmax(1), word_topic) > 0.95
    assert agreement(plain.theta_.argmax(1), group) < 0.65
    # the cluster term (k-means finds the groups: the larger separation) overrides it
    assert agreement(clustered.theta_.argmax(1), group) > 0.95
    regularizer = clustered.module_.regularizers[0]
    assert regularizer.name == "cluster" and regularizer.weight == 1000.0
    assert not plain.module_.regularizers                           # 0: no term at all


def test_cluster_weight_off_adds_nothing_and_on_still_recovers_topics_and_round_trips(
        tmp_path):
    texts, topics, _ = planted_corpus(n_topics=5, n_docs=500, seed=0)
    fast = dict(n_topics=5, epochs=40, progress=False, seed=0)
    reference = ProdLDA(**fast).fit(texts)
    assert reference.cluster_weight == 0.0 and not reference.module_.regularizers
    assert not any("centroids" in k for k in reference.module_.state_dict())
    # on the encoder's own input (here the normalised bag of words) at a moderate weight,
    # the planted topics are still recovered
    model = ProdLDA(cluster_weight=100.0, **fast).fit(texts)
    assert all(recovered(model.get_topics(10), topics))
    model.save(tmp_path / "m")
    loaded = softtopic.load(tmp_path / "m")
    assert loaded.get_params()["cluster_weight"] == 100.0
    np.testing.assert_array_equal(loaded.transform(texts[:30]), model.transform(texts[:30]))
    # the centroids are saved: training on after loading uses the same clusters
    torch.testing.assert_close(loaded.module_.regularizers[0].centroids,
                               model.module_.regularizers[0].centroids)
    # partial_fit smooths the input over the neighbours among each call's documents and
    # assigns them to the saved centroids, which stay as they are
    saved = model.module_.regularizers[0].centroids.clone()
    assert model.module_.regularizers[0].feature == "cluster_input"
    loaded.partial_fit(texts[:100])
    torch.testing.assert_close(loaded.module_.regularizers[0].centroids, saved)
    assert loaded.history_["parts"][-1]["cluster"] >= 0
    assert not np.allclose(loaded.topic_word_, model.topic_word_)    # it trained on


def test_cluster_weight_is_checked():
    texts = planted_corpus(n_topics=3, n_docs=60, seed=0)[0]
    with pytest.raises(ValueError, match="parameter cluster_weight must be"):
        ProdLDA(n_topics=3, cluster_weight=-1.0, epochs=1, progress=False).fit(texts)
    with pytest.raises(ValueError, match="cluster_weight needs an encoder that reads one feature; "
                                         "CombinedTM reads bow\\+embedding"):
        CombinedTM(n_topics=3, cluster_weight=10.0, epochs=1, progress=False).fit(
            texts, features={"embedding": np.random.default_rng(0).normal(
                size=(60, 8)).astype(np.float32)})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_soft_label_default_recovers_short_documents_topics_from_the_embedding(seed):
    """Two-word documents, half their tokens noise, a teacher that knows nothing (random
    logits) and an embedding that knows each document's topic (noisily): the default's cluster
    term recovers the topics from the embedding; without it the model follows the words."""
    texts, _, dominant = planted_corpus(n_topics=10, n_docs=500, doc_len=2, noise=0.5, seed=0)
    rng = np.random.default_rng(seed)
    embedding = (np.eye(10)[dominant] + rng.normal(scale=0.3, size=(500, 10))).astype(np.float32)
    nmi = {}
    for off in (True, False):
        model = SoftLabelTM(10, teacher="encoder", bow_neighbours=1, seed=seed, progress=False,
                            **({"cluster_weight": 0.0} if off else {}))
        logits = np.random.default_rng(7).normal(size=(500, len(model.vocabulary_for(texts))))
        theta = model.fit_transform(texts, features={"embedding": embedding,
                                                     "encoder_logits": logits.astype(np.float32)})
        nmi[off] = normalized_mutual_info_score(dominant, theta.argmax(1))
    assert (SoftLabelTM().cluster_weight, SoftLabelTM().cluster_neighbours) == (300.0, 10)
    # measured: without .67 / .68 / .54, with the default (300, 10 neighbours) .84 / .86 / .87
    assert nmi[False] > 0.75 and nmi[False] > nmi[True] + 0.05, nmi
