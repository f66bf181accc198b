"""The paper's datasets from the files they are published as, into the uniform JSONL form
(`id`, `text`, `label`, `split`), and dataset loading for benchmark runs.

Kinds (`softtopic prepare-dataset KIND SRC --out corpus.jsonl`):
    20ng-bydate    folder with 20news-bydate-train/<group>/<id> and 20news-bydate-test/...
                   (Jason Rennie's tarball unpacked); Latin-1; --strip removes headers, footers
                   and quoted replies with scikit-learn's strip_newsgroup_* (what the paper used)
    20ng-setfit    the SetFit/20_newsgroups export: JSONL files with text, label, label_text
                   (a file, or a folder with train.jsonl / test.jsonl)
    tweettopic     cardiffnlp/tweet_topic_single JSON-lines files (text, label, label_name, id),
                   e.g. dataset/split_coling2022_random/{train,test}_random.single.json; the
                   split is the file name up to its first dot
    stackoverflow  title_StackOverflow.txt + label_StackOverflow.txt (one title / label a line)
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from ..corpus import Corpus, CorpusError, load_corpus

KINDS = ("20ng-bydate", "20ng-setfit", "tweettopic", "stackoverflow")


def prepare(kind: str, src: str | Path, strip: bool = True) -> Corpus:
    src = Path(src)
    if not src.exists():
        raise CorpusError("source does not exist", src)
    if kind == "20ng-bydate":
        return load_20ng_bydate(src, strip)
    if kind == "20ng-setfit":
        return load_20ng_setfit(src)
    if kind == "tweettopic":
        return load_tweettopic(src)
    if kind == "stackoverflow":
        return load_stackoverflow(src)
    raise ValueError(f"unknown dataset kind {kind!r}; choose one of {', '.join(KINDS)}")


def load_20ng_bydate(root: Path, strip: bool = True) -> Corpus:
    from sklearn.datasets._twenty_newsgroups import (strip_newsgroup_footer,
                                                     strip_newsgroup_header,
                                                     strip_newsgroup_quoting)
    texts, labels, ids, splits = [], [], [], []
    for split in ("train", "test"):
        folder = root / f"20news-bydate-{split}"
        if not folder.is_dir():
            raise CorpusError(f"no folder 20news-bydate-{split}/ (expected the unpacked "
                              "20news-bydate layout)", root)
        for group in sorted(p for p in folder.iterdir() if p.is_dir()):
            files = sorted((f for f in group.iterdir() if f.is_file()),
                           key=lambda f: (not f.name.isdigit(), int(f.name) if f.name.isdigit()
                                          else 0, f.name))
            for f in files:
                text = f.read_bytes().decode("latin-1")
                if strip:
                    text = strip_newsgroup_quoting(strip_newsgroup_footer(
                        strip_newsgroup_header(text)))
                texts.append(text)
                labels.append(group.name)
                ids.append(f"{split}/{group.name}/{f.name}")
                splits.append(split)
    if not texts:
        raise CorpusError("no messages found under 20news-bydate-train/ and -test/", root)
    return Corpus(texts, labels, ids, splits, source=str(root))


def _json_lines(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as e:
                raise CorpusError(f"invalid JSON: {e.msg}", path, line_no) from None


def _require(row, keys, path, line_no):
    for key in keys:
        if key not in row:
            raise CorpusError("missing field", path, line_no, key)


def load_20ng_setfit(src: Path) -> Corpus:
    files = [src] if src.is_file() else [p for name in ("train", "test")
                                         for p in [src / f"{name}.jsonl"] if p.exists()]
    if not files:
        raise CorpusError("no train.jsonl / test.jsonl in the folder", src)
    texts, labels, ids, splits = [], [], [], []
    for path in files:
        split = path.name.split(".")[0]
        for line_no, row in _json_lines(path):
            _require(row, ("text", "label_text"), path, line_no)
            texts.append(row["text"])
            labels.append(str(row["label_text"]))
            ids.append(f"{split}/{len(ids)}")
            splits.append(split)
    return Corpus(texts, labels, ids, splits, source=str(src))


def load_tweettopic(src: Path) -> Corpus:
    files = [src] if src.is_file() else sorted(p for p in src.iterdir()
                                               if p.is_file() and ".json" in p.name)
    if not files:
        raise CorpusError("no TweetTopic .json files in the folder", src)
    texts, labels, ids, splits, seen, repeated = [], [], [], [], set(), 0
    for path in files:
        split = path.name.split(".")[0]
        for line_no, row in _json_lines(path):
            _require(row, ("text", "label_name"), path, line_no)
            doc_id = str(row.get("id", f"{split}/{line_no}"))
            if doc_id in seen:  # split folders of the release overlap; keep the first copy
                repeated += 1
                continue
            seen.add(doc_id)
            label = row["label_name"]
            texts.append(row["text"])
            labels.append(label[0] if isinstance(label, list) else str(label))
            ids.append(doc_id)
            splits.append(split)
    corpus = Corpus(texts, labels, ids, splits, source=str(src))
    if repeated:
        corpus.notes.append(f"skipped {repeated} tweets repeated across files (same id)")
    return corpus


def load_stackoverflow(src: Path) -> Corpus:
    folder = src if src.is_dir() else src.parent
    titles_path, labels_path = folder / "title_StackOverflow.txt", folder / "label_StackOverflow.txt"
    for p in (titles_path, labels_path):
        if not p.exists():
            raise CorpusError("missing file (expected title_StackOverflow.txt and "
                              "label_StackOverflow.txt side by side)", p)
    titles = titles_path.read_text(encoding="utf-8", errors="replace").splitlines()
    labels = [x.strip() for x in labels_path.read_text().splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    if len(titles) != len(labels):
        raise CorpusError(f"{len(titles)} titles but {len(labels)} labels; the files must be "
                          "line-aligned", folder)
    for i, label in enumerate(labels, 1):
        if not label:
            raise CorpusError("empty label", labels_path, i)
    return Corpus(titles, labels, [str(i) for i in range(1, len(titles) + 1)], None,
                  source=str(folder))


def write_jsonl(corpus: Corpus, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if out.suffix == ".gz" else open
    with opener(out, "wt", encoding="utf-8") as f:
        for i in range(len(corpus)):
            row = {"id": corpus.ids[i], "text": corpus.texts[i]}
            if corpus.labels is not None:
                row["label"] = corpus.labels[i]
            if corpus.splits is not None:
                row["split"] = corpus.splits[i]
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return out


# --------------------------------------------------------------------------- benchmark loading

def load_dataset(options: dict) -> tuple[Corpus, dict]:
    """Load a benchmark dataset from its config options; returns the corpus and what was done
    to it (documents read, blank ones dropped, subset), for the run's record."""
    corpus = load_corpus(options["path"], text_column=options.get("text_column", "text"),
                         label_column=options.get("label_column", "label"),
                         id_column=options.get("id_column", "id"),
                         split_column=options.get("split_column", "split"),
                         format=options.get("format"))
    # the columns and format go into the run's config.json, so evaluation can reread the texts
    info = {"path": options["path"], "text_column": options.get("text_column", "text"),
            "id_column": options.get("id_column", "id"), "format": options.get("format"),
            "n_read": len(corpus)}
    if options.get("split"):
        if corpus.splits is None:
            raise CorpusError(f"option split={options['split']!r} but the corpus has no split "
                              "column", options["path"])
        wanted = options["split"] if isinstance(options["split"], list) else [options["split"]]
        corpus = corpus.subset([i for i, s in enumerate(corpus.splits) if s in wanted])
        info["split"] = wanted
    if options.get("drop_blank", True):
        corpus, dropped = corpus.drop_blank()
        info["dropped_blank"] = len(dropped)
        info["dropped_blank_ids"] = dropped[:20]
    limit = options.get("limit")
    if limit and limit < len(corpus):
        # evenly spaced, so a corpus sorted by label keeps every label
        step = len(corpus) / limit
        corpus = corpus.subset([int(i * step) for i in range(limit)])
        info["limit"] = limit
    info["n_documents"] = len(corpus)
    info["has_labels"] = corpus.labels is not None
    return corpus, info
