"""C_V, Palmetto C_V and NPMI: hand-computed values, gensim parity where gensim's counter is
exact, the documented difference where it is not, and the absent-word treatment."""
import itertools
import math
import string

import numpy as np
import pytest
from gensim.corpora import Dictionary
from gensim.models.coherencemodel import CoherenceModel

from softtopic.evaluation.coherence import c_v, c_v_palmetto, coherence, npmi
from softtopic.evaluation.reference import ReferenceStats, count_reference, count_tokens
from softtopic.preprocessing import tokenize

# four one-window documents (shorter than any window used here)
DOCS = [["apple", "banana"], ["apple", "banana", "cherry"], ["cherry"], ["apple"]]
X_AB = math.log(4 / 3) / math.log(2)          # NPMI(apple, banana): P = 3/4, 2/4, joint 2/4
X_AC = math.log(2 / 3) / math.log(4)          # NPMI(apple, cherry): joint 1/4
X_BC = 0.0                                    # NPMI(banana, cherry): 1/4 / (1/2 * 1/2) = 1


def stats_for(docs, words, window=110, counting="exact"):
    return count_tokens(docs, words, [window], counting)[window]


def test_two_word_cv_closed_form():
    stats = stats_for(DOCS, ["apple", "banana", "cherry"])
    result = c_v([["apple", "banana"]], stats, top_n=2)
    expected = (1 + X_AB) / math.sqrt(2 * (1 + X_AB ** 2))
    assert result.per_topic[0] == pytest.approx(expected, abs=1e-9)
    assert result.score == pytest.approx(expected, abs=1e-9)


def test_three_word_cv_and_npmi_by_hand():
    stats = {110: stats_for(DOCS, ["apple", "banana", "cherry"]),
             10: stats_for(DOCS, ["apple", "banana", "cherry"], 10)}
    npmi_m = np.array([[1, X_AB, X_AC], [X_AB, 1, X_BC], [X_AC, X_BC, 1]])
    total = npmi_m.sum(axis=0)
    expected = np.mean([row @ total / (np.linalg.norm(row) * np.linalg.norm(total))
                        for row in npmi_m])
    topic = [["apple", "banana", "cherry"]]
    assert coherence(topic, stats, "cv", top_n=3).score == pytest.approx(expected, abs=1e-9)
    assert npmi(topic, stats, top_n=3).score == pytest.approx((X_AB + X_AC + X_BC) / 3,
                                                              abs=1e-9)


def test_a_pair_that_never_cooccurs_is_not_minus_one():
    # gensim's and Palmetto's formula: log(eps / (P_i P_j)) / -log(eps)
    stats = stats_for([["apple"], ["banana"], ["cherry"], ["cherry"]], ["apple", "banana"], 10)
    expected = math.log(1e-12 / (0.25 * 0.25)) / -math.log(1e-12)
    assert npmi([["apple", "banana"]], stats, top_n=2).score == pytest.approx(expected)


def test_absent_words_are_kept_scored_zero_and_reported():
    stats = stats_for(DOCS, ["apple", "banana", "cherry"])
    two = c_v([["apple", "banana"]], stats, top_n=2).score
    kept = c_v([["apple", "banana", "zebra"]], stats, top_n=3)
    assert kept.score == pytest.approx(2 / 3 * two, abs=1e-9)   # zebra scores cosine 0
    assert kept.absent_words == [["zebra"]] and kept.n_absent_words == 1
    dropped = c_v([["apple", "banana", "zebra"]], stats, top_n=3, absent="drop")
    assert dropped.score == pytest.approx(two, abs=1e-12)
    # a topic of absent words has no defined coherence (NaN, counted), for every measure
    for measure in ("cv", "npmi"):   # cv_palmetto: see the min-count test below
        st = {110: stats, 10: stats_for(DOCS, ["apple", "banana", "cherry"], 10)}
        all_absent = coherence([["zebra", "yak"], ["apple", "banana"]], st, measure, top_n=2)
        assert np.isnan(all_absent.per_topic[0]) and not np.isnan(all_absent.per_topic[1])
        assert all_absent.score == pytest.approx(all_absent.per_topic[1])
        assert all_absent.provenance["n_topics_undefined"] == 1
    assert np.isnan(c_v([["zebra", "yak"]], stats, top_n=2, absent="drop").score)


