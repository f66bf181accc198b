"""The sentence-embedding cache is per document: any corpus reuses rows already embedded."""
import hashlib
import json

import numpy as np
import pytest

from softtopic.views.sentence import SentenceEmbeddings

DIM = 5


def _row(text: str, max_seq_length) -> np.ndarray:
    seed = hashlib.sha256(f"{max_seq_length}|{text}".encode()).digest()
    return np.random.default_rng(list(seed[:8])).normal(size=DIM).astype(np.float32)


class _Asked(list):
    state: dict


@pytest.fixture
def encoded(monkeypatch):
    """Replace the model by a deterministic fake; returns the list of texts it was asked for."""
    asked = _Asked()
    state = {"calls": 0, "fail_on": None}

    def fake_encode(self, texts):
        state["calls"] += 1
        if state["fail_on"] == state["calls"]:
            raise KeyboardInterrupt  # Ctrl-C during this batch
        asked.extend(dict.fromkeys(texts))  # filler rows repeat a text of the batch
        return np.stack([_row(t, self.max_seq_length) for t in texts]).reshape(len(texts), DIM)

    monkeypatch.setattr(SentenceEmbeddings, "_encode_batch", fake_encode)
    monkeypatch.setattr(SentenceEmbeddings, "token_lengths",
                        lambda self, texts: np.array([len(t) for t in texts]))
    asked.state = state
    return asked


def _view(tmp_path, **kw):
    view = SentenceEmbeddings("fake-model", cache_dir=tmp_path, progress=False, **kw)
    view.chunk_size = 4
    view.batch_size = 4
    return view


def _expected(texts, max_seq_length=256):
    """What a fresh computation returns: the encoder's rows, stored as float16."""
    return np.stack([_row(t, max_seq_length) for t in texts]).astype(np.float16).astype(np.float32)


def _shards(view):
    return sorted(p.name for p in view.cache_folder().glob("*.keys.npy"))


def test_subset_reordering_and_superset_embed_only_new_texts(tmp_path, encoded):
    corpus = [f"document {i}" for i in range(10)]
    first = _view(tmp_path)(corpus)
    assert sorted(encoded) == sorted(corpus)
    assert first.dtype == np.float32 and first.shape == (10, DIM)
    np.testing.assert_array_equal(first, _expected(corpus))

    subset = corpus[7:2:-2]
    np.testing.assert_array_equal(_view(tmp_path)(subset), _expected(subset))
    reordered = corpus[::-1]
    np.testing.assert_array_equal(_view(tmp_path)(reordered), _expected(reordered))
    assert len(encoded) == 10  # nothing recomputed

    superset = corpus[3:] + ["new a", "document 1", "new b"]
    np.testing.assert_array_equal(_view(tmp_path)(superset), _expected(superset))
    assert encoded[10:] == ["new a", "new b"]
    import json
    timing = json.loads((_view(tmp_path).cache_folder() / "timing.json").read_text())
    assert timing["rows_computed"] == 12 and timing["seconds"] >= 0

    # a fresh cache gives the same rows
    fresh = SentenceEmbeddings("fake-model", cache_dir=tmp_path / "fresh", progress=False)
    np.testing.assert_array_equal(fresh(superset), _view(tmp_path)(superset))


def test_duplicates_in_one_call_are_embedded_once(tmp_path, encoded):
    texts = ["a", "b", "a", "c", "b", "a", ""]
    out = _view(tmp_path)(texts)
    assert sorted(encoded) == ["", "a", "b", "c"]
    np.testing.assert_array_equal(out, _expected(texts))
    assert np.array_equal(out[0], out[2]) and np.array_equal(out[1], out[4])


def test_interrupted_run_keeps_finished_chunks_and_resumes(tmp_path, encoded):
    corpus = [f"doc {i}" for i in range(14)]  # 4 chunks of 4
    view = _view(tmp_path)
    encoded.state["fail_on"] = 3
    with pytest.raises(KeyboardInterrupt):
        view(corpus)
    assert encoded == corpus[:8] and len(_shards(view)) == 2
    encoded.state["fail_on"] = None
    out = _view(tmp_path)(corpus)
    assert encoded == corpus  # the rerun embedded only texts 8..13
    np.testing.assert_array_equal(out, _expected(corpus))
    assert len(_shards(view)) == 3  # the rerun's batches (2 + 4 rows) made one shard


def test_torn_shard_without_keys_is_ignored(tmp_path, encoded):
    corpus = ["x", "y", "z"]
    view = _view(tmp_path)
    view(corpus)
    (keys,) = view.cache_folder().glob("*.keys.npy")
    keys.unlink()  # the process died between writing the embeddings and the keys
    emb = next(view.cache_folder().glob("*.embedding.npy"))
    np.save(emb, np.full((3, DIM), 99, dtype=np.float16))  # whatever it holds is not used
    out = _view(tmp_path)(corpus)
    assert encoded == corpus + corpus
    np.testing.assert_array_equal(out, _expected(corpus))
    # a leftover temporary file is ignored too
    (view.cache_folder() / "000-1-ab.keys.npy.tmp").write_bytes(b"garbage")
    np.testing.assert_array_equal(_view(tmp_path)(corpus), _expected(corpus))
    assert len(encoded) == 6


