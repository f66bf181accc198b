"""Corpora streamed from disk: a corpus file read in blocks, never held whole in memory.

Where it sits in the data flow: between the corpus (step 1) and the views (step 3). A
`CorpusStream` stands where a `Corpus` would and is accepted by `NeuralTopicModel.fit`:

    stream = softtopic.stream_corpus("big.jsonl")          # reads nothing yet
    model = ProdLDA(50).fit(stream)                          # two passes over the file
    model.transform_file("new.jsonl", "theta.npy")          # theta written in chunks

Pass 1 reads the file once: it checks every row (the same checks and messages, with file and
line, as `softtopic.corpus.load_corpus`, whose parsing helpers it uses), tokenises each
document once with the shared policy, counts document and term frequencies, writes each block's
word counts (over every word seen so far) as CSR chunks on disk, and the ids to disk. The
vocabulary is then chosen from the counts with scikit-learn's CountVectorizer rules (the same
words in the same order as `Vocabulary.fit_transform` on the corpus in memory). Pass 2 reads
the chunks back and writes the bag of words over the chosen vocabulary straight into
`indptr.npy` / `indices.npy` / `data.npy` (temporary names, renamed when complete), which are
memory-mapped into a SciPy CSR matrix: the trainer reads its minibatches from there.

What stays in memory grows with the number of distinct words, not with the number of documents
(plus 24 bytes a document: its id hash, line number and CSR row pointer).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import tempfile
import zlib
from array import array
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from .corpus import (CorpusError, RowChecker, _decode, _guess_format, _note,
                     delimited_rows, jsonl_rows)
from .files import save_npy_atomic, write_json_atomic

BLOCK_BYTES = 1 << 20        # bytes read at a time (a block always ends at a newline)
CHUNK_DOCUMENTS = 65536      # documents per CSR chunk on disk
_BOM = b"\xef\xbb\xbf"


class TextsNotKept(ValueError):
    """A streamed corpus does not hold its texts in memory."""


# --------------------------------------------------------------------------- reading blocks

def _raw_blocks(path: Path, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The file's bytes (gunzipped when it ends in .gz) in blocks that end after a newline (the
    last may not); a broken gzip file is the same CorpusError as in `load_corpus`."""
    gz = path.suffix.lower() == ".gz"
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
        carry = b""
        while True:
            try:
                chunk = f.read(block_bytes)
            except gzip.BadGzipFile:
                raise CorpusError("not a gzip file (the name ends in .gz but the content is not "
                                  "gzip-compressed)", path) from None
            except (EOFError, zlib.error) as e:
                raise CorpusError(f"truncated gzip file ({e})", path) from None
            if not chunk:
                if carry:
                    yield carry
                return
            buf = carry + chunk
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                carry = buf
                continue
            carry = buf[cut:]
            yield buf[:cut]


class _DecodedFile:
    """Decoded text blocks of a file, with the replaced-byte count and where the first was
    (as `corpus._decode` reports them for a whole file)."""

    def __init__(self, path: Path, block_bytes: int = BLOCK_BYTES):
        self.path, self.block_bytes = path, block_bytes
        self.errors, self.first_error_line = 0, None

    def __iter__(self) -> Iterator[str]:
        newlines = 0
        for i, raw in enumerate(_raw_blocks(self.path, self.block_bytes)):
            decoded = _decode(raw)
            text = decoded.text
            if i > 0 and raw.startswith(_BOM):   # only the file's first BOM is a BOM
                text = "\ufeff" + text
            if decoded.errors:
                self.errors += decoded.errors
                if self.first_error_line is None:
                    self.first_error_line = newlines + decoded.first_error_line
            newlines += raw.count(b"\n")
            yield text


# --------------------------------------------------------------------------- ids on disk

