"""Issue 11, input files and parameters: every bad input is refused (or reported) with one line
that names the file, the line or the parameter; defaults converge on planted corpora.

Table-driven: each row is one case of the audit."""
import gzip
import json

import pytest

from softtopic.corpus import CorpusError, load_corpus


# ------------------------------------------------------------------------------ corpus files
def _not_gzip(tmp_path):
    p = tmp_path / "c.jsonl.gz"
    p.write_text('{"text": "plain text, not compressed"}\n')
    return p


def _truncated_gzip(tmp_path):
    p = tmp_path / "c.jsonl.gz"
    p.write_bytes(gzip.compress(b'{"text": "some words here"}\n' * 50)[:-20])
    return p


def _duplicate_ids_jsonl(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text("\n".join(json.dumps({"id": i, "text": "words"}) for i in ("a", "b", "a")))
    return p


def _duplicate_ids_csv(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("id,text\nx,one\ny,two\n\nx,three\n")
    return p


def _folder_with_corpus_files(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "a.jsonl").write_text('{"text": "x"}\n')
    (d / "b.csv.gz").write_bytes(gzip.compress(b"text\nx\n"))
    (d / "notes.txt").write_text("a document")
    return d


def _folder_of_binaries(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    (d / "fake.txt").write_bytes(b"text\0with NUL bytes")
    return d


@pytest.mark.parametrize("make, message", [
    (_not_gzip, r"c\.jsonl\.gz: not a gzip file"),
    (_truncated_gzip, r"c\.jsonl\.gz: truncated gzip file"),
    (_duplicate_ids_jsonl, r"c\.jsonl, line 3, field 'id': duplicate id 'a' \(also on line 1\)"),
    (_duplicate_ids_csv, r"c\.csv, line 5, field 'id': duplicate id 'x' \(also on line 2\)"),
    (_folder_with_corpus_files, r"data holds corpus files \(a\.jsonl, b\.csv\.gz\); pass one"),
    (_folder_of_binaries, r"folder has no text files \(skipped: fake\.txt, image\.png\)"),
], ids=["not-gzip", "truncated-gzip", "duplicate-id-jsonl", "duplicate-id-csv",
        "folder-of-corpus-files", "folder-of-binaries"])
def test_bad_corpus_file_is_one_error_naming_it(tmp_path, make, message):
    with pytest.raises(CorpusError, match=message):
        load_corpus(make(tmp_path))


def test_duplicate_ids_from_python_name_the_positions():
    from softtopic.corpus import Corpus
    with pytest.raises(CorpusError, match=r"duplicate document id 'b' at positions 1 and 3"):
        Corpus(["w", "x", "y", "z"], ids=["a", "b", "c", "b"])


@pytest.mark.parametrize("name, content, where", [
    ("c.txt", b"fine\nstill fine\nbad \xff byte\nand \xfe again\n", "line 3"),
    ("c.jsonl", b'{"text": "ok"}\n{"text": "bad \xff"}\n', "line 2"),
])
def test_undecodable_bytes_report_the_first_line(tmp_path, capsys, name, content, where):
    p = tmp_path / name
    p.write_bytes(content)
    corpus = load_corpus(p)
    assert corpus.first_decode_error == where
    assert f"(the first at {where})" in capsys.readouterr().err


def test_folder_reads_text_files_and_reports_what_it_skipped(tmp_path, capsys):
    d = tmp_path / "data"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("first document")
    (d / "b.md").write_text("second document")
    (d / "README").write_text("third document, no extension")
    (d / "model.bin").write_bytes(b"\0\1\2\3")
    (d / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (d / "sub" / "c.text").write_bytes(b"fourth, with a bad \xff byte")
    corpus = load_corpus(d)
    assert corpus.ids == ["README", "a.txt", "b.md", "sub/c.text"]
    assert corpus.first_decode_error == "sub/c.text, line 1"
    assert any("skipped 2 files" in n and "model.bin, photo.jpg" in n for n in corpus.notes)
    assert "skipped 2 files" in capsys.readouterr().err


# ------------------------------------------------------------------------------ parameters
@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    from planted import planted_corpus
    texts, _, _ = planted_corpus(n_topics=4, n_docs=81, seed=1)
    path = tmp_path_factory.mktemp("corpus") / "c.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def fit_cli(corpus_file, tmp_path, *flags, model="prodlda"):
    from softtopic.cli import main
    epochs = [] if model == "lda" else ["--epochs", "1"]
    return main(["fit", str(corpus_file), "--model", model, "--k", "4", *epochs,
                 "--out", str(tmp_path / "run"), "--quiet", *flags])


NO_CUDA = pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="CUDA is here")


@pytest.mark.parametrize("flags, model, message", [
    (["--batch-size", "1"], "prodlda", "parameter batch_size must be an integer >= 2"),
    (["--seed", "-1"], "prodlda", "parameter seed must be an integer >= 0, got -1"),
    (["--lr", "0"], "prodlda", "parameter lr must be a finite number > 0, got 0.0"),
    (["--lr", "nan"], "prodlda", "parameter lr must be a finite number > 0, got nan"),
    (["--vocab-size", "0"], "prodlda", "parameter vocab_size must be an integer >= 1, got 0"),
    (["--min-df", "5.0"], "prodlda",
     "parameter min_df must be an integer >= 0 or a float in [0, 1], got 5.0"),
    (["--param", "dropout=high"], "prodlda",
     "parameter dropout must be a number in [0, 1), got 'high'"),
    (["--param", "dropout=1"], "prodlda", "parameter dropout must be a number in [0, 1), got 1"),
    (["--param", "hidden_sizes=100"], "prodlda",
     "parameter hidden_sizes must be a non-empty tuple or list of positive integers, got 100"),
    (["--param", "prior_alpha=0"], "prodlda",
     "parameter prior_alpha must be None or a finite number > 0, got 0"),
    (["--passes", "0"], "lda", "parameter passes must be an integer >= 1, got 0"),
    (["--tau", "inf"], "softlabel-encoder", "parameter tau must be a finite number > 0, got inf"),
    (["--lambda", "0"], "softlabel-encoder",
     "parameter weight must be a finite number > 0, got 0.0"),
    (["--param", "n_groups=5", "--k", "4"], "neuromax",
     "parameter n_groups must be at most n_topics (4), got 5"),
    (["--device", "tpu"], "prodlda", "unknown device 'tpu' (cpu, cuda, cuda:N, mps)"),
    pytest.param(["--device", "cuda"], "prodlda",
                 "device 'cuda' requested but CUDA is not available on this machine",
                 marks=NO_CUDA),
    (["--encoder", "/missing/path"], "zeroshot", "encoder '/missing/path': no such local "
     "folder and not a model id that can be downloaded offline"),
])
def test_bad_parameter_is_one_line_naming_it(corpus_file, tmp_path, capsys, flags, model,
                                             message):
    assert fit_cli(corpus_file, tmp_path, *flags, model=model) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1, err


@pytest.mark.parametrize("value, parsed", [("5", 5), ("0", 0), ("0.5", 0.5), ("1.0", 1.0)])
def test_cli_document_frequency_is_a_count_without_a_decimal_point(value, parsed):
    from softtopic.commands.fit import count_or_share
    assert count_or_share(value) == parsed and type(count_or_share(value)) is type(parsed)


def test_cli_min_df_counts_documents(corpus_file, tmp_path):
    assert fit_cli(corpus_file, tmp_path, "--min-df", "5", "--max-df", "0.9") == 0
    params = json.loads((tmp_path / "run" / "config.json").read_text())["params"]
    assert params["min_df"] == 5 and params["max_df"] == 0.9


@pytest.mark.parametrize("n, batch_size, drop_last, bounds", [
    (5, 2, False, [(0, 2), (2, 5)]),     # a last batch of one joins the one before
    (6, 2, False, [(0, 2), (2, 4), (4, 6)]),
    (7, 3, False, [(0, 3), (3, 7)]),
    (5, 2, True, [(0, 2), (2, 4)]),      # as CTM: the partial last batch is dropped
    (3, 8, True, [(0, 3)]),              # never dropped when it is the only one
])
def test_minibatches_never_hold_one_document(n, batch_size, drop_last, bounds):
    from softtopic.training import batch_bounds
    assert batch_bounds(n, batch_size, drop_last) == bounds


@pytest.mark.parametrize("config, error, message", [
    (dict(batch_size=1), ValueError, "parameter batch_size must be an integer >= 2"),
    (dict(epochs=0), RuntimeError, r"no optimisation step was taken \(epochs=0\)"),
])
def test_trainer_refuses_a_fit_without_optimisation_steps(config, error, message):
    import numpy as np
    from softtopic import ProdLDA
    from softtopic.training import TrainingConfig, train
    model = ProdLDA(2, epochs=1, progress=False).fit(["apples pears plums"] * 4 +
                                                       ["cars buses trains"] * 4)
    features = {"bow": model.vocabulary_.transform(["apples pears", "cars trains"] * 3)}
    with pytest.raises(error, match=message):
        train(model.module_, features, np.arange(6), TrainingConfig(progress=False, **config))


# ------------------------------------------------------------------------------ tokenizer, CJK
CHINESE = ["我们今天下午一起去公园散步", "他们明天早上在家里看书学习", "老师昨天晚上给学生讲故事",
           "我们今天下午一起去公园散步", "孩子们在学校的操场上踢足球"]


def test_unsegmented_chinese_warns_and_suggests_a_tokenizer():
    from softtopic.preprocessing import PreprocessingConfig, Vocabulary
    vocab = Vocabulary(PreprocessingConfig())
    with pytest.warns(UserWarning, match="Chinese/Japanese.*pass a tokenizer"):
        vocab.fit_transform(CHINESE)
    assert any("no word boundaries" in note for note in vocab.notes)


def test_tokenizer_splits_words_and_a_model_with_one_refuses_to_save(tmp_path, recwarn):
    from softtopic import ProdLDA
    split = lambda text: [text[i:i + 2] for i in range(0, len(text), 2)]  # noqa: E731
    model = ProdLDA(2, tokenizer=split, epochs=1, progress=False).fit(CHINESE)
    assert "我们" in model.vocabulary_.words and not recwarn.list
    with pytest.raises(TypeError, match="parameter tokenizer is a Python callable"):
        model.save(tmp_path / "m")


# ------------------------------------------------------------------------------ defaults
def test_neuromax_fits_at_six_topics_with_its_default_groups():
    import numpy as np
    from planted import planted_corpus
    from softtopic import NeuroMax
    texts, _, labels = planted_corpus(n_topics=6, n_docs=120, seed=0)
    embeddings = np.eye(6, 8, dtype=np.float32)[labels]
    model = NeuroMax(6, epochs=3, gr_warmup=1, batch_size=32, hidden_sizes=(32,),
                     progress=False).fit(texts, features={"embedding": embeddings})
    assert len(model.get_topic_groups()) == 2 and model.groups_applied_


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lda_defaults_recover_planted_topics(seed):
    from planted import planted_corpus, recovered
    from softtopic.models.wrappers import LDA
    texts, topics, _ = planted_corpus(n_topics=6, topics_per_doc=2, seed=seed)
    model = LDA(6, seed=seed, progress=False).fit(texts)
    assert sum(recovered(model.get_topics(10), topics)) >= 5
