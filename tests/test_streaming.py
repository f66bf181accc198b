"""Corpora streamed from disk (softtopic.streaming): the same vocabulary, bag of words, ids and
model as the in-memory path, read in blocks; partial_fit; transform_file; clear errors."""
import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import softtopic
from softtopic import CorpusError, ProdLDA, SoftLabelTM, load_corpus, stream_corpus
from softtopic.cli import main
from softtopic.files import mapped_buffers, release_pages
from softtopic.preprocessing import PreprocessingConfig, Vocabulary
from softtopic.streaming import TextsNotKept, load_csr, save_csr

from planted import planted_corpus, recovered

SAMPLE = Path(softtopic.__file__).parent / "data" / "sample_20ng.jsonl.gz"
FAST = dict(epochs=2, batch_size=64, progress=False, seed=3)
# small blocks and chunks so that every boundary is crossed many times
SMALL = dict(chunk_documents=257, block_bytes=4096)


@pytest.fixture(scope="module")
def sample():
    return load_corpus(SAMPLE)


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory, sample):
    """The 20NG sample as CSV (multi-line quoted texts), TSV and text (one document a line)."""
    folder = tmp_path_factory.mktemp("formats")
    with open(folder / "s.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label"])
        for i, t, lab in zip(sample.ids, sample.texts, sample.labels):
            w.writerow([i, t, lab])
    with open(folder / "s.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["text"])
        for t in sample.texts[:700]:
            w.writerow([t])
    lines = [" ".join(t.split()) for t in sample.texts[:900]]
    lines[5:5] = ["", "   "]   # blank lines are skipped; ids stay line numbers
    (folder / "s.txt").write_text("\n".join(lines) + "\n")
    return folder


def _streamed_bow(path, config, **kw):
    stream = stream_corpus(path, **{**SMALL, **kw})
    vocab = Vocabulary(PreprocessingConfig(**config.to_dict()))
    return stream, vocab, stream.fit_bag_of_words(vocab)


def _same_csr(a, b):
    a = sp.csr_matrix(a, copy=True)
    a.sort_indices()
    return (a.shape == b.shape and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data))


@pytest.mark.parametrize("config", [
    PreprocessingConfig(),
    PreprocessingConfig(vocab_size=500, min_df=3, max_df=0.5),
    PreprocessingConfig(vocab_size=100_000, min_df=2, max_df=40),
    PreprocessingConfig(vocab_size=300, min_df=0.01, stopwords="none"),
])
def test_vocabulary_and_bow_equal_the_in_memory_ones(sample, config):
    vocab = Vocabulary(config)
    expected = vocab.fit_transform(sample.texts)
    stream, streamed_vocab, bow = _streamed_bow(SAMPLE, config)
    assert streamed_vocab.words == vocab.words          # same words, same order
    assert _same_csr(expected, bow)
    assert isinstance(bow.data, np.memmap) and isinstance(bow.indices, np.memmap)
    assert len(stream) == len(sample) and list(stream.ids) == sample.ids
    assert stream.content_hash() == sample.content_hash()
    # the fitted vocabulary transforms new text as the in-memory one
    head = sample.texts[:50]
    assert _same_csr(vocab.transform(head), streamed_vocab.transform(head))


@pytest.mark.parametrize("name", ["s.csv", "s.tsv", "s.txt"])
def test_other_formats_stream_like_load_corpus(sample_files, name):
    path = sample_files / name
    corpus = load_corpus(path)
    vocab = Vocabulary(PreprocessingConfig(vocab_size=800))
    expected = vocab.fit_transform(corpus.texts)
    stream, streamed_vocab, bow = _streamed_bow(path, PreprocessingConfig(vocab_size=800))
    assert streamed_vocab.words == vocab.words and _same_csr(expected, bow)
    assert list(stream.ids) == corpus.ids and stream.content_hash() == corpus.content_hash()
    assert list(stream.iter_texts()) == corpus.texts
    assert stream.notes == corpus.notes


def test_csr_round_trip_is_memory_mapped(tmp_path):
    m = sp.random(30, 20, density=0.2, format="csr", dtype=np.float32, random_state=0)
    back = load_csr(save_csr(tmp_path / "m", m))
    assert isinstance(back.data, np.memmap) and (back != m).nnz == 0
    assert np.array_equal(back[[3, 1, 29]].toarray(), m[[3, 1, 29]].toarray())


