"""Reference co-occurrence statistics: how many boolean sliding windows of a reference corpus
contain each word, and each pair of words, of a word list.

Definitions (Röder et al. 2015, P_sw):
- Each document is tokenised with the training policy (`softtopic.preprocessing.tokenize`:
  lowercase, runs of 3+ letters, scikit-learn English stopwords removed). Every token occupies
  a position, whether or not it is in the word list.
- A document of L tokens gives max(1, L - s + 1) windows of size s, stepping one token; a
  document shorter than s (even an empty one, as in gensim) is one window.
- count(w) = number of windows that contain w at least once; count(u, v) = number of windows
  that contain both. These are exact counts.

`counting="gensim"` instead replays gensim's WordOccurrenceAccumulator, which keeps one presence
flag per word and clears it when *an* occurrence leaves the window even if another occurrence
is still inside; it under-counts, and is offered only to reproduce gensim's numbers.

How it is fast: only the words of the list are tracked. For each (document, word) the window
starts at which the word is present form a few intervals; a pair's count is the total overlap
of its two words' intervals. Sorting all intervals of a batch of documents by start, every
overlapping pair is found with one searchsorted, and the overlaps are summed with np.add.at.
Tokenisation (most of the cost) can run in worker processes; memory is bounded by the batch
size and the V x V count matrix (dense up to DENSE_MAX_WORDS words, sparse above).
"""
from __future__ import annotations

import collections
import gzip
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from .. import __version__
from ..corpus import Corpus, CorpusError, hash_texts, load_corpus, parse_json_object
from ..files import write_json_atomic
from ..preprocessing import STOPWORDS, TOKEN_PATTERN

# Identifies the tokenisation in cache keys and provenance; change it when the policy changes.
TOKENISATION = ("softtopic.preprocessing.tokenize: lowercase, runs of 3+ letters bounded by "
                "non-word characters, scikit-learn English stopwords removed")
COUNTING_MODES = ("exact", "gensim")
DENSE_MAX_WORDS = 4096          # above this the V x V counts are kept sparse
_STOP = -2                      # lookup code of a stopword: removed, occupies no position
_OTHER = -1                     # a token outside the word list: occupies a position


# --------------------------------------------------------------------------- result

