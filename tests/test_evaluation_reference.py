"""Reference window statistics: exact against a slow obvious counter, gensim mode against
gensim's own accumulator, tokenisation identical to the training policy, sources and cache."""
import gzip
import itertools
import json

import numpy as np
import pytest

from softtopic.corpus import CorpusError
from softtopic.evaluation.reference import (ReferenceStats, count_reference, count_tokens,
                                            encode_texts, iter_texts, make_lookup,
                                            policy_tokens, reference_statistics)
from softtopic.preprocessing import TOKEN_PATTERN, tokenize


def slow_counts(docs, words, window):
    """Obviously correct: enumerate every window, take the set of listed words in it."""
    index = {w: i for i, w in enumerate(words)}
    counts = np.zeros((len(words), len(words)), dtype=np.int64)
    n_windows = 0
    for toks in docs:
        for start in range(max(1, len(toks) - window + 1)):
            present = {index[t] for t in toks[start:start + window] if t in index}
            n_windows += 1
            for a, b in itertools.product(present, present):
                counts[a, b] += 1
    return n_windows, counts


def random_corpus(rng, n_docs, alphabet, max_len):
    return [list(rng.choice(alphabet, size=rng.integers(0, max_len))) for _ in range(n_docs)]


def test_exact_counts_equal_slow_counter_on_random_corpora():
    rng = np.random.default_rng(0)
    alphabet = [f"w{i}" for i in range(10)]
    for _ in range(150):
        docs = random_corpus(rng, int(rng.integers(1, 6)), alphabet, 40)
        words = list(rng.choice(alphabet, size=int(rng.integers(1, 9)), replace=False))
        window = int(rng.integers(1, 12))
        stats = count_tokens(docs, words, [window])[window]
        n_windows, counts = slow_counts(docs, words, window)
        assert stats.n_windows == n_windows
        np.testing.assert_array_equal(stats.pair_counts, counts)
        np.testing.assert_array_equal(stats.word_counts, np.diag(counts))


def test_dense_statistics_round_trip_through_disk(tmp_path):
    rng = np.random.default_rng(8)
    alphabet = [f"w{i}" for i in range(9)]
    stats = count_tokens(random_corpus(rng, 4, alphabet, 40), alphabet, [5])[5]
    loaded = ReferenceStats.load(stats.save(tmp_path / "dense"))
    assert (loaded.words, loaded.window, loaded.n_windows) == (stats.words, 5, stats.n_windows)
    np.testing.assert_array_equal(np.asarray(loaded.pair_counts), stats.pair_counts)
    singles, pairs = loaded.counts(["w2", "nope", "w7"])
    assert singles[1] == 0 and not pairs[1].any()
    with pytest.raises(FileNotFoundError, match="meta.json"):
        ReferenceStats.load(tmp_path)


def test_the_documented_example_exact_and_gensim():
    # tokens a a b c, window 2: windows [a a] [a b] [b c]
    exact = count_tokens([["a", "a", "b", "c"]], ["a", "b"], [2])[2]
    assert exact.n_windows == 3
    assert exact.counts(["a", "b"])[0].tolist() == [2, 2]
    assert exact.counts(["a", "b"])[1][0, 1] == 1
    gensim = count_tokens([["a", "a", "b", "c"]], ["a", "b"], [2], counting="gensim")[2]
    assert gensim.counts(["a", "b"])[0].tolist() == [1, 2]   # gensim loses "a" in [a b]
    assert gensim.counts(["a", "b"])[1][0, 1] == 0


def test_short_and_empty_documents_are_one_window_each():
    stats = count_tokens([[], ["x"], ["x", "y", "x"]], ["x", "y"], [5])[5]
    assert stats.n_windows == 3
    assert stats.counts(["x", "y"])[0].tolist() == [2, 1]


def test_gensim_mode_equals_gensims_accumulator():
    from gensim.corpora import Dictionary
    from gensim.topic_coherence.text_analysis import WordOccurrenceAccumulator
    rng = np.random.default_rng(1)
    alphabet = [f"w{i}" for i in range(8)]
    for _ in range(60):
        docs = random_corpus(rng, int(rng.integers(1, 5)), alphabet, 30)
        if not any(docs):
            continue
        window = int(rng.integers(1, 10))
        dictionary = Dictionary(docs)
        words = sorted(dictionary.token2id)
        ids = [dictionary.token2id[w] for w in words]
        acc = WordOccurrenceAccumulator(set(ids), dictionary).accumulate(docs, window)
        ours = count_tokens(docs, words, [window], counting="gensim")[window]
        assert ours.n_windows == acc.num_docs
        for a, b in itertools.product(range(len(words)), repeat=2):
            expected = acc[ids[a]] if a == b else acc[ids[a], ids[b]]
            assert ours.pair_counts[a, b] == expected


