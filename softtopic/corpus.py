"""Corpora: texts with optional labels, splits and ids, loaded from the file formats users have.

Every loader reports bad input with the file, the line and the field, and never drops a row
silently: undecodable bytes are replaced and counted, malformed rows raise `CorpusError`.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence


class CorpusError(ValueError):
    """A problem with the input corpus, located by file, line and field."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None):
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")
        self.path, self.line, self.field = path, line, field


@dataclass
class Corpus:
    """Documents and what is known about them. `labels` and `splits` are None when absent."""

    texts: list[str]
    labels: list[str] | None = None
    ids: list[str] | None = None
    splits: list[str] | None = None
    source: str | None = None
    decode_errors: int = 0  # bytes replaced while decoding the source
    first_decode_error: str | None = None  # where the first one was ("line 3", "a.txt, line 3")
    notes: list[str] = field(default_factory=list)
    times: list[str] | None = None  # each document's time (--time-column), as written

    def __post_init__(self):
        n = len(self.texts)
        if self.ids is None:
            self.ids = [str(i) for i in range(n)]
        for name in ("labels", "ids", "splits", "times"):
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise CorpusError(f"{name} has {len(values)} entries for {n} texts", self.source)
        duplicate = first_duplicate(self.ids)
        if duplicate is not None:
            value, first, second = duplicate
            raise CorpusError(f"duplicate document id {value!r} at positions {first} and "
                              f"{second}", self.source, field="id")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: Sequence[int]) -> "Corpus":
        pick = lambda xs: None if xs is None else [xs[i] for i in index]  # noqa: E731
        return Corpus([self.texts[i] for i in index], pick(self.labels), pick(self.ids),
                      pick(self.splits), self.source, self.decode_errors,
                      self.first_decode_error, list(self.notes), pick(self.times))

    def drop_blank(self) -> tuple["Corpus", list[str]]:
        """Drop documents whose text is only whitespace; returns the kept corpus and dropped ids."""
        keep = [i for i, t in enumerate(self.texts) if t.strip()]
        dropped = [self.ids[i] for i in range(len(self)) if not self.texts[i].strip()]
        kept = self.subset(keep)
        if dropped:
            kept.notes.append(f"dropped {len(dropped)} blank documents")
        return kept, dropped

    def content_hash(self) -> str:
        """A hash of the texts (in order): the key under which views of this corpus are cached."""
        return hash_texts(self.texts)

    # What a model asks of its training documents; `streaming.CorpusStream` answers the same
    # questions from a file on disk.
    def fit_bag_of_words(self, vocabulary):
        """Fit `vocabulary` (a preprocessing.Vocabulary) on the texts; their CSR bag of words."""
        return vocabulary.fit_transform(self.texts)

    def new_array(self, name: str, shape, dtype="float32"):
        """An array for one row per document (e.g. theta): in memory for a Corpus."""
        import numpy as np
        return np.empty(tuple(shape), dtype=dtype)


def first_duplicate(values: Sequence) -> tuple[object, int, int] | None:
    """The first value that occurs twice, with the positions of its first two occurrences."""
    seen = {}
    for i, v in enumerate(values):
        if v in seen:
            return v, seen[v], i
        seen[v] = i
    return None


def hash_texts(texts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def as_corpus(documents) -> Corpus:
    """Accept a Corpus, a list of strings, or a path to a corpus file."""
    if isinstance(documents, Corpus) or getattr(documents, "is_stream", False):
        return documents
    if isinstance(documents, (str, Path)) and Path(documents).exists():
        return load_corpus(documents)
    if isinstance(documents, str):
        raise CorpusError("expected a list of documents or an existing corpus path, got a single "
                          "string that is not a path", documents[:80])
    texts = list(documents)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise CorpusError(f"document {i} is {type(t).__name__}, not str", field="text")
    return Corpus(texts)


# --------------------------------------------------------------------------- loading

CORPUS_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
                  ".tsv": "tsv"}
TEXT_SUFFIXES = {".txt", ".text", ".md", ""}