def test_different_settings_do_not_share_rows(tmp_path, encoded):
    corpus = ["p", "q"]
    short = _view(tmp_path, max_seq_length=16)(corpus)
    long = _view(tmp_path, max_seq_length=256)(corpus)
    assert encoded == corpus + corpus
    assert _view(tmp_path, max_seq_length=16).cache_folder() != _view(tmp_path).cache_folder()
    np.testing.assert_array_equal(short, _expected(corpus, 16))
    np.testing.assert_array_equal(long, _expected(corpus, 256))
    assert not np.array_equal(short, long)
    _view(tmp_path, max_seq_length=16)(corpus)
    assert len(encoded) == 4


def test_empty_list_and_corpus_hash_is_ignored(tmp_path, encoded):
    assert _view(tmp_path)([]).shape[0] == 0
    out = _view(tmp_path)(["a", "b"], "any-corpus-hash")
    np.testing.assert_array_equal(_view(tmp_path)(["b"], "other-hash"), out[1:])
    assert encoded == ["a", "b"]


def test_concurrent_writers_of_the_same_texts_do_not_collide(tmp_path, encoded, monkeypatch):
    import softtopic.views.sentence as sentence
    corpus = ["m", "n", "o"]
    real_load = sentence._load_shards
    # both "processes" looked before either wrote, in the same nanosecond
    monkeypatch.setattr(sentence.time, "time_ns", lambda: 42)
    monkeypatch.setattr(sentence, "_load_shards", lambda folder: ({}, []))
    _view(tmp_path)(corpus)
    _view(tmp_path)(corpus)
    monkeypatch.setattr(sentence, "_load_shards", real_load)
    view = _view(tmp_path)
    assert len(_shards(view)) == 2  # distinct names: neither shard overwrote the other
    np.testing.assert_array_equal(view(corpus), _expected(corpus))
    assert len(encoded) == 6  # the reader used the stored rows


def test_interrupt_inside_a_shard_keeps_finished_batches(tmp_path, encoded):
    corpus = [f"doc {i}" for i in range(10)]  # batches of 4: 0-3, 4-7, 8-9
    view = _view(tmp_path)
    view.chunk_size = 2048  # the whole corpus would fit in one shard
    encoded.state["fail_on"] = 3
    with pytest.raises(KeyboardInterrupt):
        view(corpus)
    assert encoded == corpus[:8] and len(_shards(view)) == 1
    encoded.state["fail_on"] = None
    np.testing.assert_array_equal(_view(tmp_path)(corpus), _expected(corpus))
    assert encoded == corpus  # the rerun embedded only texts 8 and 9


def test_real_encoder_rows_do_not_depend_on_batch_partners(tmp_path):
    """Shuffled, partly cached, or mixed with unrelated texts: bit-identical embeddings."""
    words = "space car god gun game disk card key window sale doctor team".split()
    rng = np.random.default_rng(0)
    corpus = [" ".join(rng.choice(words, rng.integers(1, 9))) + f" {i}" for i in range(60)]
    other = [" ".join(rng.choice(words, rng.integers(1, 30))) for _ in range(40)]
    kw = dict(max_seq_length=64, batch_size=8, progress=False)
    fresh = SentenceEmbeddings(cache_dir=tmp_path / "a", **kw)(corpus)
    view = SentenceEmbeddings(cache_dir=tmp_path / "b", **kw)
    view(other + corpus[::3])  # unrelated texts and part of the corpus already cached
    perm = rng.permutation(len(corpus))
    shuffled = view([corpus[i] for i in perm])
    assert np.array_equal(shuffled[np.argsort(perm)], fresh)
    assert np.array_equal(SentenceEmbeddings(**kw).encode(corpus).astype(np.float16), fresh)


def test_embed_command_fills_the_cache_models_read(tmp_path, capsys):
    from softtopic.cli import main
    texts = ["rockets reach orbit", "hockey season opens", "rockets reach orbit", "a new chip"]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n"
                              for i, t in enumerate(texts)))
    assert main(["embed", str(corpus), "--out", str(tmp_path / "out"), "--cache-dir",
                 str(tmp_path / "cache"), "--quiet"]) == 0
    emb = np.load(tmp_path / "out" / "embeddings.npy")
    assert json.loads((tmp_path / "out" / "ids.json").read_text()) == ["d0", "d1", "d2", "d3"]
    view = SentenceEmbeddings(cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(view(texts), emb)
    np.testing.assert_array_equal(emb[0], emb[2])
    # the command embedded each distinct text once; the model-side call computed nothing
    timing = json.loads((view.cache_folder() / "timing.json").read_text())
    assert timing["rows_computed"] == 3