def test_raw_texts_are_tokenised_exactly_like_training():
    texts = ["The İstanbul KELVIN Kelvin naïve café_bar foo x²y ½abc über—alles “quoted” mp3 "
             "abc123 a-b-c Computer's SYSTEM system", "", "   ", "日本語 and more words here",
             "ab\u2028cdefg\x85hijk\tlmno\u00a0pqrs"]
    words = ["istanbul", "kelvin", "naïve", "über", "alles", "quoted", "computer", "system",
             "words", "cdefg", "hijk", "lmno", "pqrs", "abc"]
    batch = encode_texts(texts, make_lookup(words))
    for d, text in enumerate(texts):
        toks = tokenize(text)
        assert batch.lengths[d] == len(toks)
        expected = [(i, words.index(t)) for i, t in enumerate(toks) if t in words]
        got = list(zip(batch.pos[batch.doc == d].tolist(), batch.word[batch.doc == d].tolist()))
        assert got == expected
    # "system" is a stopword: removed by the policy, so it never counts
    stats = count_reference(texts, words, [3])[3]
    assert stats.counts(["system"])[0][0] == 0
    assert stats.counts(["kelvin"])[0][0] > 0


def test_fast_tokeniser_equals_the_policy_regex_on_random_unicode():
    import random
    pieces = list("abcXYZ_09 .-'\t\n") + ["é", "İ", "K", "ß", "²", "½", "—", "日", "\u00a0",
                                             "\u2028", "\x85", "Σ", "ǅ", "\ud800", "\U0001F600"]
    rng = random.Random(0)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        assert policy_tokens(text) == TOKEN_PATTERN.findall(text.lower()), repr(text)


def test_raw_text_counts_equal_slow_counter_on_tokenised_text():
    rng = np.random.default_rng(2)
    vocab = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "the", "and", "x9"]
    texts = [" ".join(rng.choice(vocab, size=rng.integers(0, 60))).upper() for _ in range(30)]
    words = ["apple", "cherry", "fig", "grape", "kiwi"]
    stats = count_reference(texts, words, [7, 4])
    for window in (7, 4):
        n_windows, counts = slow_counts([tokenize(t) for t in texts], words, window)
        assert stats[window].n_windows == n_windows
        np.testing.assert_array_equal(stats[window].pair_counts, counts)


def test_worker_processes_give_the_same_counts():
    rng = np.random.default_rng(3)
    vocab = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    texts = [" ".join(rng.choice(vocab, size=rng.integers(1, 80))) for _ in range(300)]
    one = count_reference(texts, vocab, [10], n_jobs=1)[10]
    two = count_reference(texts, vocab, [10], n_jobs=2)[10]
    assert one.n_windows == two.n_windows
    np.testing.assert_array_equal(one.pair_counts, two.pair_counts)


def test_sparse_counts_for_large_word_lists_match_dense(monkeypatch, tmp_path):
    from softtopic.evaluation import reference
    rng = np.random.default_rng(4)
    alphabet = [f"w{i}" for i in range(12)]
    docs = random_corpus(rng, 5, alphabet, 50)
    dense = count_tokens(docs, alphabet, [6])[6]
    monkeypatch.setattr(reference, "DENSE_MAX_WORDS", 4)
    sparse = count_tokens(docs, alphabet, [6])[6]
    assert not isinstance(sparse.pair_counts, np.ndarray)
    np.testing.assert_array_equal(sparse.pair_counts.toarray(), dense.pair_counts)
    # saved as the upper triangle, loaded symmetric
    loaded = ReferenceStats.load(sparse.save(tmp_path / "sparse"))
    np.testing.assert_array_equal(loaded.pair_counts.toarray(), dense.pair_counts)
    np.testing.assert_array_equal(loaded.counts(["w3", "w1", "absent"])[1],
                                  dense.counts(["w3", "w1", "absent"])[1])


