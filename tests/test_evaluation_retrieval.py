"""Retrieval P@k: hand example, brute force with a full matrix and a stable sort, ties, zeros."""
import numpy as np
import pytest

from softtopic.evaluation.retrieval import retrieval_precision


def brute_force(theta, labels, ks, distance):
    theta = theta / theta.sum(axis=1, keepdims=True)
    n = len(theta)
    out = {k: 0.0 for k in ks}
    for q in range(n):
        if distance == "kl":
            d = np.array([np.sum(theta[q] * (np.log(theta[q] + 1e-12) - np.log(theta[j] + 1e-12)))
                          for j in range(n)])
        else:
            d = np.array([np.sqrt(max(0.0, 1 - np.sum(np.sqrt(theta[q] * theta[j]))))
                          for j in range(n)])
        d = np.round(d, 9)
        order = [j for j in np.argsort(d, kind="stable") if j != q]
        for k in ks:
            out[k] += np.mean([labels[j] == labels[q] for j in order[:k]]) / n
    return out


def test_hand_example():
    theta = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8]])
    labels = ["a", "a", "b", "a"]
    p = retrieval_precision(theta, labels, ks=(1, 2))
    # nearest neighbours: 0->1 (a, hit), 1->0 (hit), 2->3 (miss), 3->2 (miss)
    assert p[1] == pytest.approx(0.5)
    # top 2: 0 -> 1, 3 (2 hits); 1 -> 0, 3 (2); 2 -> 3, 1 (0); 3 -> 2, 1 (1)
    assert p[2] == pytest.approx((1 + 1 + 0 + 0.5) / 4)


@pytest.mark.parametrize("distance", ["kl", "hellinger"])
def test_equals_brute_force_in_any_block_size(distance):
    rng = np.random.default_rng(0)
    theta = rng.dirichlet(np.full(6, 0.3), size=60)
    theta[:5] = theta[5]           # exact ties: identical rows
    theta[10, :3] = 0.0            # zeros
    labels = rng.integers(0, 4, size=60)
    expected = brute_force(theta, labels, (1, 5, 10), distance)
    for block in (1, 7, 60):
        got = retrieval_precision(theta, labels, (1, 5, 10), distance, block_size=block)
        for k in (1, 5, 10):
            assert got[k] == pytest.approx(expected[k], abs=1e-12)


def test_ties_are_broken_by_document_order():
    # all rows identical: each query's neighbours are the other documents in order
    theta = np.full((5, 3), 1 / 3)
    labels = ["a", "b", "a", "b", "b"]
    p = retrieval_precision(theta, labels, ks=(1,))
    # first other document: 0->1 (miss) 1->0 (miss) 2->0 (hit) 3->0 (miss) 4->0 (miss)
    assert p[1] == pytest.approx(1 / 5)


def test_k_larger_than_n_minus_one_is_skipped_and_bad_input_named():
    theta = np.array([[0.5, 0.5], [0.2, 0.8], [0.9, 0.1]])
    assert set(retrieval_precision(theta, [0, 1, 0], ks=(1, 2, 5))) == {1, 2}
    with pytest.raises(ValueError, match="negative"):
        retrieval_precision(-theta, [0, 1, 0])
    with pytest.raises(ValueError, match="row 1 sums to 0"):
        retrieval_precision(np.array([[1.0, 0.0], [0.0, 0.0]]), [0, 1])
    with pytest.raises(ValueError, match="got 2 labels for 3 documents"):
        retrieval_precision(theta, [0, 1])
    with pytest.raises(ValueError, match="distance must be one of"):
        retrieval_precision(theta, [0, 1, 0], distance="cosine")