class StoredStrings(Sequence):
    """A sequence of strings kept on disk (JSON lines + memory-mapped offsets): the ids of a
    streamed corpus. Indexing reads one line; iterating reads the file once."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._offsets = np.load(self.folder / "ids.offsets.npy", mmap_mode="r")

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        i = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= i < n:
            raise IndexError(f"id {i} out of range ({n} documents)")
        with open(self.folder / "ids.jsonl", "rb") as f:
            f.seek(int(self._offsets[i]))
            return json.loads(f.read(int(self._offsets[i + 1] - self._offsets[i])))

    def __iter__(self):
        with open(self.folder / "ids.jsonl", "rb") as f:
            for line in f:
                yield json.loads(line)

    def __eq__(self, other):
        return isinstance(other, Sequence) and len(other) == len(self) and \
            all(a == b for a, b in zip(self, other))

    def __repr__(self):
        return f"StoredStrings({len(self)} ids in {self.folder})"


class _IdWriter:
    """Appends ids to `ids.jsonl`; remembers offsets, line numbers and hashes (to find a
    duplicate id at the end without a set of every id)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.file = open(folder / "ids.jsonl.tmp", "wb")
        self.offsets, self.lines, self.hashes = array("q", [0]), array("q"), array("q")

    def add(self, doc_id: str, line_no: int, check_duplicates: bool):
        b = json.dumps(doc_id).encode() + b"\n"
        self.file.write(b)
        self.offsets.append(self.offsets[-1] + len(b))
        self.lines.append(line_no)
        if check_duplicates:
            self.hashes.append(hash(doc_id))

    def close(self) -> StoredStrings:
        self.file.close()
        os.replace(self.folder / "ids.jsonl.tmp", self.folder / "ids.jsonl")
        save_npy_atomic(self.folder / "ids.offsets.npy", np.frombuffer(self.offsets, np.int64))
        return StoredStrings(self.folder)

    def first_duplicate(self, ids: StoredStrings) -> tuple[str, int, int] | None:
        """The first id (in file order) that occurs twice: (id, first position, second).
        Equal hashes are checked against the ids themselves."""
        if not self.hashes:
            return None
        h = np.frombuffer(self.hashes, np.int64)
        order = np.argsort(h, kind="stable")   # positions ascend within a group of equal hashes
        starts = np.flatnonzero(np.r_[True, h[order][1:] != h[order][:-1]])
        stops = np.r_[starts[1:], len(order)]
        best = None
        for start, stop in zip(starts[stops - starts > 1], stops[stops - starts > 1]):
            first_at = {}
            for pos in order[start:stop]:
                value = ids[int(pos)]
                if value in first_at:
                    if best is None or pos < best[2]:
                        best = (value, first_at[value], int(pos))
                    break
                first_at[value] = int(pos)
        return best


# --------------------------------------------------------------------------- CSR on disk

def _npy_header(dtype, shape, size: int = 128) -> bytes:
    """A .npy (version 1.0) header of exactly `size` bytes, so the data can be appended before
    the final shape is known and the header rewritten in place."""
    body = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (np.dtype(dtype).str,
                                                                     tuple(shape))
    magic = b"\x93NUMPY\x01\x00"
    room = size - len(magic) - 2
    if len(body) + 1 > room:
        raise ValueError("npy header too long")
    return magic + struct.pack("<H", room) + (body.ljust(room - 1) + "\n").encode("latin1")


class _AppendedArray:
    """A 1-D .npy file written by appending blocks; renamed into place by `close`."""

    def __init__(self, path: Path, dtype):
        self.path, self.dtype, self.n = path, np.dtype(dtype), 0
        self.tmp = path.with_name(path.name + ".tmp")
        self.file = open(self.tmp, "wb")
        self.file.write(_npy_header(self.dtype, (0,)))

    def append(self, values: np.ndarray):
        values = np.ascontiguousarray(values, dtype=self.dtype)
        self.file.write(values.tobytes())
        self.n += len(values)

    def close(self):
        self.file.seek(0)
        self.file.write(_npy_header(self.dtype, (self.n,)))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.tmp, self.path)