def write_sources(tmp_path, texts):
    jsonl = tmp_path / "ref.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i, "body": t}) + "\n" for i, t in
                             enumerate(texts)))
    txt = tmp_path / "ref.txt.gz"
    with gzip.open(txt, "wt") as f:
        f.write("\n".join(texts) + "\n\n")
    return jsonl, txt


def test_sources_jsonl_gz_text_and_list_agree(tmp_path):
    texts = ["apple banana cherry apple", "banana cherry fig", "fig fig apple grape"]
    jsonl, txt = write_sources(tmp_path, texts)
    assert list(iter_texts(jsonl, "body")) == texts
    assert list(iter_texts(txt)) == texts   # blank lines skipped
    words = ["apple", "fig", "cherry"]
    a = count_reference(iter_texts(jsonl, "body"), words, [2])[2]
    b = count_reference(texts, words, [2])[2]
    np.testing.assert_array_equal(a.pair_counts, b.pair_counts)
    with pytest.raises(CorpusError, match="no field 'text'"):
        list(iter_texts(jsonl))
    with pytest.raises(CorpusError, match="does not exist"):
        list(iter_texts(tmp_path / "missing.txt"))


def test_csv_and_corpus_sources(tmp_path):
    from softtopic.corpus import Corpus
    csv = tmp_path / "ref.csv"
    csv.write_text('id,body\n1,"apple, banana"\n2,cherry apple\n')
    assert list(iter_texts(csv, "body")) == ["apple, banana", "cherry apple"]
    stats = reference_statistics(csv, ["apple", "cherry"], [5], text_column="body",
                                 cache_dir=tmp_path / "cache")[5]
    assert stats.source["text_column"] == "body" and stats.n_windows == 2
    from_corpus = reference_statistics(Corpus(["apple, banana", "cherry apple"]),
                                       ["apple", "cherry"], [5], use_cache=False)[5]
    np.testing.assert_array_equal(from_corpus.pair_counts, stats.pair_counts)


def test_cache_saves_reuses_and_serves_word_subsets(tmp_path):
    texts = ["apple banana cherry apple", "banana cherry fig", "fig fig apple grape"] * 5
    _, txt = write_sources(tmp_path, texts)
    cache = tmp_path / "cache"
    built = reference_statistics(txt, ["apple", "banana", "fig"], [3, 2], cache_dir=cache)
    saved = sorted(p.parent.name for p in (cache / "reference").glob("*/meta.json"))
    assert len(saved) == 2
    again = reference_statistics(txt, ["fig", "apple"], [3], cache_dir=cache)  # a subset
    assert again[3].directory == built[3].directory
    np.testing.assert_array_equal(again[3].counts(["fig", "apple"])[1],
                                  built[3].counts(["fig", "apple"])[1])
    loaded = ReferenceStats.load(built[2].directory)
    assert loaded.source["sha256"] == built[2].source["sha256"]
    assert loaded.provenance()["tokenisation"].startswith("softtopic.preprocessing.tokenize")
    # a new word: counted again under a new key
    reference_statistics(txt, ["grape"], [3], cache_dir=cache)
    assert len(list((cache / "reference").glob("*/meta.json"))) == 3
    # another counting mode is another entry
    g = reference_statistics(txt, ["apple", "banana", "fig"], [3], counting="gensim",
                             cache_dir=cache)
    assert g[3].counting == "gensim" and g[3].directory != built[3].directory


def test_changed_file_is_not_served_from_cache(tmp_path):
    txt = tmp_path / "ref.txt"
    txt.write_text("apple banana\n")
    cache = tmp_path / "cache"
    first = reference_statistics(txt, ["apple"], [2], cache_dir=cache)[2]
    txt.write_text("apple banana\napple fig\n")
    second = reference_statistics(txt, ["apple"], [2], cache_dir=cache)[2]
    assert (first.n_windows, second.n_windows) == (1, 2)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="window must be a positive integer"):
        count_tokens([["a"]], ["a"], [0])
    with pytest.raises(ValueError, match="counting must be one of"):
        count_tokens([["a"]], ["a"], [2], counting="approximate")
    with pytest.raises(ValueError, match="word list is empty"):
        count_tokens([["a"]], [], [2])
    with pytest.raises(TypeError, match="not a single string"):
        count_tokens([["a"]], "abc", [2])