@dataclass
class ReferenceStats:
    """Window counts of one reference corpus for one word list and one window size."""

    words: list[str]
    window: int
    n_windows: int
    word_counts: np.ndarray                     # (V,) int64
    pair_counts: np.ndarray | sp.csr_matrix     # (V, V) symmetric, diagonal = word_counts
    counting: str = "exact"
    source: dict = field(default_factory=dict)  # path, hash, documents, tokens, tokenisation
    directory: str | None = None                # where it is saved, when it is

    def __post_init__(self):
        self._index = {w: i for i, w in enumerate(self.words)}

    def ids(self, words: Sequence[str]) -> np.ndarray:
        """Positions of `words` in the word list; -1 for a word not in it."""
        return np.array([self._index.get(w, -1) for w in words], dtype=np.int64)

    def counts(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(count(w_i), count(w_i, w_j)) for the given words; 0 for words not in the list."""
        ids = self.ids(words)
        known = ids >= 0
        singles = np.zeros(len(ids), dtype=np.int64)
        singles[known] = self.word_counts[ids[known]]
        pairs = np.zeros((len(ids), len(ids)), dtype=np.int64)
        k = np.flatnonzero(known)
        if k.size:
            sub = ids[k]
            if sp.issparse(self.pair_counts):
                block = self.pair_counts[sub][:, sub].toarray()
            else:
                block = np.asarray(self.pair_counts[np.ix_(sub, sub)])
            pairs[np.ix_(k, k)] = block
        return singles, pairs

    def provenance(self) -> dict:
        return {"window": self.window, "n_windows": int(self.n_windows),
                "counting": self.counting, "n_words": len(self.words),
                "statistics_dir": self.directory, **self.source}

    # ----------------------------------------------------------------------- disk

    def save(self, directory: str | Path) -> Path:
        """Write the statistics to `directory` (atomically: a temporary folder, then rename)."""
        directory = Path(directory)
        tmp = directory.with_name(directory.name + f".tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "words.json").write_text(json.dumps(self.words))
        np.save(tmp / "word_counts.npy", self.word_counts)
        if sp.issparse(self.pair_counts):
            sp.save_npz(tmp / "pair_counts.npz", sp.triu(self.pair_counts, format="csr"))
        else:
            np.save(tmp / "pair_counts.npy", _smallest_uint(self.pair_counts))
        meta = {"format": 1, "window": self.window, "n_windows": int(self.n_windows),
                "counting": self.counting, "n_words": len(self.words),
                "words_sha256": words_hash(self.words), "source": self.source,
                "softtopic_version": __version__}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if directory.exists():  # another process finished first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, directory)
        self.directory = str(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "ReferenceStats":
        directory = Path(directory)
        meta_path = directory / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{directory}: no reference statistics here (meta.json "
                                    "missing)")
        meta = json.loads(meta_path.read_text())
        words = json.loads((directory / "words.json").read_text())
        if (directory / "pair_counts.npy").exists():
            # memory-mapped: evaluation reads only the topic words' rows
            pairs = np.load(directory / "pair_counts.npy", mmap_mode="r")
        else:
            upper = sp.load_npz(directory / "pair_counts.npz").tocsr()
            pairs = (upper + sp.triu(upper, k=1, format="csr").T).tocsr()
        return cls(words=words, window=int(meta["window"]), n_windows=int(meta["n_windows"]),
                   word_counts=np.load(directory / "word_counts.npy").astype(np.int64),
                   pair_counts=pairs, counting=meta["counting"], source=meta["source"],
                   directory=str(directory))


def _smallest_uint(a: np.ndarray) -> np.ndarray:
    return a.astype(np.uint32) if a.size == 0 or a.max() < 2**32 else a.astype(np.uint64)


def words_hash(words: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(words).encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------- encoding

@dataclass
class EncodedBatch:
    """A batch of documents reduced to what counting needs: every document's token count and
    the (document, position, word id) of each token that is in the word list."""

    lengths: np.ndarray   # (D,) tokens per document, after stopword removal
    doc: np.ndarray       # (M,) document index within the batch
    pos: np.ndarray       # (M,) token position within its document
    word: np.ndarray      # (M,) word id

    @classmethod
    def from_id_lists(cls, id_lists: Sequence[Sequence[int]]) -> "EncodedBatch":
        """From per-document lists of codes: word id, _OTHER, or _STOP (dropped)."""
        n_raw = np.fromiter((len(x) for x in id_lists), dtype=np.int64, count=len(id_lists))
        flat = np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int64,
                           count=int(n_raw.sum()))
        doc = np.repeat(np.arange(len(id_lists), dtype=np.int64), n_raw)
        kept = flat != _STOP
        flat, doc = flat[kept], doc[kept]
        lengths = np.bincount(doc, minlength=len(id_lists)).astype(np.int64)
        pos = np.arange(flat.size, dtype=np.int64) - (np.cumsum(lengths) - lengths)[doc]
        relevant = flat >= 0
        return cls(lengths, doc[relevant], pos[relevant], flat[relevant])


def make_lookup(words: Sequence[str]) -> dict[str, int]:
    """Token -> code. Stopwords map to _STOP even when listed: the policy removes them, so a
    listed stopword never occurs in the reference (it is reported as absent)."""
    lookup = {w: i for i, w in enumerate(words)}
    lookup.update({s: _STOP for s in STOPWORDS})
    return lookup


# On ASCII text the policy's regex is equivalent to this one, which runs about twice as fast.
_ASCII_TOKEN = re.compile(r"\b[a-z]{3,}\b", re.ASCII)
# [A-Za-z0-9_] (ASCII word characters) and, at index 128, every non-ASCII character
_JOINS_WORDS = np.array([chr(c).isalnum() or c == 0x5F for c in range(128)] + [True])


def policy_tokens(text: str) -> list[str]:
    """Exactly `TOKEN_PATTERN.findall(text.lower())` (the training tokeniser before stopword
    removal), faster: ASCII stretches go through an equivalent ASCII-only regex and only the
    runs of word characters that contain a non-ASCII character through the Unicode regex.

    Why this is exact: a token is a whole run of word characters; every non-ASCII character
    lies in a maximal run of (ASCII word or non-ASCII) characters, bounded by ASCII non-word
    characters or the text's ends, so splitting the text at those runs never cuts a token or
    changes what the regex's lookarounds see. A fuzz test checks it."""
    text = text.lower()
    if text.isascii():
        return _ASCII_TOKEN.findall(text)
    code = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    joins = _JOINS_WORDS[np.minimum(code, 128)].view(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], joins, [0]))))
    starts, ends = edges[0::2], edges[1::2]
    non_ascii_before = np.concatenate(([0], np.cumsum(code > 127)))
    mixed = non_ascii_before[ends] > non_ascii_before[starts]
    out, pos = [], 0
    for start, end in zip(starts[mixed].tolist(), ends[mixed].tolist()):
        out += _ASCII_TOKEN.findall(text, pos, start)
        out += TOKEN_PATTERN.findall(text, start, end)
        pos = end
    out += _ASCII_TOKEN.findall(text, pos)
    return out


