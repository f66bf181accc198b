import gzip
import json

import pytest

from softtopic.corpus import Corpus, CorpusError, as_corpus, load_corpus


def write(path, text, mode="w"):
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_with_labels_ids_splits(tmp_path):
    rows = [{"id": "a", "text": "first doc", "label": "x", "split": "train"},
            {"id": "b", "text": "second doc", "label": "y", "split": "test"}]
    p = write(tmp_path / "c.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    c = load_corpus(p)
    assert c.texts == ["first doc", "second doc"]
    assert c.labels == ["x", "y"] and c.ids == ["a", "b"] and c.splits == ["train", "test"]


def test_gzipped_jsonl(tmp_path):
    p = tmp_path / "c.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.write(json.dumps({"text": "hello world"}) + "\n")
    c = load_corpus(p)
    assert c.texts == ["hello world"] and c.labels is None and c.ids == ["0"]


def test_malformed_json_names_file_and_line(tmp_path):
    p = write(tmp_path / "c.jsonl", '{"text": "ok"}\n{"text": broken}\n')
    with pytest.raises(CorpusError, match=r"c\.jsonl, line 2: malformed JSON"):
        load_corpus(p)


def test_missing_text_field_names_field_and_line(tmp_path):
    p = write(tmp_path / "c.jsonl", '{"text": "ok"}\n{"body": "no text"}\n')
    with pytest.raises(CorpusError, match=r"line 2, field 'text': missing text field"):
        load_corpus(p)


def test_label_missing_on_some_rows_is_an_error(tmp_path):
    p = write(tmp_path / "c.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n')
    with pytest.raises(CorpusError, match=r"line 2, field 'label': label missing here but "
                                          r"present on line 1"):
        load_corpus(p)


def test_undecodable_bytes_are_replaced_and_counted(tmp_path, capsys):
    p = write(tmp_path / "c.txt", b"caf\xe9 au lait\nplain line\n", mode="wb")
    c = load_corpus(p)
    assert c.texts == ["caf\ufffd au lait", "plain line"]
    assert c.decode_errors == 1
    assert "replaced 1 undecodable" in capsys.readouterr().err


def test_csv_columns_and_errors(tmp_path):
    p = write(tmp_path / "c.csv", 'body,tag\n"a, quoted text",t1\nsecond,t2\n')
    c = load_corpus(p, text_column="body", label_column="tag")
    assert c.texts == ["a, quoted text", "second"] and c.labels == ["t1", "t2"]
    with pytest.raises(CorpusError, match=r"no column named 'text'.*--text-column"):
        load_corpus(p)
    bad = write(tmp_path / "bad.csv", "body,tag\nx,y,z\n")
    with pytest.raises(CorpusError, match=r"bad\.csv, line 2: 3 fields, header has 2"):
        load_corpus(bad, text_column="body", label_column="tag")


def test_tsv(tmp_path):
    p = write(tmp_path / "c.tsv", "text\tlabel\none\ta\ntwo\tb\n")
    assert load_corpus(p).labels == ["a", "b"]


def test_text_file_skips_blank_lines_and_keeps_line_numbers_as_ids(tmp_path):
    p = write(tmp_path / "c.txt", "one\n\n  \nfour\n")
    c = load_corpus(p)
    assert c.texts == ["one", "four"] and c.ids == ["1", "4"]
    assert "skipped 2 blank lines" in c.notes[0]


def test_folder_of_class_subfolders_gives_labels(tmp_path):
    for label, name, text in [("sport", "1.txt", "goal"), ("space", "2.txt", "orbit")]:
        (tmp_path / label).mkdir(exist_ok=True)
        write(tmp_path / label / name, text)
    c = load_corpus(tmp_path)
    assert sorted(zip(c.labels, c.texts)) == [("space", "orbit"), ("sport", "goal")]


def test_empty_and_missing_inputs(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope.jsonl")
    with pytest.raises(CorpusError, match="no documents"):
        load_corpus(write(tmp_path / "e.jsonl", "\n"))
    with pytest.raises(CorpusError, match="document 1 is int"):
        as_corpus(["fine", 3])


def test_drop_blank_reports_ids():
    c = Corpus(["a b", "  ", "c"], ids=["x", "y", "z"])
    kept, dropped = c.drop_blank()
    assert kept.texts == ["a b", "c"] and dropped == ["y"]