@dataclass
class Decoded:
    """A file's text, with the undecodable byte sequences that were replaced by U+FFFD."""
    text: str
    errors: int = 0
    first_error_line: int | None = None


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it ends in .gz; a broken gzip file is a CorpusError."""
    raw = path.read_bytes()
    if path.suffix.lower() != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except gzip.BadGzipFile:
        raise CorpusError("not a gzip file (the name ends in .gz but the content is not "
                          "gzip-compressed)", path) from None
    except (EOFError, zlib.error) as e:
        raise CorpusError(f"truncated gzip file ({e})", path) from None


def _decode(raw: bytes) -> Decoded:
    """UTF-8 with undecodable bytes replaced; counts them and finds the line of the first."""
    try:
        text, errors, first_line = raw.decode("utf-8"), 0, None
    except UnicodeDecodeError as e:
        text = raw.decode("utf-8", errors="replace")
        # U+FFFD may also occur legitimately; count only what decoding replaced.
        errors = max(text.count("\ufffd") - raw.count(b"\xef\xbf\xbd"), 1)
        first_line = raw.count(b"\n", 0, e.start) + 1
    if text.startswith("\ufeff"):
        text = text[1:]
    return Decoded(text, errors, first_line)


def _open_text(path: Path) -> Decoded:
    """Read a (possibly gzipped) file as UTF-8, replacing undecodable bytes."""
    return _decode(_read_bytes(path))


def _note(path, message: str):
    print(f"softtopic: {path}: {message}", file=sys.stderr)


def load_corpus(path: str | Path, text_column: str = "text", label_column: str | None = "label",
                id_column: str | None = "id", split_column: str | None = "split",
                format: str | None = None, time_column: str | None = None) -> Corpus:
    """Load a corpus from JSONL, CSV, TSV, a text file (one document a line) or a folder of .txt.

    Label, id and split columns are optional: when the named column is absent from every row it
    is ignored; when it is present in some rows and missing in others, that is an error naming
    the first row without it (a half-labelled corpus would silently bias every label metric).
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError("file or folder does not exist", path)
    fmt = format or _guess_format(path)
    if fmt == "folder":
        corpus = _load_folder(path)
    elif fmt == "jsonl":
        corpus = _load_jsonl(path, text_column, label_column, id_column, split_column,
                             time_column)
    elif fmt in ("csv", "tsv"):
        corpus = _load_delimited(path, "\t" if fmt == "tsv" else ",", text_column, label_column,
                                 id_column, split_column, time_column)
    elif fmt == "txt":
        corpus = _load_lines(path)
    else:
        raise CorpusError(f"unknown format {fmt!r}; use jsonl, csv, tsv, txt or a folder", path)
    if time_column and corpus.times is None:
        raise CorpusError(f"a {fmt} corpus has no columns; --time-column needs JSONL, CSV or TSV",
                          path)
    if corpus.decode_errors:
        _note(path, f"replaced {corpus.decode_errors} undecodable byte sequences with U+FFFD "
                    f"(the first at {corpus.first_decode_error})")
    if len(corpus) == 0:
        raise CorpusError("the corpus has no documents", path)
    return corpus


def _guess_format(path: Path) -> str:
    if path.is_dir():
        return "folder"
    return CORPUS_FORMATS.get(_suffix(path), "txt")