def encode_texts(texts: Sequence[str], lookup: dict[str, int]) -> EncodedBatch:
    """Tokenise raw texts exactly as `softtopic.preprocessing.tokenize` does (stopwords are
    dropped through the lookup) and map tokens to codes. Tokenising is most of the cost of
    counting a large corpus; worker processes share it (`_encoded_batches`)."""
    get, other = lookup.get, itertools.repeat(_OTHER)
    return EncodedBatch.from_id_lists([list(map(get, policy_tokens(text), other))
                                       for text in texts])


def encode_tokens(token_lists: Sequence[Sequence[str]], words: Sequence[str]) -> EncodedBatch:
    """Already tokenised documents (no stopword removal: every token occupies a position)."""
    index = {w: i for i, w in enumerate(words)}
    return EncodedBatch.from_id_lists([[index.get(t, _OTHER) for t in toks]
                                       for toks in token_lists])


# --------------------------------------------------------------------------- counting

def presence_intervals(batch: EncodedBatch, window: int, n_words: int, counting: str = "exact"):
    """For every (document, word) the window starts at which the word counts as present, as
    disjoint closed intervals [start, end]. Returns (doc, word, start, end) arrays."""
    n_win = np.maximum(1, batch.lengths - window + 1)
    if batch.word.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    group = batch.doc * n_words + batch.word
    order = np.argsort(group, kind="stable")  # stable: positions stay ascending within a group
    group, p, d, w = group[order], batch.pos[order], batch.doc[order], batch.word[order]
    n = p.size
    first = np.ones(n, dtype=bool)
    first[1:] = group[1:] != group[:-1]
    last_start = n_win[d] - 1  # the last window start of the occurrence's document
    # an occurrence at p lies in the windows starting at [p - s + 1, p] (clipped to the document)
    if counting == "exact":
        # consecutive occurrences less than s + 1 apart give touching or overlapping intervals
        new_run = first.copy()
        new_run[1:] |= (p[1:] - p[:-1]) > window
        run_first = np.flatnonzero(new_run)
        run_last = np.append(run_first[1:] - 1, n - 1)
        start = np.maximum(0, p[run_first] - window + 1)
        end = np.minimum(p[run_last], last_start[run_last])
        return d[run_first], w[run_first], start, end
    if counting == "gensim":
        return _gensim_intervals(group, p, d, w, first, last_start, window)
    raise ValueError(f"counting must be one of {COUNTING_MODES}, got {counting!r}")


