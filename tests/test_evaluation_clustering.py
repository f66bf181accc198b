"""Purity family, NMI, ARI on hand-computed examples."""
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from softtopic.evaluation.clustering import clustering_scores, purity_scores


def test_worked_example_from_the_spec():
    labels = [0, 0, 0, 1, 1, 2]
    topics = [0, 0, 1, 1, 1, 1]
    s = purity_scores(labels, topics)
    assert s["purity"] == pytest.approx(4 / 6)
    assert s["inverse_purity"] == pytest.approx(5 / 6)
    # F1 form: class 0 best F1 = 2*2/(3+2) = 0.8; class 1 = 2*2/(2+4) = 2/3; class 2 = 2/5
    assert s["harmonic_purity_f1"] == pytest.approx(3 / 6 * 0.8 + 2 / 6 * 2 / 3 + 1 / 6 * 0.4)
    assert s["harmonic_purity_f1"] == pytest.approx(0.689, abs=1e-3)
    assert s["harmonic_purity_pip"] == pytest.approx(2 * (4 / 6) * (5 / 6) / (4 / 6 + 5 / 6))
    assert s["harmonic_purity_pip"] == pytest.approx(0.741, abs=1e-3)


def test_clustering_scores_from_theta_with_string_labels():
    theta = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [0.2, 0.8], [0.3, 0.7]])
    labels = ["x", "x", "y", "y", "y"]
    s = clustering_scores(theta, labels)
    assigned = [0, 0, 0, 1, 1]            # the tie in row 2 goes to the first topic
    assert s["purity"] == pytest.approx(4 / 5)
    assert s["nmi"] == pytest.approx(normalized_mutual_info_score(labels, assigned))
    assert s["ari"] == pytest.approx(adjusted_rand_score(labels, assigned))


def test_perfect_clustering_scores_one():
    theta = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    s = clustering_scores(theta, ["a", "b", "c", "a", "b", "c"])
    assert all(s[k] == pytest.approx(1.0) for k in s)


def test_bad_inputs():
    with pytest.raises(ValueError, match="got 2 labels for 3 documents"):
        clustering_scores(np.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        clustering_scores(np.array([[np.nan, 1.0]]), ["a"])
    with pytest.raises(ValueError, match="2-d"):
        clustering_scores(np.ones(3), ["a", "b", "c"])