def save_csr(folder: str | Path, matrix: sp.csr_matrix) -> Path:
    """A CSR matrix as indptr/indices/data .npy files (atomic writes) and a shape.json."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("indptr", "indices", "data"):
        save_npy_atomic(folder / f"{name}.npy", getattr(matrix, name))
    write_json_atomic(folder / "shape.json", list(matrix.shape))
    return folder


def load_csr(folder: str | Path) -> sp.csr_matrix:
    """The CSR matrix in `folder`, its three arrays memory-mapped (nothing is read whole)."""
    folder = Path(folder)
    shape = tuple(json.loads((folder / "shape.json").read_text()))
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r")
              for name in ("indptr", "indices", "data")}
    m = sp.csr_matrix(shape, dtype=arrays["data"].dtype)   # built empty, then given the maps:
    m.data, m.indices, m.indptr = arrays["data"], arrays["indices"], arrays["indptr"]
    m._shape = shape                                      # the constructor would copy them
    return m


# --------------------------------------------------------------------------- the stream

class CorpusStream:
    """A corpus file read in blocks; stands where a `Corpus` would in `fit`.

    Formats as `load_corpus`: JSONL, CSV, TSV or a text file (one document a line), gzipped or
    not (a folder of text files is read whole by `load_corpus`). Nothing is read until a pass
    runs. After the first pass, `len(stream)`, `ids` (kept on disk), `content_hash()` and the
    notes are known. Texts are never kept: `texts` raises `TextsNotKept`; `iter_texts()`
    reads them again from the file.

    work_dir: where the ids, the bag of words and theta are written (default: a new folder in
    the system's temporary directory, kept after the fit: a fitted model's `theta_` is a
    memory map of a file in it).
    """

    is_stream = True

    def __init__(self, path: str | Path, text_column: str = "text",
                 label_column: str | None = "label", id_column: str | None = "id",
                 split_column: str | None = "split", format: str | None = None,
                 time_column: str | None = None, work_dir: str | Path | None = None,
                 chunk_documents: int = CHUNK_DOCUMENTS, block_bytes: int = BLOCK_BYTES):
        self.path = Path(path)
        if not self.path.exists():
            raise CorpusError("file or folder does not exist", self.path)
        self.format = format or _guess_format(self.path)
        if self.format == "folder":
            raise CorpusError("a folder of text files is not streamed (each file is one "
                              "document); pass a corpus file (JSONL, CSV, TSV or text), or "
                              "load the folder with load_corpus", self.path)
        if self.format not in ("jsonl", "csv", "tsv", "txt"):
            raise CorpusError(f"unknown format {self.format!r}; use jsonl, csv, tsv, txt or a "
                              "folder", self.path)
        if time_column and self.format == "txt":
            raise CorpusError("a txt corpus has no columns; --time-column needs JSONL, CSV or "
                              "TSV", self.path)
        self.text_column, self.label_column, self.id_column = text_column, label_column, id_column
        self.split_column, self.time_column = split_column, time_column
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.chunk_documents, self.block_bytes = int(chunk_documents), int(block_bytes)
        self.source = str(self.path)
        self.ids: StoredStrings | None = None
        self.labels = self.splits = self.times = None   # not kept when streaming
        self.notes: list[str] = []
        self.decode_errors, self.first_decode_error = 0, None
        self._n: int | None = None
        self._lines = 0   # lines of a text file (blank ones included) after a pass
        self._hash: str | None = None
        self.columns_present: dict[str, bool] = {}

    # ------------------------------------------------------------------ reading
    def _folder(self) -> Path:
        if self.work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="softtopic-stream-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self.work_dir

    def _documents(self, checker: RowChecker | None = None
                   ) -> Iterator[tuple[int, str, str | None]]:
        """(line number, text, id or None) for every document, in file order."""
        decoded = _DecodedFile(self.path, self.block_bytes)
        checker = checker or RowChecker(self.path, self.text_column, self.label_column,
                                        self.id_column, self.split_column, self.time_column)
        if self.format == "txt":
            line_no = 0
            for block in decoded:
                for line in block.splitlines():
                    line_no += 1
                    if line.strip():
                        yield line_no, line, str(line_no)
            self._lines = line_no
        else:
            if self.format == "jsonl":
                rows = self._jsonl_rows(decoded)
            else:
                lines = (line for block in decoded for line in io.StringIO(block, newline=""))
                rows = delimited_rows(lines, self.path, "\t" if self.format == "tsv" else ",",
                                      self.text_column)
            for line_no, row in rows:
                text = checker.text(line_no, row)
                yield line_no, text, checker.optional(line_no, row)["ids"]
        self.decode_errors, self.first_decode_error = decoded.errors, (
            None if decoded.first_error_line is None else f"line {decoded.first_error_line}")

    def _jsonl_rows(self, decoded):
        line_no = 1
        for block in decoded:
            lines = block.splitlines()
            yield from jsonl_rows(lines, self.path, line_no)
            line_no += len(lines)

    def iter_texts(self) -> Iterator[str]:
        """The documents' texts, read again from the file, in order."""
        for _, text, _ in self._documents():
            yield text

    def blocks(self, size: int) -> Iterator[list[str]]:
        """The texts in lists of `size` documents (the last may be shorter)."""
        block = []
        for text in self.iter_texts():
            block.append(text)
            if len(block) == size:
                yield block
                block = []
        if block:
            yield block

    @property
    def texts(self):
        raise TextsNotKept(f"{self.path} is streamed: its texts are not held in memory; read "
                           "them with load_corpus, or iterate stream.iter_texts()")

    def __len__(self) -> int:
        if self._n is None:
            raise RuntimeError("the stream has not been read yet (its length is known after "
                               "the first pass)")
        return self._n

    def content_hash(self) -> str:
        if self._hash is None:
            raise RuntimeError("the stream has not been read yet")
        return self._hash

    # ------------------------------------------------------------------ pass 1
    def _count_pass(self, analyzer, folder: Path):
        """Read the file once: check rows, write ids, tokenise, count, write CSR chunks over
        every word seen. Returns (words in first-seen order, df, tf, n_chunks)."""
        checker = RowChecker(self.path, self.text_column, self.label_column, self.id_column,
                             self.split_column, self.time_column)
        chunks = folder / "chunks"
        shutil.rmtree(chunks, ignore_errors=True)
        chunks.mkdir(parents=True)
        ids = _IdWriter(folder)
        text_hash = hashlib.sha256()
        word_ids: dict[str, int] = {}
        df = np.zeros(0, np.int64)
        tf = np.zeros(0, np.int64)
        n, n_chunks = 0, 0
        indptr, indices, counts = array("q", [0]), array("i"), array("i")
        with_ids = self.format != "txt" and self.id_column is not None

        def flush():
            nonlocal df, tf, n_chunks, indptr, indices, counts
            idx = np.frombuffer(indices, np.int32)
            cnt = np.frombuffer(counts, np.int32)
            if len(word_ids) > len(df):
                df = np.concatenate([df, np.zeros(len(word_ids) - len(df), np.int64)])
                tf = np.concatenate([tf, np.zeros(len(word_ids) - len(tf), np.int64)])
            df += np.bincount(idx, minlength=len(df))
            tf += np.bincount(idx, weights=cnt, minlength=len(tf)).astype(np.int64)
            for name, a in (("indptr", np.frombuffer(indptr, np.int64)), ("indices", idx),
                            ("counts", cnt)):
                save_npy_atomic(chunks / f"{n_chunks:06d}.{name}.npy", a)
            n_chunks += 1
            indptr, indices, counts = array("q", [0]), array("i"), array("i")

        for line_no, text, doc_id in self._documents(checker):
            b = text.encode("utf-8", "surrogatepass")
            text_hash.update(len(b).to_bytes(8, "little"))
            text_hash.update(b)
            ids.add(doc_id if doc_id is not None else str(n), line_no, with_ids)
            for word, c in Counter(analyzer(text)).items():
                j = word_ids.get(word)
                if j is None:
                    j = word_ids[word] = len(word_ids)
                indices.append(j)
                counts.append(c)
            indptr.append(len(indices))
            n += 1
            if n % self.chunk_documents == 0:
                flush()
        if len(indptr) > 1 or n_chunks == 0:
            flush()
        stored = ids.close()
        present = checker.present()
        self.columns_present = present
        if with_ids and present["ids"]:   # without an id column ids are positions, as Corpus's
            duplicate = ids.first_duplicate(stored)
            if duplicate is not None:
                value, first, second = duplicate
                raise CorpusError(f"duplicate id {value!r} (also on line {ids.lines[first]})",
                                  self.path, ids.lines[second], self.id_column)
        checker.check_time_column(n, present["times"])
        if self.decode_errors:
            _note(self.path, f"replaced {self.decode_errors} undecodable byte sequences with "
                             f"U+FFFD (the first at {self.first_decode_error})")
        if n == 0:
            raise CorpusError("the corpus has no documents", self.path)
        if self.format == "txt" and self._lines > n:
            self.notes.append(f"skipped {self._lines - n} blank lines")
        self.ids, self._n, self._hash = stored, n, text_hash.hexdigest()
        return list(word_ids), df, tf, n_chunks

    # ------------------------------------------------------------------ bag of words
    def fit_bag_of_words(self, vocabulary) -> sp.csr_matrix:
        """Fit `vocabulary` (a `preprocessing.Vocabulary`) on the file in one pass and write the
        bag of words in a second; returns the CSR matrix, memory-mapped from disk."""
        folder = self._folder()
        lookup, n_chunks = self._fit_vocabulary(vocabulary, folder)
        bow = self._write_bow(folder, n_chunks, lookup, len(vocabulary))
        shutil.rmtree(folder / "chunks", ignore_errors=True)
        return bow

    def _fit_vocabulary(self, vocabulary, folder: Path):
        """Pass 1 and the vocabulary rule: (provisional word id -> column or -1, n_chunks)."""
        words, df, tf, n_chunks = self._count_pass(vocabulary._analyzer, folder)
        chosen = choose_vocabulary(words, df, tf, self._n, vocabulary.config)
        lookup = np.full(len(words), -1, np.int64)
        lookup[chosen] = np.arange(len(chosen))
        vocabulary.set_words([words[j] for j in chosen], tf[chosen])
        return lookup, n_chunks

    def fit_vocabulary(self, vocabulary):
        """Only pass 1: fit `vocabulary` on the file (no bag of words is written)."""
        folder = self._folder()
        self._fit_vocabulary(vocabulary, folder)
        shutil.rmtree(folder / "chunks", ignore_errors=True)
        return vocabulary

    def _write_bow(self, folder: Path, n_chunks: int, lookup: np.ndarray, n_words: int):
        out = folder / "bow"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        indices = _AppendedArray(out / "indices.npy", np.int32)
        data = _AppendedArray(out / "data.npy", np.float32)
        lengths = []
        for i in range(n_chunks):
            ptr = np.load(folder / "chunks" / f"{i:06d}.indptr.npy")
            idx = np.load(folder / "chunks" / f"{i:06d}.indices.npy")
            cnt = np.load(folder / "chunks" / f"{i:06d}.counts.npy")
            rows = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
            cols = lookup[idx]
            keep = cols >= 0
            rows, cols, cnt = rows[keep], cols[keep], cnt[keep]
            order = np.argsort(rows * n_words + cols, kind="stable")   # sorted within each row
            indices.append(cols[order])
            data.append(cnt[order])
            lengths.append(np.bincount(rows, minlength=len(ptr) - 1))
        indices.close()
        data.close()
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(lengths))])
        # scipy keeps one index dtype for both arrays; int32 unless there are 2**31 entries
        index_dtype = np.int32 if indptr[-1] < 2**31 else np.int64
        if index_dtype is np.int64:
            raise CorpusError(f"the bag of words has {indptr[-1]} entries, more than the 2**31 "
                              "a streamed CSR matrix supports", self.path)
        save_npy_atomic(out / "indptr.npy", indptr.astype(index_dtype))
        write_json_atomic(out / "shape.json", [self._n, n_words])
        return load_csr(out)

    def new_array(self, name: str, shape, dtype=np.float32) -> np.memmap:
        """A .npy file in the work folder, memory-mapped for writing (e.g. theta)."""
        return np.lib.format.open_memmap(self._folder() / f"{name}.npy", mode="w+",
                                         dtype=dtype, shape=tuple(shape))