def test_drop_mode_matches_gensim_dictionary_of_texts():
    docs = [list(rng_doc) for rng_doc in _repeat_free_docs(np.random.default_rng(5), 40, 60)]
    vocab = sorted(set(itertools.chain.from_iterable(docs)))
    topics = [vocab[:4] + ["zebra"], vocab[10:13] + ["yak", "gnu"]]
    # (60 names repeat within a window of 110: count the way gensim does)
    stats = stats_for(docs, vocab + ["zebra", "yak", "gnu"], counting="gensim")
    ours = c_v(topics, stats, top_n=5, absent="drop")
    cm = CoherenceModel(topics=topics, texts=docs, dictionary=Dictionary(docs), coherence="c_v",
                        topn=5, processes=1)
    np.testing.assert_allclose(ours.per_topic, cm.get_coherence_per_topic(), atol=1e-9)
    assert ours.absent_words == [["zebra"], ["yak", "gnu"]]


def _names(n):
    """n distinct alphabetic, non-stopword tokens that the training tokeniser keeps as is."""
    return ["q" + "".join(p) for p in itertools.product(string.ascii_lowercase, repeat=2)][:n]


def _repeat_free_docs(rng, n_docs, n_names):
    """Documents in which no token repeats within n_names tokens: each is a permutation of the
    names tiled and cut. With n_names > window, gensim's counter is exact on them."""
    names = _names(n_names)
    for _ in range(n_docs):
        perm = list(rng.permutation(names))
        length = int(rng.integers(1, 3 * n_names))
        yield (perm * 4)[:length]


@pytest.mark.parametrize("measure,gensim_name,window", [("cv", "c_v", 110),
                                                        ("npmi", "c_npmi", 10)])
def test_equal_to_gensim_where_gensims_counter_is_exact(measure, gensim_name, window):
    rng = np.random.default_rng(6)
    docs = list(_repeat_free_docs(rng, 30, 150))
    names = _names(150)
    topics = [list(rng.choice(names, size=8, replace=False)) for _ in range(4)]
    # through the raw-text path: these texts tokenise to exactly the token lists
    texts = [" ".join(d) for d in docs]
    assert [tokenize(t) for t in texts] == docs
    stats = count_reference(texts, names, [window])
    ours = coherence(topics, stats, measure, top_n=8)
    cm = CoherenceModel(topics=topics, texts=docs, dictionary=Dictionary(docs),
                        coherence=gensim_name, topn=8, processes=1)
    gensim = np.array(cm.get_coherence_per_topic())
    np.testing.assert_allclose(ours.per_topic, gensim, atol=1e-6)
    assert ours.score == pytest.approx(cm.get_coherence(), abs=1e-6)


def _slow_cv(docs, topic, window):
    """C_V from window counts taken the slow way, in plain Python."""
    n_windows, present_sets = 0, []
    for toks in docs:
        for start in range(max(1, len(toks) - window + 1)):
            present_sets.append(set(toks[start:start + window]))
            n_windows += 1
    p = {w: sum(w in s for s in present_sets) / n_windows for w in topic}

    def npmi_of(a, b):
        joint = sum(a in s and b in s for s in present_sets) / n_windows
        return math.log((joint + 1e-12) / (p[a] * p[b])) / -math.log(joint + 1e-12)

    vectors = [[npmi_of(a, b) for b in topic] for a in topic]
    total = [sum(col) for col in zip(*vectors)]
    cos = [sum(x * y for x, y in zip(v, total)) /
           (math.sqrt(sum(x * x for x in v)) * math.sqrt(sum(y * y for y in total)))
           for v in vectors]
    return sum(cos) / len(cos)


def test_where_gensim_undercounts_exact_differs_and_gensim_mode_reproduces_it():
    rng = np.random.default_rng(7)
    names = _names(300)
    weights = 1 / np.arange(1, 301)   # Zipf-like: frequent words repeat inside windows
    docs = [list(rng.choice(names, size=int(rng.integers(150, 300)), p=weights / weights.sum()))
            for _ in range(12)]
    topics = [list(rng.choice(names[:40], size=5, replace=False)) for _ in range(6)]
    cm = CoherenceModel(topics=topics, texts=docs, dictionary=Dictionary(docs), coherence="c_v",
                        topn=5, processes=1)
    gensim = np.array(cm.get_coherence_per_topic())
    exact = c_v(topics, stats_for(docs, names), top_n=5).per_topic
    replay = c_v(topics, stats_for(docs, names, counting="gensim"), top_n=5).per_topic
    np.testing.assert_allclose(replay, gensim, atol=1e-9)
    assert np.abs(exact - gensim).max() > 1e-3          # gensim's counter is approximate here
    np.testing.assert_allclose(exact, [_slow_cv(docs, t, 110) for t in topics], atol=1e-9)