def _gensim_intervals(group, p, d, w, first, last_start, window):
    """gensim's flag: set when an occurrence enters, cleared when any occurrence leaves (clear
    before set within one step). Worked out per occurrence p_i: it is the newest occurrence in
    the window for starts [p_i - s + 1, min(p_i, p_{i+1} - s)], and its flag survives until
    the first earlier occurrence p_k > p_i - s leaves, i.e. for starts <= p_k."""
    n = p.size
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    big = np.iinfo(np.int64).max // 4
    next_p = np.where(last, big, np.append(p[1:], 0))
    end = np.minimum(np.minimum(p, next_p - window), last_start)
    stride = int(p.max()) + window + 1
    key = group * stride + p          # sorted: groups ascending, positions ascending inside
    k = np.searchsorted(key, group * stride + p - window, side="right")
    earlier = k < np.arange(n)        # an earlier occurrence of the word within s - 1 tokens
    end = np.where(earlier, np.minimum(end, p[np.minimum(k, n - 1)]), end)
    start = np.maximum(0, p - window + 1)
    keep = start <= end
    return d[keep], w[keep], start[keep], end[keep]


def overlapping_pairs(doc, word, start, end, max_pairs: int = 1_000_000):
    """Yield (u, v, overlap) chunks over all pairs of intervals of one document that overlap.

    Intervals sorted by start: the partners of interval i that start at or after it are the
    run i+1 .. stop_i - 1 with start <= end_i, found by one searchsorted; every overlapping
    pair is met exactly once (from the interval that starts first). Intervals of one word never
    overlap or touch, so u != v."""
    if doc.size == 0:
        return
    stride = int(end.max()) + 2
    ks = doc * stride + start
    order = np.argsort(ks, kind="stable")
    ks, ke, w = ks[order], (doc * stride + end)[order], word[order]
    n = ks.size
    stop = np.searchsorted(ks, ke, side="right")
    n_partners = stop - np.arange(1, n + 1)
    cum = np.cumsum(n_partners)
    lo = 0
    while lo < n:
        done = cum[lo - 1] if lo else 0
        hi = int(np.searchsorted(cum, done + max_pairs, side="right"))
        hi = min(max(hi, lo + 1), n)
        c = n_partners[lo:hi]
        total = int(c.sum())
        if total:
            # partner j of interval i runs over i+1, i+2, ...: arange(total) shifted per i
            j = np.arange(total) + np.repeat(np.arange(lo + 1, hi + 1) - (np.cumsum(c) - c), c)
            end_i = np.repeat(ke[lo:hi], c)
            yield np.repeat(w[lo:hi], c), w[j], np.minimum(end_i, ke[j]) - ks[j] + 1
        lo = hi


class WindowCounter:
    """Accumulates window counts over batches of encoded documents for one window size."""

    def __init__(self, n_words: int, window: int, counting: str = "exact"):
        if not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        if counting not in COUNTING_MODES:
            raise ValueError(f"counting must be one of {COUNTING_MODES}, got {counting!r}")
        self.n_words, self.window, self.counting = int(n_words), int(window), counting
        self.dense = self.n_words <= DENSE_MAX_WORDS
        self._pairs = (np.zeros(self.n_words * self.n_words, dtype=np.int64) if self.dense
                       else sp.csr_matrix((self.n_words, self.n_words), dtype=np.int64))
        self.word_counts = np.zeros(self.n_words, dtype=np.int64)
        self.n_windows = self.n_documents = self.n_tokens = 0

    def add(self, batch: EncodedBatch):
        self.n_windows += int(np.maximum(1, batch.lengths - self.window + 1).sum())
        self.n_documents += int(batch.lengths.size)
        self.n_tokens += int(batch.lengths.sum())
        doc, word, start, end = presence_intervals(batch, self.window, self.n_words,
                                                   self.counting)
        if word.size == 0:
            return
        self.word_counts += np.bincount(word, weights=end - start + 1,
                                        minlength=self.n_words).astype(np.int64)
        V = self.n_words
        for u, v, overlap in overlapping_pairs(doc, word, start, end):
            if self.dense:
                np.add.at(self._pairs, u * V + v, overlap)
            else:
                self._pairs = self._pairs + sp.csr_matrix((overlap, (u, v)), shape=(V, V))

    def pair_counts(self):
        """Symmetric V x V counts with the word counts on the diagonal."""
        V = self.n_words
        if self.dense:
            half = self._pairs.reshape(V, V)
            full = half + half.T
            full[np.diag_indices(V)] = self.word_counts
            return full
        half = self._pairs.tocsr()
        full = (half + half.T).tolil()
        full.setdiag(self.word_counts)
        return full.tocsr()