def _suffix(path: Path) -> str:
    """The lowercased extension, ignoring a final .gz ("" when there is none)."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return suffixes[-1] if suffixes else ""


class RowChecker:
    """The checks every row of a JSONL/CSV/TSV corpus passes, one row at a time: the text field
    is there and is a string; an optional column is in every row or in none. Used by the
    in-memory loaders (`_collect`) and by the streaming reader (`softtopic.streaming`), so both
    report the same errors at the same file and line."""

    def __init__(self, path, text_column, label_column=None, id_column=None, split_column=None,
                 time_column=None):
        self.path, self.text_column = path, text_column
        self.wanted = {"labels": label_column, "ids": id_column, "splits": split_column,
                       "times": time_column}
        self.seen_in = {k: None for k in self.wanted}    # first line where a column was present
        self.missing_in = {k: None for k in self.wanted}  # first line where it was absent

    def text(self, line_no: int, row: dict) -> str:
        if self.text_column not in row:
            raise CorpusError(f"missing text field (fields present: {sorted(row)})", self.path,
                              line_no, self.text_column)
        text = row[self.text_column]
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise CorpusError(f"text must be a string, got {type(text).__name__}", self.path,
                              line_no, self.text_column)
        return text

    def optional(self, line_no: int, row: dict) -> dict[str, str | None]:
        """{"labels": value or None, "ids": ..., ...} for this row, remembering which columns
        were present where."""
        out = {}
        for key, col in self.wanted.items():
            value = row.get(col) if col else None
            if value is None or value == "":
                self.missing_in[key] = self.missing_in[key] or line_no
                out[key] = None
            else:
                self.seen_in[key] = self.seen_in[key] or line_no
                out[key] = str(value)
        return out

    def present(self) -> dict[str, bool]:
        """Which optional columns the corpus has; a CorpusError when one is in some rows only."""
        out = {}
        for key, col in self.wanted.items():
            if self.seen_in[key] is not None and self.missing_in[key] is not None:
                raise CorpusError(f"{key[:-1]} missing here but present on line "
                                  f"{self.seen_in[key]}", self.path, self.missing_in[key], col)
            out[key] = self.seen_in[key] is not None
        return out

    def check_time_column(self, n_texts: int, has_times: bool):
        col = self.wanted["times"]
        if col and not has_times and n_texts:
            raise CorpusError(f"no document has a time field {col!r} (--time-column)",
                              self.path, field=col)


def _collect(rows, path, text_column, label_column, id_column, split_column, time_column=None):
    """Turn an iterable of (line number, dict) into a Corpus with consistent optional columns."""
    checker = RowChecker(path, text_column, label_column, id_column, split_column, time_column)
    texts, line_numbers, columns = [], [], {k: [] for k in checker.wanted}
    for line_no, row in rows:
        texts.append(checker.text(line_no, row))
        line_numbers.append(line_no)
        for key, value in checker.optional(line_no, row).items():
            columns[key].append(value)
    present = checker.present()
    out = {key: columns[key] if present[key] else None for key in columns}
    duplicate = first_duplicate(out["ids"] or [])
    if duplicate is not None:
        value, first, second = duplicate
        raise CorpusError(f"duplicate id {value!r} (also on line {line_numbers[first]})", path,
                          line_numbers[second], id_column)
    checker.check_time_column(len(texts), out["times"] is not None)
    return Corpus(texts, out["labels"], out["ids"], out["splits"], source=str(path),
                  times=out["times"])


def parse_json_object(line: str, path, line_no: int) -> dict:
    """One JSONL line as a dict; anything else is a CorpusError naming the file and line."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise CorpusError(f"malformed JSON ({e.msg} at column {e.colno})", path, line_no) from None
    if not isinstance(row, dict):
        raise CorpusError(f"expected a JSON object, got {type(row).__name__}", path, line_no)
    return row


def jsonl_rows(lines: Iterable[str], path, first_line: int = 1):
    """(line number, dict) for each non-blank line of JSONL text (lines as str.splitlines gives
    them; `first_line` is the number of the first)."""
    for line_no, line in enumerate(lines, first_line):
        if line.strip():
            yield line_no, parse_json_object(line, path, line_no)


def _load_jsonl(path, text_column, label_column, id_column, split_column, time_column=None
                ) -> Corpus:
    decoded = _open_text(path)
    corpus = _collect(jsonl_rows(decoded.text.splitlines(), path), path, text_column,
                      label_column, id_column, split_column, time_column)
    _record_decode_errors(corpus, decoded)
    return corpus