def hand_stats(words, word_counts, pairs, n_windows, window=110):
    counts = np.diag(np.array(word_counts, dtype=np.int64))
    for (a, b), c in pairs.items():
        i, j = words.index(a), words.index(b)
        counts[i, j] = counts[j, i] = c
    return ReferenceStats(words, window, n_windows, np.array(word_counts, dtype=np.int64),
                          counts)


def test_palmetto_variant_gamma_two_and_1100_window_threshold():
    words = ["apple", "banana", "cherry"]
    stats = hand_stats(words, [5000, 3000, 1000], {("apple", "banana"): 2000,
                                                   ("apple", "cherry"): 900,
                                                   ("banana", "cherry"): 900}, 10000)
    n = 10000
    x = math.log((2000 / n + 1e-12) / (0.5 * 0.3)) / -math.log(2000 / n + 1e-12)
    s_a = math.log((0.5 + 1e-12) / 0.25) / -math.log(0.5 + 1e-12)   # self-NPMI, about 1
    s_b = math.log((0.3 + 1e-12) / 0.09) / -math.log(0.3 + 1e-12)
    # cherry (1000 < 1100 windows) has probability 0: its NPMIs are 0, zero vector
    v_a, v_b = np.array([s_a ** 2, x ** 2, 0]), np.array([x ** 2, s_b ** 2, 0])
    total = v_a + v_b
    cos = [v @ total / (np.linalg.norm(v) * np.linalg.norm(total)) for v in (v_a, v_b)]
    result = c_v_palmetto([words], stats, top_n=3)
    assert result.score == pytest.approx((cos[0] + cos[1] + 0) / 3, abs=1e-12)
    assert result.rare_words == [["cherry"]] and result.absent_words == [[]]
    # the same counts with gensim's formula: gamma 1, no threshold
    plain = c_v([words], stats, top_n=3).score
    assert abs(plain - result.score) > 0.01


def test_palmetto_pair_below_threshold_and_zero_vectors():
    words = ["apple", "banana"]
    stats = hand_stats(words, [5000, 3000], {("apple", "banana"): 1000}, 10000)
    x = math.log(1e-12 / (0.5 * 0.3)) / -math.log(1e-12)   # joint treated as 0, not undefined
    s_a = math.log((0.5 + 1e-12) / 0.25) / -math.log(0.5 + 1e-12)
    s_b = math.log((0.3 + 1e-12) / 0.09) / -math.log(0.3 + 1e-12)
    v_a, v_b = np.array([s_a ** 2, x ** 2]), np.array([x ** 2, s_b ** 2])
    total = v_a + v_b
    expected = np.mean([v @ total / (np.linalg.norm(v) * np.linalg.norm(total))
                        for v in (v_a, v_b)])
    assert c_v_palmetto([words], stats, top_n=2).score == pytest.approx(expected, abs=1e-12)
    # every word rare: two zero vectors have cosine 1 in palmetto 0.1.0, so the jar scores the
    # topic 1.0 on no evidence; softtopic reports it as undefined instead (issue 11, BAD 8)
    rare = hand_stats(words, [500, 300], {("apple", "banana"): 200}, 10000)
    result = c_v_palmetto([words], rare, top_n=2)
    assert np.isnan(result.per_topic[0]) and result.provenance["n_topics_undefined"] == 1
    assert c_v([words], rare, top_n=2).score < 1.0


def test_top_n_window_and_input_checks():
    stats = stats_for(DOCS, ["apple", "banana", "cherry"])
    assert c_v([["apple", "banana", "cherry"]], stats, top_n=2).score == pytest.approx(
        c_v([["apple", "banana"]], stats, top_n=2).score)
    with pytest.raises(ValueError, match="topic 0 has 2 words, fewer than top_n=3"):
        c_v([["apple", "banana"]], stats, top_n=3)
    with pytest.raises(ValueError, match="repeats the word 'apple'"):
        c_v([["apple", "apple"]], stats, top_n=2)
    with pytest.raises(ValueError, match="needs window 10"):
        npmi([["apple", "banana"]], stats, top_n=2)
    with pytest.raises(ValueError, match="unknown coherence measure"):
        coherence([["apple", "banana"]], stats, "umass", top_n=2)
    with pytest.raises(TypeError, match="not a list of words"):
        c_v(["apple", "banana"], stats, top_n=2)