def stream_corpus(path: str | Path, **options) -> CorpusStream:
    """A corpus file to be read in blocks (`CorpusStream`), for `fit` on corpora that do not
    fit in memory. Options as `load_corpus` (text_column, label_column, id_column,
    split_column, format, time_column) plus work_dir."""
    return CorpusStream(path, **options)


# --------------------------------------------------------------------------- the vocabulary rule

def choose_vocabulary(words: list[str], df: np.ndarray, tf: np.ndarray, n_documents: int,
                      config) -> np.ndarray:
    """Indices into `words` of the vocabulary, in vocabulary (alphabetical) order: scikit-learn's
    CountVectorizer rules (min_df, max_df, then the max_features most frequent words; ties
    broken by the same argsort on the same array), so the result equals
    `Vocabulary.fit_transform` on the texts in memory. Errors as there."""
    def fail(message):
        raise ValueError(f"could not build a vocabulary: {message} (documents: {n_documents}, "
                         f"settings: {config.to_dict()})")

    if not words:
        fail("empty vocabulary; perhaps the documents only contain stop words")
    max_df, min_df = config.max_df, config.min_df
    high = max_df if isinstance(max_df, (int, np.integer)) and not isinstance(max_df, bool) \
        else max_df * n_documents
    low = min_df if isinstance(min_df, (int, np.integer)) and not isinstance(min_df, bool) \
        else min_df * n_documents
    if high < low:
        fail("max_df corresponds to < documents than min_df")
    order = np.array(sorted(range(len(words)), key=words.__getitem__), dtype=np.int64)
    dfs, tfs = df[order], tf[order].astype(np.float32)   # CountVectorizer sums float32 counts
    mask = (dfs <= high) & (dfs >= low)
    limit = config.vocab_size
    if limit is not None and mask.sum() > limit:
        mask_inds = (-tfs[mask]).argsort()[:limit]
        new_mask = np.zeros(len(dfs), dtype=bool)
        new_mask[np.where(mask)[0][mask_inds]] = True
        mask = new_mask
    if not mask.any():
        fail("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    return order[np.where(mask)[0]]
