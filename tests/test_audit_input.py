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
