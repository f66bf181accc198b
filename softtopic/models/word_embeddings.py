"""Word embeddings for embedding decoders (ETM, ECRTM): one row per vocabulary word.

Two sources:
- the default: each vocabulary word embedded on its own by the bundled sentence encoder
  (`SentenceEmbeddings.encode`), cached on disk by encoder and vocabulary (works offline);
- a word-vector file: word2vec text or binary, or GloVe text (no header line), read with gensim's
  `KeyedVectors.load_word2vec_format`. A vocabulary word is looked up as written, then
  capitalised, then upper-case; words still missing are initialised as `missing` says and
  counted in the report.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..views.sentence import DEFAULT_ENCODER, SentenceEmbeddings

MISSING_INITS = ("random", "zero")


def encoder_word_embeddings(words: list[str], encoder: str = DEFAULT_ENCODER,
                            device: str | None = None, cache_dir=None,
                            progress: bool = False) -> tuple[np.ndarray, dict]:
    """V x D embeddings of the words by a sentence encoder (cached: the word list is the key)."""
    view = SentenceEmbeddings(encoder, max_seq_length=16, device=device, cache_dir=cache_dir,
                              progress=progress)
    table = np.array(view(list(words)), dtype=np.float32)
    return table, {"source": f"sentence-encoder:{encoder}", "dim": int(table.shape[1]),
                   "missing": 0}


def _has_header(path: Path, binary: bool) -> bool:
    """word2vec files start with 'count dim'; GloVe text files start with a vector."""
    if binary:
        return True
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline().split()
    return len(first) == 2 and all(t.isdigit() for t in first)


def file_word_embeddings(words: list[str], path: str | Path, missing: str = "random",
                         seed: int = 0, missing_std: float = 0.6,
                         binary: bool | None = None) -> tuple[np.ndarray, dict]:
    """V x D embeddings from a word2vec (text/binary) or GloVe (text) file.

    missing: "random" draws N(0, missing_std^2) per missing word (ETM's choice, std 0.6),
    "zero" gives zero rows (ECRTM's choice). binary: None guesses from the suffix (.bin).
    """
    from gensim.models import KeyedVectors
    if missing not in MISSING_INITS:
        raise ValueError(f"missing must be one of {MISSING_INITS}, got {missing!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"word-vector file {path} does not exist")
    binary = path.suffix == ".bin" if binary is None else binary
    try:
        vectors = KeyedVectors.load_word2vec_format(str(path), binary=binary,
                                                    no_header=not _has_header(path, binary))
    except Exception as e:
        raise ValueError(f"could not read word vectors from {path} (word2vec text/binary or "
                         f"GloVe text expected): {type(e).__name__}: {e}") from None
    rng = np.random.default_rng(seed)
    table = np.zeros((len(words), vectors.vector_size), dtype=np.float32)
    missing_words = []
    for i, word in enumerate(words):
        for form in (word, word.capitalize(), word.upper()):
            if form in vectors.key_to_index:
                table[i] = vectors[form]
                break
        else:
            missing_words.append(word)
            if missing == "random":
                table[i] = rng.normal(0.0, missing_std, vectors.vector_size)
    report = {"source": str(path), "dim": int(vectors.vector_size),
              "missing": len(missing_words), "missing_words": missing_words[:20],
              "missing_init": (f"N(0, {missing_std}^2)" if missing == "random" else "zero")}
    return table, report


def vocabulary_word_embeddings(words: list[str], word_vectors: str | None = None, *,
                               missing: str = "random", seed: int = 0,
                               encoder: str = DEFAULT_ENCODER, device: str | None = None,
                               cache_dir=None, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Embeddings from `word_vectors` (a file) when given, else from the sentence encoder; a
    summary of missing words is printed to stderr when progress is on."""
    if word_vectors is None:
        return encoder_word_embeddings(words, encoder, device, cache_dir, progress)
    table, report = file_word_embeddings(words, word_vectors, missing, seed)
    if progress and report["missing"]:
        print(f"softtopic: {report['missing']} of {len(words)} vocabulary words are not in "
              f"{word_vectors}; initialised as {report['missing_init']} (e.g. "
              f"{report['missing_words'][:5]})", file=sys.stderr)
    return table, report