# --------------------------------------------------------------------------- sources

def iter_texts(source, text_column: str = "text") -> Iterator[str]:
    """Stream the documents of a reference corpus: a JSONL file (one object a line, text in
    `text_column`), a text file (one document a line, blank lines skipped), either optionally
    gzipped; CSV/TSV files and folders go through `load_corpus`. Also a Corpus or a list."""
    if isinstance(source, Corpus):
        yield from source.texts
        return
    if not isinstance(source, (str, Path)):
        for i, t in enumerate(source):
            if not isinstance(t, str):
                raise TypeError(f"reference document {i} is {type(t).__name__}, not str")
            yield t
        return
    path = Path(source)
    if not path.exists():
        raise CorpusError("reference corpus does not exist", path)
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    if path.is_dir() or ext in (".csv", ".tsv"):
        yield from load_corpus(path, text_column=text_column, label_column=None,
                               id_column=None, split_column=None).texts
        return
    is_json = ext in (".jsonl", ".json", ".ndjson")
    raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    with io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, 1):
            if line_no == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if not line.strip():
                continue
            if not is_json:
                yield line.rstrip("\n")
                continue
            row = parse_json_object(line, path, line_no)
            if text_column not in row:
                raise CorpusError(f"no field {text_column!r} (use the reference text column "
                                  "option)", path, line_no, text_column)
            text = row[text_column]
            if text is None:
                text = ""
            if not isinstance(text, str):
                raise CorpusError(f"text must be a string, got {type(text).__name__}", path,
                                  line_no, text_column)
            yield text


def _batches(texts: Iterable[str], max_chars: int = 2_000_000, max_docs: int = 2000):
    batch, size = [], 0
    for t in texts:
        batch.append(t)
        size += len(t)
        if size >= max_chars or len(batch) >= max_docs:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


_WORKER_LOOKUP: dict[str, int] | None = None


def _init_worker(lookup):
    global _WORKER_LOOKUP
    _WORKER_LOOKUP = lookup


def _encode_in_worker(texts):
    return encode_texts(texts, _WORKER_LOOKUP)


def _native(batch: EncodedBatch) -> EncodedBatch:
    """Arrays unpickled from a worker carry an equal but not identical int64 dtype object, which
    sends np.add.at down a slow path (5-10x); a view with the canonical dtype avoids it."""
    return EncodedBatch(*(a.view(np.int64) for a in (batch.lengths, batch.doc, batch.pos,
                                                      batch.word)))


def _encoded_batches(texts: Iterable[str], lookup: dict, n_jobs: int) -> Iterator[EncodedBatch]:
    """Encode batches, in `n_jobs` worker processes when > 1. At most 2 x n_jobs batches are in
    flight, so memory stays bounded however large the corpus (Pool.imap would read ahead)."""
    if n_jobs <= 1:
        for batch in _batches(texts):
            yield encode_texts(batch, lookup)
        return
    # fork on Linux: workers inherit the loaded modules and the lookup instead of re-importing
    # them (spawn/forkserver cost seconds per worker, and are the default in some settings)
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
    with ctx.Pool(n_jobs, initializer=_init_worker, initargs=(lookup,)) as pool:
        pending = collections.deque()
        for batch in _batches(texts):
            pending.append(pool.apply_async(_encode_in_worker, (batch,)))
            if len(pending) >= 2 * n_jobs:
                yield _native(pending.popleft().get())
        while pending:
            yield _native(pending.popleft().get())