def delimited_rows(lines: Iterable[str], path, delimiter: str, text_column: str):
    """(line number, dict) for each row of CSV/TSV text; `lines` keep their line endings (an
    io.StringIO(text, newline="") or any iterator of such lines). The header must name
    `text_column`; a row with more fields than the header is a CorpusError."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.DictReader(lines, delimiter=delimiter)
    if reader.fieldnames is None:
        raise CorpusError("empty file: no header row", path, 1)
    if text_column not in reader.fieldnames:
        raise CorpusError(f"no column named {text_column!r} in the header "
                          f"(columns: {reader.fieldnames}); choose one with --text-column",
                          path, 1, text_column)
    for row in reader:
        if None in row:  # more fields than the header names
            raise CorpusError(f"{len(reader.fieldnames) + len(row[None])} fields, header has "
                              f"{len(reader.fieldnames)}", path, reader.line_num)
        yield reader.line_num, row


def _load_delimited(path, delimiter, text_column, label_column, id_column, split_column,
                    time_column=None):
    decoded = _open_text(path)
    rows = delimited_rows(io.StringIO(decoded.text, newline=""), path, delimiter, text_column)
    corpus = _collect(rows, path, text_column, label_column, id_column, split_column,
                      time_column)
    _record_decode_errors(corpus, decoded)
    return corpus


def _record_decode_errors(corpus: Corpus, decoded: Decoded, name: str | None = None):
    """Add a file's replaced bytes to the corpus's count; keep where the first one was."""
    if decoded.errors and corpus.first_decode_error is None:
        line = f"line {decoded.first_error_line}"
        corpus.first_decode_error = f"{name}, {line}" if name else line
    corpus.decode_errors += decoded.errors


def _load_lines(path) -> Corpus:
    decoded = _open_text(path)
    lines = decoded.text.splitlines()
    texts = [line for line in lines if line.strip()]
    ids = [str(i) for i, line in enumerate(lines, 1) if line.strip()]  # ids are line numbers
    corpus = Corpus(texts, ids=ids, source=str(path))
    _record_decode_errors(corpus, decoded)
    if len(texts) < len(lines):
        corpus.notes.append(f"skipped {len(lines) - len(texts)} blank lines")
    return corpus


def _load_folder(path) -> Corpus:
    """Every text file under `path` is a document; other files are skipped and reported.
    Corpus files (JSONL, CSV, ...) are refused: one of them, not the folder, is the corpus."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise CorpusError("folder has no files", path)
    corpus_files = [f for f in files if _suffix(f) in CORPUS_FORMATS]
    if corpus_files:
        names = ", ".join(str(f.relative_to(path)) for f in corpus_files[:5])
        more = ", ..." if len(corpus_files) > 5 else ""
        raise CorpusError(f"{path} holds corpus files ({names}{more}); pass one of them")
    texts, ids, labels, decoded, skipped = [], [], [], [], []
    for f in files:
        rel = f.relative_to(path)
        raw = _read_bytes(f) if _suffix(f) in TEXT_SUFFIXES else None
        if raw is None or b"\0" in raw:   # NUL bytes: a binary file, whatever its name says
            skipped.append(str(rel))
            continue
        decoded.append((str(rel), _decode(raw)))
        texts.append(decoded[-1][1].text)
        ids.append(str(rel))
        labels.append(rel.parts[0] if len(rel.parts) > 1 else None)
    if not texts:
        raise CorpusError(f"folder has no text files (skipped: {_short_list(skipped)})", path)
    # a folder of class subfolders (the 20 Newsgroups layout) gives labels; flat files give none
    has_labels = all(label is not None for label in labels)
    out = Corpus(texts, labels if has_labels else None, ids, source=str(path))
    for name, d in decoded:
        _record_decode_errors(out, d, name)
    if skipped:
        note = (f"skipped {len(skipped)} files that are not text (.txt, .text, .md or no "
                f"extension, without NUL bytes): {_short_list(skipped)}")
        out.notes.append(note)
        _note(path, note)
    return out


def _short_list(names: list[str], n: int = 10) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")
