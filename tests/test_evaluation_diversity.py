"""TD and I-RBO: hand-computed values and the checks from the RBO paper/rbo.py doctests."""
import itertools

import numpy as np
import pytest

from softtopic.evaluation.diversity import inverted_rbo, rbo_ext, topic_diversity


def test_td_counts_distinct_words_over_slots():
    topics = [["a", "b", "c"], ["a", "d", "e"], ["f", "b", "a"]]
    assert topic_diversity(topics, top_n=3) == pytest.approx(6 / 9)
    assert topic_diversity(topics, top_n=1) == pytest.approx(2 / 3)   # a, a, f
    assert topic_diversity([["a", "b"], ["c", "d"]], top_n=2) == 1.0


def test_rbo_ext_reference_values():
    assert rbo_ext("abcdefg", "abcdefg", 0.9) == pytest.approx(1.0)
    assert rbo_ext("abcdefg", "bacdefg", 0.9) == pytest.approx(0.9)
    assert rbo_ext("abc", "xyz", 0.9) == 0.0
    # unequal lengths with the tie-aware agreement exceed 1 (documented pitfall)
    assert rbo_ext("abcdefg", "abcdefghijklmnop", 0.9) == pytest.approx(1.006, abs=5e-4)
    assert rbo_ext("", "", 0.9) == 1.0 and rbo_ext("", "ab", 0.9) == 0.0


def test_rbo_ext_equal_length_closed_form_by_hand():
    # S = a b c, T = b a d, p = 0.5: A_1 = 0, A_2 = 1, A_3 = 2/3
    p = 0.5
    expected = (1 - p) / p * (p * 0 + p ** 2 * 1 + p ** 3 * 2 / 3) + p ** 3 * 2 / 3
    assert rbo_ext("abc", "bad", p) == pytest.approx(expected)


def test_inverted_rbo_is_one_minus_mean_pairwise_rbo():
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(30)]
    topics = [list(rng.choice(vocab, size=10, replace=False)) for _ in range(7)]
    pairs = [rbo_ext(a, b, 0.9) for a, b in itertools.combinations(topics, 2)]
    assert inverted_rbo(topics, top_n=10) == pytest.approx(1 - np.mean(pairs), abs=1e-12)
    # top_n cuts every topic first
    cut = [t[:5] for t in topics]
    pairs5 = [rbo_ext(a, b, 0.9) for a, b in itertools.combinations(cut, 2)]
    assert inverted_rbo(topics, top_n=5) == pytest.approx(1 - np.mean(pairs5), abs=1e-12)


def test_inverted_rbo_extremes():
    assert inverted_rbo([["a", "b", "c"], ["a", "b", "c"]], top_n=3) == pytest.approx(0.0)
    assert inverted_rbo([["a", "b", "c"], ["d", "e", "f"]], top_n=3) == pytest.approx(1.0)
    assert inverted_rbo([list("abcdefg"), list("bacdefg")], top_n=7) == pytest.approx(0.1)


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 topics"):
        inverted_rbo([["a", "b"]], top_n=2)
    with pytest.raises(ValueError, match="fewer than top_n=3"):
        topic_diversity([["a", "b"], ["c", "d", "e"]], top_n=3)
    with pytest.raises(ValueError, match="p must be in"):
        rbo_ext("ab", "ab", 1.0)
    with pytest.raises(ValueError, match="top_n must be a positive integer"):
        topic_diversity([["a"]], top_n=0)