# --------------------------------------------------------------------------- building

def count_reference(texts: Iterable[str], words: Sequence[str], windows: Sequence[int] = (110,),
                    counting: str = "exact", n_jobs: int = 1, progress: bool = False,
                    source: dict | None = None) -> dict[int, ReferenceStats]:
    """Count windows of raw `texts` (tokenised with the training policy) for every window size
    in one pass over the corpus. No cache; see `reference_statistics` for the cached entry."""
    words = _check_words(words)
    windows = sorted({int(s) for s in windows})
    counters = {s: WindowCounter(len(words), s, counting) for s in windows}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(desc="reference windows", unit="doc", dynamic_ncols=True, mininterval=2.0)
    t0 = time.perf_counter()
    for batch in _encoded_batches(texts, make_lookup(words), n_jobs):
        for counter in counters.values():
            counter.add(batch)
        if bar is not None:
            bar.update(batch.lengths.size)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    return {s: _stats_from_counter(c, words, {**(source or {}), "tokenisation": TOKENISATION,
                                              "build_seconds": round(seconds, 3)})
            for s, c in counters.items()}


def count_tokens(token_lists: Sequence[Sequence[str]], words: Sequence[str],
                 windows: Sequence[int] = (110,), counting: str = "exact"
                 ) -> dict[int, ReferenceStats]:
    """Like `count_reference` for documents already split into tokens (used as given: no
    lowercasing, no stopword removal), e.g. to compare with gensim on the same token lists."""
    words = _check_words(words)
    batch = encode_tokens(token_lists, words)
    out = {}
    for s in sorted({int(s) for s in windows}):
        counter = WindowCounter(len(words), s, counting)
        counter.add(batch)
        out[s] = _stats_from_counter(counter, words, {"tokenisation": "pre-tokenised",
                                                      "sha256": hash_texts(
                                                          "\x1f".join(t) for t in token_lists),
                                                      "hash_of": "token lists"})
    return out


def _stats_from_counter(c: WindowCounter, words, source) -> ReferenceStats:
    return ReferenceStats(words=list(words), window=c.window, n_windows=c.n_windows,
                          word_counts=c.word_counts.copy(), pair_counts=c.pair_counts(),
                          counting=c.counting,
                          source={**source, "n_documents": c.n_documents,
                                  "n_tokens": c.n_tokens})


def _check_words(words) -> list[str]:
    if isinstance(words, str):
        raise TypeError("words must be a list of words, not a single string")
    words = list(dict.fromkeys(words))  # unique, order kept
    bad = [w for w in words if not isinstance(w, str) or not w]
    if bad:
        raise ValueError(f"word list contains non-words: {bad[:5]}")
    if not words:
        raise ValueError("the word list is empty")
    return words


# --------------------------------------------------------------------------- cache

def describe_source(source, text_column: str = "text", cache_dir: Path | None = None) -> dict:
    """What identifies a reference corpus: for a file, the sha256 of its bytes (remembered per
    path, size and mtime so a warm lookup does not re-read the file); for texts, hash_texts."""
    if isinstance(source, (str, Path)):
        path = Path(source).resolve()
        if not path.exists():
            raise CorpusError("reference corpus does not exist", source)
        sha = _file_sha256(path, cache_dir)
        return {"path": str(path), "sha256": sha, "hash_of": "file bytes",
                "text_column": text_column if _is_tabular(path) else None}
    texts = source.texts if isinstance(source, Corpus) else list(source)
    return {"path": getattr(source, "source", None), "sha256": hash_texts(texts),
            "hash_of": "texts (softtopic.corpus.hash_texts)", "text_column": None}