def test_released_pages_keep_their_data(tmp_path):
    a = np.lib.format.open_memmap(tmp_path / "a.npy", mode="w+", dtype=np.float32,
                                  shape=(1000, 64))
    a[:] = np.arange(64000, dtype=np.float32).reshape(1000, 64)
    buffers = mapped_buffers(a, a[10:20], np.zeros(3))
    assert len(buffers) == 1
    release_pages(buffers)          # dirty pages of a shared map survive
    a.flush()
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.arange(64000).reshape(1000, 64))


# --------------------------------------------------------------------------- the model

@pytest.fixture(scope="module")
def fitted_both(sample, tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    in_memory = ProdLDA(n_topics=10, **FAST).fit(sample)
    streamed = ProdLDA(n_topics=10, **FAST).fit(stream_corpus(SAMPLE, work_dir=work, **SMALL))
    return in_memory, streamed, work


def test_streamed_fit_equals_in_memory_fit(fitted_both):
    in_memory, streamed, work = fitted_both
    assert streamed.vocabulary_.words == in_memory.vocabulary_.words
    np.testing.assert_allclose(streamed.topic_word_, in_memory.topic_word_, atol=1e-6)
    np.testing.assert_allclose(streamed.theta_, in_memory.theta_, atol=1e-6)
    assert isinstance(streamed.theta_, np.memmap) and Path(streamed.theta_.filename).parent == work
    assert np.array_equal(streamed.empty_documents_, in_memory.empty_documents_)
    assert streamed.history_["loss"] == in_memory.history_["loss"]
    assert list(streamed.document_ids_) == in_memory.document_ids_


def test_streamed_model_keeps_ids_not_texts(fitted_both, sample, tmp_path):
    _, streamed, _ = fitted_both
    assert streamed.documents_ is None
    with pytest.warns(UserWarning, match="texts were not kept.*streamed"):
        info = streamed.get_document_info()
    assert "text" not in info and list(info.id) == sample.ids
    with pytest.raises(ValueError, match="needs the training texts.*not kept.*streamed"):
        streamed.topics_over_time(list(range(len(sample))))
    assert list(streamed.get_document_info(texts=sample.texts).text) == sample.texts
    streamed.save(tmp_path / "m")
    loaded = softtopic.load(tmp_path / "m")
    assert loaded.document_ids_ == sample.ids
    np.testing.assert_array_equal(loaded.theta_, streamed.theta_)


def test_transform_file_equals_transform(fitted_both, sample, tmp_path):
    _, streamed, _ = fitted_both
    theta = streamed.transform_file(SAMPLE, tmp_path / "theta.npy", chunk_documents=1000)
    assert isinstance(theta, np.memmap) and theta.shape == (len(sample), 10)
    np.testing.assert_allclose(theta, streamed.transform(sample), atol=1e-7)
    assert np.allclose(theta.sum(1), 1, atol=1e-5)


def test_soft_label_model_with_memory_mapped_views(sample, tmp_path):
    """Precomputed views as memory maps on disk (as from an LM run elsewhere): the streamed
    fit equals the in-memory one."""
    model = SoftLabelTM(n_topics=6, **FAST)
    words = model.vocabulary_for(stream_corpus(SAMPLE))
    assert words == model.vocabulary_for(sample)
    rng = np.random.default_rng(0)
    views = {}
    for name, width in (("lm_hidden", 32), ("lm_logits", len(words))):
        a = np.lib.format.open_memmap(tmp_path / f"{name}.npy", mode="w+", dtype=np.float16,
                                      shape=(len(sample), width))
        a[:] = rng.normal(size=a.shape)
        a.flush()
        views[name] = np.load(tmp_path / f"{name}.npy", mmap_mode="r")
    a = SoftLabelTM(n_topics=6, **FAST).fit(sample, features=views)
    b = SoftLabelTM(n_topics=6, **FAST).fit(stream_corpus(SAMPLE, **SMALL),
                                                       features=views)
    np.testing.assert_allclose(a.topic_word_, b.topic_word_, atol=1e-6)
    np.testing.assert_allclose(a.theta_, b.theta_, atol=1e-6)
    hidden = {"lm_hidden": views["lm_hidden"]}    # theta of a file, its views read per block
    theta = b.transform_file(SAMPLE, tmp_path / "t.npy", chunk_documents=2048, features=hidden)
    np.testing.assert_allclose(theta, b.transform(sample, features=hidden), atol=1e-7)


def test_features_from_texts_need_precomputing_when_streaming():
    from softtopic import ZeroShotTM
    with pytest.raises(ValueError, match="feature 'embedding' is computed from the texts.*"
                                         "features="):
        ZeroShotTM(n_topics=5, **FAST).fit(stream_corpus(SAMPLE))


# --------------------------------------------------------------------------- partial_fit

def test_partial_fit_continues_training_with_a_fixed_vocabulary(sample):
    model = ProdLDA(n_topics=8, **FAST)
    model.partial_fit(sample.texts[:800])
    words = list(model.vocabulary_.words)
    before = model.topic_word_.copy()
    optimizer = model._trainer.optimizer
    model.partial_fit(sample.texts[800:1600])
    assert model.vocabulary_.words == words                 # the first call fixed it
    assert model._trainer.optimizer is optimizer            # same optimiser, continued
    assert np.abs(model.topic_word_ - before).max() > 1e-3  # and the model moved
    assert len(model.history_["loss"]) == 2
    assert model.theta_.shape == (800, 8) and model.document_ids_ == [str(i) for i in range(800)]
    with pytest.raises(ValueError, match="differs from the vocabulary the first partial_fit"):
        model.partial_fit(sample.texts[:100], vocabulary=words[:10])


def test_partial_fit_with_a_given_vocabulary(sample):
    words = ProdLDA(n_topics=5, vocab_size=300).vocabulary_for(sample)
    model = ProdLDA(n_topics=5, **FAST).partial_fit(sample.texts[:500], vocabulary=words)
    assert model.vocabulary_.words == words and model.topic_word_.shape == (5, 300)
    vocab = Vocabulary.from_words(words)
    other = ProdLDA(n_topics=5, **FAST).partial_fit(sample.texts[:500], vocabulary=vocab)
    np.testing.assert_allclose(other.topic_word_, model.topic_word_, atol=1e-6)
    with pytest.raises(ValueError, match="vocabulary= has repeated words"):
        ProdLDA(n_topics=5, **FAST).partial_fit(sample.texts[:50], vocabulary=["aaa", "aaa"])


def test_partial_fit_after_fit_continues_the_fitted_model(sample):
    model = ProdLDA(n_topics=5, **FAST).fit(sample.texts[:600])
    before = model.topic_word_.copy()
    model.partial_fit(sample.texts[600:1200])
    assert len(model.history_["loss"]) == FAST["epochs"] + 1
    assert np.abs(model.topic_word_ - before).max() > 1e-4


def test_partial_fit_on_a_stream_of_pieces_recovers_planted_topics():
    texts, topics, _ = planted_corpus(n_topics=5, n_docs=2000, seed=1)
    model = ProdLDA(n_topics=5, batch_size=64, progress=False, seed=0)
    for _ in range(10):                    # the corpus, streamed ten times in pieces of 400
        for start in range(0, len(texts), 400):
            model.partial_fit(texts[start:start + 400])   # the first piece fixes the vocabulary
    assert len(model.vocabulary_) == 80 and len(model.history_["loss"]) == 50
    assert all(recovered(model.get_topics(10), topics))


# --------------------------------------------------------------------------- errors

def _write(path, text, gz=False):
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _same_error(path, **kw):
    """The streamed reader raises the same CorpusError as load_corpus; returns its message."""
    with pytest.raises(CorpusError) as in_memory:
        load_corpus(path, **kw)
    with pytest.raises(CorpusError) as streamed:
        stream_corpus(path, **kw).fit_bag_of_words(Vocabulary())
    assert str(streamed.value) == str(in_memory.value)
    return str(streamed.value)


def test_a_bad_line_is_named_by_file_and_line(tmp_path):
    rows = [json.dumps({"text": f"doc number {i} about things"}) for i in range(5000)]
    rows[4321] = '{"text": "broken'
    path = _write(tmp_path / "c.jsonl.gz", "\n".join(rows) + "\n", gz=True)
    message = _same_error(path)
    assert str(path) in message and "line 4322" in message and "malformed JSON" in message


@pytest.mark.parametrize("content, where", [
    ('{"text": "a b"}\n{"body": "c"}\n', "line 2"),                       # no text field
    ('{"text": "aaa bbb"}\n{"text": 3}\n', "line 2"),                     # not a string
    ('{"text": "aaa", "id": "x"}\n{"text": "bbb", "id": "x"}\n', "line 2"),  # duplicate id
    ('{"text": "aaa", "label": "p"}\n{"text": "bbb"}\n', "line 2"),       # half-labelled
    ('[1, 2]\n', "line 1"),                                               # not an object
])
def test_bad_jsonl_rows(tmp_path, content, where):
    assert where in _same_error(_write(tmp_path / "c.jsonl", content))


def test_bad_csv_rows(tmp_path):
    assert "line 3" in _same_error(_write(tmp_path / "c.csv", "text,id\naaa bbb,1\nccc,2,extra\n"))
    assert "no column named 'text'" in _same_error(_write(tmp_path / "d.csv", "body\naaa\n"))


def test_broken_gzip_and_empty_corpus(tmp_path):
    assert "not a gzip file" in _same_error(_write(tmp_path / "c.jsonl.gz", '{"text": "a"}\n'))
    assert "no documents" in _same_error(_write(tmp_path / "e.txt", "\n\n"))


def test_streaming_refuses_a_folder_and_reports_an_empty_vocabulary(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("some words here")
    with pytest.raises(CorpusError, match="folder of text files is not streamed"):
        stream_corpus(tmp_path / "docs")
    path = _write(tmp_path / "stop.txt", "the and of\nis it\n")
    with pytest.raises(ValueError) as in_memory:
        Vocabulary().fit_transform(load_corpus(path).texts)
    with pytest.raises(ValueError) as streamed:
        stream_corpus(path).fit_bag_of_words(Vocabulary())
    assert str(streamed.value) == str(in_memory.value)


def test_a_stream_does_not_hand_out_texts(tmp_path):
    stream = stream_corpus(SAMPLE)
    with pytest.raises(TextsNotKept, match="streamed"):
        stream.texts
    with pytest.raises(RuntimeError, match="not been read yet"):
        len(stream)


# --------------------------------------------------------------------------- CLI

def test_cli_fit_stream_writes_the_same_run(tmp_path, sample):
    common = [str(SAMPLE), "--model", "prodlda", "--k", "6", "--epochs", "2", "--quiet"]
    assert main(["fit", *common, "--out", str(tmp_path / "mem")]) == 0
    assert main(["fit", *common, "--stream", "--work-dir", str(tmp_path / "w"),
                 "--out", str(tmp_path / "str")]) == 0
    for name in ("theta.npy", "topic_word.npy"):
        np.testing.assert_allclose(np.load(tmp_path / "str" / name),
                                   np.load(tmp_path / "mem" / name), atol=1e-6)
    assert json.loads((tmp_path / "str" / "ids.json").read_text()) == sample.ids
    config = json.loads((tmp_path / "str" / "config.json").read_text())
    assert config["corpus"]["content_hash"] == sample.content_hash()
    from softtopic.explore.run_folder import open_run
    run = open_run(tmp_path / "str")          # the texts are read back from the corpus file
    assert run.texts == sample.texts
    assert main(["fit", *common, "--model", "lda", "--stream",
                 "--out", str(tmp_path / "lda")]) == 2


def test_undecodable_bytes_are_counted_as_in_memory(tmp_path):
    lines = [f"line number {i} has words".encode() for i in range(3000)]
    lines[7] += b" bad \xff byte"
    lines[2500] += b" more \xc3( bad"
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    corpus = load_corpus(path)
    stream = stream_corpus(path, block_bytes=1000)
    stream.fit_bag_of_words(Vocabulary())
    assert (stream.decode_errors, stream.first_decode_error) == \
        (corpus.decode_errors, corpus.first_decode_error) == (2, "line 8")
    assert list(stream.iter_texts()) == corpus.texts


def test_transform_command_writes_the_models_theta_of_a_new_file(tmp_path):
    from softtopic import load
    from softtopic.cli import main
    texts = [f"{w} {w} rocket orbit" if i % 2 else f"{w} hockey team goal"
             for i, w in enumerate(["alpha", "beta", "gamma", "delta"] * 15)]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n"
                             for i, t in enumerate(texts)))
    assert main(["fit", str(train), "--model", "prodlda", "--k", "3", "--epochs", "2",
                 "--min-df", "1", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    new = tmp_path / "new.txt"
    new_texts = ["rocket orbit alpha", "hockey goal team", "gamma rocket"]
    new.write_text("\n".join(new_texts) + "\n")
    assert main(["transform", str(tmp_path / "run"), str(new), "--out",
                 str(tmp_path / "theta.npy")]) == 0
    theta = np.load(tmp_path / "theta.npy")
    expected = load(tmp_path / "run" / "model").transform(new_texts)
    np.testing.assert_allclose(theta, expected, atol=1e-6)
    np.testing.assert_allclose(theta.sum(1), 1, atol=1e-5)