def _is_tabular(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return path.is_dir() or bool(suffixes) and suffixes[-1] in (".jsonl", ".json", ".ndjson",
                                                                ".csv", ".tsv")


def _file_sha256(path: Path, cache_dir: Path | None) -> str:
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode())
            h.update(_file_sha256(f, cache_dir).encode())
        return h.hexdigest()
    st = path.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    index_path = cache_dir / "file_hashes.json" if cache_dir else None
    index = {}
    if index_path is not None and index_path.exists():
        try:
            index = json.loads(index_path.read_text())
        except json.JSONDecodeError:
            index = {}
        known = index.get(str(path))
        if known and all(known.get(k) == v for k, v in stamp.items()):
            return known["sha256"]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    if index_path is not None:
        index[str(path)] = {**stamp, "sha256": h.hexdigest()}
        index_path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(index_path, index)
    return h.hexdigest()


def reference_cache_dir(cache_dir: str | Path | None = None) -> Path:
    if cache_dir is None:
        from ..views.cache import default_cache_dir
        cache_dir = default_cache_dir()
    return Path(cache_dir) / "reference"


def _key(source_info: dict, window: int, counting: str, words: Sequence[str]) -> str:
    blob = json.dumps({"corpus_sha256": source_info["sha256"],
                       "text_column": source_info.get("text_column"),
                       "tokenisation": TOKENISATION, "window": int(window),
                       "counting": counting, "words_sha256": words_hash(words)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _find_superset(root: Path, source_info: dict, window: int, counting: str,
                   needed: set[str]) -> Path | None:
    """A saved entry for the same corpus, tokenisation, window and counting whose word list
    contains every needed word (so one vocabulary's statistics serve every model on it)."""
    if not root.exists():
        return None
    for meta_path in sorted(root.glob("*/meta.json")):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        src = meta.get("source", {})
        if (meta.get("window") == window and meta.get("counting") == counting
                and src.get("sha256") == source_info["sha256"]
                and src.get("text_column") == source_info.get("text_column")
                and src.get("tokenisation") == TOKENISATION
                and meta.get("n_words", 0) >= len(needed)):
            words = json.loads((meta_path.parent / "words.json").read_text())
            if needed.issubset(words):
                return meta_path.parent
    return None


def default_jobs(source) -> int:
    """Tokenising processes for a source: in-process for small inputs and for machines with
    fewer than 3 CPUs (measured on 2 CPUs: the pool did not pay, the main process's counting
    being a third of the work); else one per spare CPU, at most 4."""
    cpus = os.cpu_count() or 1
    big = isinstance(source, (str, Path)) and Path(source).is_file() and \
        Path(source).stat().st_size > 20_000_000
    return min(cpus - 1, 4) if big and cpus >= 3 else 1


def reference_statistics(source, words: Sequence[str], windows: Sequence[int] = (110,),
                         counting: str = "exact", text_column: str = "text",
                         cache_dir: str | Path | None = None, use_cache: bool = True,
                         n_jobs: int | None = None, progress: bool = False
                         ) -> dict[int, ReferenceStats]:
    """Window statistics of `source` for `words`, one per window size: loaded from the cache
    when a saved entry covers the words, otherwise counted (all missing windows in one pass)
    and saved under <cache>/reference/<key>/, key = (corpus sha256, text column, tokenisation,
    window, counting, word-list sha256).

    source: a path (JSONL, CSV/TSV, text file with one document a line, .gz, folder), a
    Corpus, or a list of texts. n_jobs: tokenising processes (default: `default_jobs`)."""
    words = _check_words(words)
    windows = sorted({int(s) for s in windows})
    root = reference_cache_dir(cache_dir)
    info = describe_source(source, text_column, root if use_cache else None)
    out: dict[int, ReferenceStats] = {}
    if use_cache:
        for s in windows:
            found = _find_superset(root, info, s, counting, set(words))
            if found is not None:
                out[s] = ReferenceStats.load(found)
    missing = [s for s in windows if s not in out]
    if missing:
        if n_jobs is None:
            n_jobs = default_jobs(source)
        built = count_reference(iter_texts(source, text_column), words, missing, counting,
                                n_jobs=n_jobs, progress=progress, source=info)
        for s, stats in built.items():
            if use_cache:
                stats.save(root / _key(info, s, counting, words))
            out[s] = stats
    return out
