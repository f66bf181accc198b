"""Evaluate topics (or a run folder) with every metric and say how each number was computed."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .. import __version__
from ..corpus import Corpus, hash_texts, load_corpus
from ..files import write_json_atomic
from ..runs import require_complete_run
from .clustering import clustering_scores
from .coherence import VARIANTS, coherence
from .diversity import inverted_rbo, topic_diversity
from .llm_rating import llm_rating
from .reference import ReferenceStats, reference_statistics
from .retrieval import DECIMALS, EPSILON as RETRIEVAL_EPSILON, retrieval_precision
from .topics import prepare_topics

METRICS = ("cv", "cv_palmetto", "npmi", "cv_corpus", "td", "irbo", "purity", "nmi", "ari",
           "retrieval", "llm")
COHERENCE = ("cv", "cv_palmetto", "npmi")   # against the reference corpus
LABEL_METRICS = ("purity", "nmi", "ari", "retrieval")
TEXT_METRICS = ("cv_corpus",)               # need the evaluated documents' texts
NO_TEXTS = "the texts of the evaluated documents (texts=...; a run folder's training corpus)"


def parse_metrics(metrics) -> tuple[list[str], bool]:
    """(metric names, explicit?). 'auto' or None: every metric the inputs allow."""
    if metrics is None or metrics == "auto":
        return list(METRICS), False
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}")
    if not metrics:
        raise ValueError("no metrics selected")
    return list(dict.fromkeys(metrics)), True


def _resolve_reference(reference, topics, words, windows, counting, text_column, cache_dir,
                       use_cache, progress) -> dict[int, ReferenceStats]:
    if isinstance(reference, ReferenceStats):
        return {reference.window: reference}
    if isinstance(reference, Mapping):
        return dict(reference)
    needed = list(dict.fromkeys([*(words or []), *(w for t in topics for w in t)]))
    return reference_statistics(reference, needed, windows, counting=counting,
                                text_column=text_column, cache_dir=cache_dir,
                                use_cache=use_cache, progress=progress)


def evaluate_topics(topics: Sequence[Sequence[str]], theta=None, labels=None, reference=None,
                    metrics="auto", top_n: int = 15, *, words: Sequence[str] | None = None,
                    exclude: Sequence[int] | None = None, counting: str = "exact",
                    absent: str = "zero", reference_text_column: str = "text",
                    retrieval_ks: Sequence[int] = (1, 5, 10), llm_endpoint: str | None = None,
                    llm_model: str | None = None, llm_options: dict | None = None,
                    texts: Sequence[str] | None = None, cache_dir=None, use_cache: bool = True,
                    progress: bool = False) -> dict:
    """Every selected metric for one model.

    topics: each topic's ranked words (at least top_n). theta: N x K proportions. labels: N
    gold labels. reference: a corpus path / Corpus / list of texts (statistics are counted or
    loaded from the cache), or prebuilt ReferenceStats / {window: ReferenceStats}.
    words: a word list to count the reference for (e.g. the vocabulary, so the saved
    statistics serve every model on it); topic words are always added. exclude: document rows
    left out of clustering and retrieval (e.g. empty documents). texts: the N documents' texts,
    in theta's row order: the reference of `cv_corpus`, and what the deduplicated retrieval
    scores (p@k_<distance>_dedup) compare. metrics: 'auto' (all that the inputs allow) or a
    list / comma-separated names from METRICS; a named metric whose input is missing is an
    error.

    Returns {'scores': {name: value}, 'per_topic': {...}, 'details': {...},
    'provenance': {...}, 'skipped': {metric: reason}}."""
    selected, explicit = parse_metrics(metrics)
    topics = prepare_topics(topics, top_n)
    texts = None if texts is None else _check_texts(texts)  # read twice: a list, once
    out = {"scores": {}, "per_topic": {}, "details": {}, "provenance": {}, "skipped": {}}

    def unavailable(metric, reason):
        if explicit:
            raise ValueError(f"metric {metric!r} needs {reason}")
        out["skipped"][metric] = f"needs {reason}"

    # ---- coherence
    wanted = [m for m in COHERENCE if m in selected]
    if wanted and reference is None:
        for m in wanted:
            unavailable(m, "a reference corpus (--reference)")
        wanted = []
    if wanted:
        stats = _resolve_reference(reference, topics, words, {VARIANTS[m].window for m in wanted},
                                   counting, reference_text_column, cache_dir, use_cache,
                                   progress)
        for m in wanted:
            if VARIANTS[m].window not in stats:
                unavailable(m, f"reference statistics for window {VARIANTS[m].window}")
                continue
            result = coherence(topics, stats, m, top_n, absent).to_dict()
            out["scores"][m] = result["score"]
            out["per_topic"][m] = result["per_topic"]
            out["provenance"][m] = result.pop("provenance")
            out["details"][m] = _coherence_details(result)

    # ---- coherence with the evaluated corpus as its own reference
    if "cv_corpus" in selected:
        if texts is None:
            unavailable("cv_corpus", NO_TEXTS)
        else:
            _cv_corpus(out, topics, texts, words, top_n, counting, absent, cache_dir, use_cache,
                       progress)

    # ---- diversity
    if "td" in selected:
        out["scores"]["td"] = topic_diversity(topics, top_n)
        out["provenance"]["td"] = _prov("TD (Dieng et al. 2020): distinct words among the "
                                        "topics' top-n words / (K x top-n)", top_n=top_n)
    if "irbo" in selected:
        if len(topics) < 2:
            unavailable("irbo", "at least 2 topics")
        else:
            out["scores"]["irbo"] = inverted_rbo(topics, top_n, p=0.9)
            out["provenance"]["irbo"] = _prov(
                "I-RBO (Terragni et al. 2021): 1 - mean extrapolated RBO over topic pairs, as "
                "OCTIS/CTM InvertedRBO", top_n=top_n, p=0.9)

    # ---- labels: clustering and retrieval
    label_metrics = [m for m in LABEL_METRICS if m in selected]
    if label_metrics and (theta is None or labels is None):
        missing = "theta and labels" if theta is None and labels is None else \
            ("theta" if theta is None else "document labels (labels.json or --labels-from)")
        for m in label_metrics:
            unavailable(m, missing)
        label_metrics = []
    if label_metrics:
        kept, info = _kept_rows(theta, labels, exclude, len(topics))
        theta_kept, labels_kept = np.asarray(theta)[kept], np.asarray(labels, dtype=object)[
            kept].astype(str)
        out["details"]["documents"] = info
        if any(m in label_metrics for m in ("purity", "nmi", "ari")):
            scores = clustering_scores(theta_kept, labels_kept)
            names = {"purity": ("purity", "inverse_purity", "harmonic_purity_f1",
                                "harmonic_purity_pip"), "nmi": ("nmi",), "ari": ("ari",)}
            for m in ("purity", "nmi", "ari"):
                if m in label_metrics:
                    out["scores"].update({n: scores[n] for n in names[m]})
            out["provenance"]["clustering"] = _prov(
                "argmax topic per document (first on ties) vs gold labels; purity, "
                "inverse_purity, harmonic_purity_f1 = sum_c n_c/N max_k F1(c,k), "
                "harmonic_purity_pip = 2 P IP / (P + IP), nmi = sklearn "
                "normalized_mutual_info_score (arithmetic), ari = sklearn adjusted_rand_score",
                **info)
        if "retrieval" in label_metrics:
            for dist in ("kl", "hellinger"):
                for k, v in retrieval_precision(theta_kept, labels_kept, retrieval_ks,
                                                dist).items():
                    out["scores"][f"p@{k}_{dist}"] = v
            out["provenance"]["retrieval"] = _prov(
                "each document queries all others ranked by KL(theta_q || theta_d) or Hellinger; "
                "P@k = share of the top k with the query's label, mean over queries",
                ks=list(retrieval_ks), epsilon=RETRIEVAL_EPSILON, dtype="float64",
                ties=f"distances rounded to {DECIMALS} decimals, ties ordered by document "
                "position; the query itself excluded", **info)
            if texts is None:
                out["skipped"]["retrieval_dedup"] = f"needs {NO_TEXTS}"
            else:
                _retrieval_dedup(out, theta, labels, texts, kept, retrieval_ks)

    # ---- LLM rating
    if "llm" in selected:
        if not llm_endpoint or not llm_model:
            unavailable("llm", "an LLM endpoint and model (--llm-endpoint, --llm-model)")
        else:
            rated = llm_rating(topics, llm_endpoint, llm_model, top_n,
                               **{"cache_dir": cache_dir, **(llm_options or {})})
            out["scores"]["llm_rating"] = rated["score"]
            out["per_topic"]["llm_rating"] = rated["per_topic"]
            out["provenance"]["llm_rating"] = rated["provenance"]
    return out


def _coherence_details(result: dict) -> dict:
    return {k: result[k] for k in ("n_absent_words", "absent_words", "n_rare_words",
                                   "rare_words")}


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of the documents' texts, not a single string")
    texts = list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"texts[{bad}] is {type(texts[bad]).__name__}, not str")
    return texts


def _cv_corpus(out, topics, texts, words, top_n, counting, absent, cache_dir, use_cache,
               progress):
    """C_V with the evaluated documents as the reference: the texts are counted exactly as a
    reference corpus is (reference_statistics -> count_reference, cached by their hash, so
    every model, K and seed on one corpus shares one count) and scored by the same `coherence`
    as `cv`; only the reference differs."""
    window = VARIANTS["cv"].window
    stats = _resolve_reference(texts, topics, words, {window}, counting, "text", cache_dir,
                               use_cache, progress)
    result = coherence(topics, stats, "cv", top_n, absent).to_dict()
    out["scores"]["cv_corpus"] = result["score"]
    out["per_topic"]["cv_corpus"] = result["per_topic"]
    out["details"]["cv_corpus"] = _coherence_details(result)
    prov = result.pop("provenance")
    prov["definition"] = ("cv with the evaluated corpus itself as the reference (its texts "
                          "tokenised and windowed as any reference corpus): " + prov["definition"])
    prov["reference"] = {**prov["reference"], "what": f"the {len(texts)} evaluated documents"}
    out["provenance"]["cv_corpus"] = prov


def first_occurrences(texts: Sequence[str], rows: Sequence[int]) -> np.ndarray:
    """The rows (in order) whose text is not the text of an earlier row among `rows`: exact
    string equality, so a copy is dropped and any other difference (case, punctuation) kept."""
    seen: set[str] = set()
    kept = []
    for i in rows:
        if texts[i] not in seen:
            seen.add(texts[i])
            kept.append(i)
    return np.asarray(kept, dtype=np.int64)


def _retrieval_dedup(out, theta, labels, texts, kept, ks):
    """P@k again over the first occurrence of each distinct text only: a repeated text (a
    subject line shared by a whole thread) has the same bag of words, hence for most models the
    same theta, and its copies would be found at distance 0 with, mostly, the same label."""
    n_rows = np.asarray(theta).shape[0]
    if len(texts) != n_rows:
        raise ValueError(f"{len(texts)} texts for {n_rows} theta rows")
    rows = first_occurrences(texts, kept)
    theta_rows = np.asarray(theta)[rows]
    labels_rows = np.asarray(labels, dtype=object)[rows].astype(str)
    for dist in ("kl", "hellinger"):
        for k, v in retrieval_precision(theta_rows, labels_rows, ks, dist).items():
            out["scores"][f"p@{k}_{dist}_dedup"] = v
    out["provenance"]["retrieval_dedup"] = _prov(
        "as retrieval, over the first occurrence (in document order) of each distinct text "
        "among the documents retrieval uses: a later document whose text equals an earlier "
        "one's exactly is neither a query nor a candidate", ks=list(ks),
        n_documents=int(rows.size), n_duplicates_dropped=int(len(kept) - rows.size))


def _prov(definition: str, **extra) -> dict:
    return {"definition": definition, **extra, "implementation": "softtopic.evaluation",
            "softtopic_version": __version__}


def _kept_rows(theta, labels, exclude, n_topics) -> tuple[np.ndarray, dict]:
    """The rows clustering and retrieval use (all but `exclude`), checked against the inputs."""
    theta = np.asarray(theta)
    if theta.ndim != 2:
        raise ValueError(f"theta must be 2-d (documents x topics), got shape {theta.shape}")
    if theta.shape[1] != n_topics:
        raise ValueError(f"theta has {theta.shape[1]} columns for {n_topics} topics")
    labels = np.asarray(labels, dtype=object)
    if labels.shape[0] != theta.shape[0]:
        raise ValueError(f"{labels.shape[0]} labels for {theta.shape[0]} theta rows")
    keep = np.ones(theta.shape[0], dtype=bool)
    if exclude is not None and len(exclude):
        exclude = np.asarray(exclude, dtype=np.int64)
        if exclude.min() < 0 or exclude.max() >= theta.shape[0]:
            raise ValueError(f"excluded row indices must be in [0, {theta.shape[0]}), got "
                             f"{exclude.min()}..{exclude.max()}")
        keep[exclude] = False
    if not keep.any():
        raise ValueError("every document is excluded (all empty?)")
    info = {"n_documents": int(keep.sum()), "n_excluded_empty": int((~keep).sum())}
    return np.flatnonzero(keep), info


# --------------------------------------------------------------------------- run folders

def read_run(run_dir: str | Path) -> dict:
    """The parts of a run folder evaluation reads, checked for consistency."""
    run = Path(run_dir)
    if run.is_file():
        raise ValueError(f"{run} is a file, not a run folder (pass the folder "
                         "`softtopic fit --out` wrote)")
    if not run.is_dir():
        raise FileNotFoundError(f"run folder {run} does not exist")
    require_complete_run(run)
    for name in ("topics.json", "config.json"):
        if not (run / name).exists():
            raise FileNotFoundError(f"{run}: no {name} (is this a `softtopic fit --out` folder?)")
    topics_doc = json.loads((run / "topics.json").read_text())
    try:
        topics = [t["words"] for t in topics_doc["topics"]]
    except (KeyError, TypeError):
        raise ValueError(f"{run / 'topics.json'}: expected {{'topics': [{{'words': [...]}}]}}"
                         ) from None
    config = json.loads((run / "config.json").read_text())
    out = {"dir": run, "topics": topics, "config": config, "theta": None, "ids": None,
           "labels": None, "vocab": None}
    if (run / "theta.npy").exists():
        out["theta"] = np.load(run / "theta.npy")
        if out["theta"].ndim != 2 or out["theta"].shape[1] != len(topics):
            raise ValueError(f"{run / 'theta.npy'}: shape {out['theta'].shape} does not match "
                             f"{len(topics)} topics")
    if (run / "ids.json").exists():
        out["ids"] = [str(i) for i in json.loads((run / "ids.json").read_text())]
        if out["theta"] is not None and len(out["ids"]) != out["theta"].shape[0]:
            raise ValueError(f"{run}: ids.json has {len(out['ids'])} ids for "
                             f"{out['theta'].shape[0]} theta rows")
    if (run / "labels.json").exists():
        out["labels"] = json.loads((run / "labels.json").read_text())
    if (run / "vocab.json").exists():
        out["vocab"] = json.loads((run / "vocab.json").read_text())
    return out


def labels_by_id(ids: Sequence[str], corpus: Corpus) -> list[str]:
    """The corpus labels of `ids`; an id the corpus lacks, or labels it lacks, is an error."""
    if corpus.labels is None:
        raise ValueError(f"{corpus.source}: the corpus has no labels (check --label-column)")
    table: dict[str, str] = {}
    for i, label in zip(corpus.ids, corpus.labels):
        if i in table and table[i] != label:
            raise ValueError(f"{corpus.source}: id {i!r} appears twice with different labels")
        table[i] = label
    missing = [i for i in ids if i not in table]
    if missing:
        raise ValueError(f"{corpus.source}: no label for document id {missing[0]!r}"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return [table[i] for i in ids]


def run_texts(run: dict) -> tuple[list[str] | None, str | None]:
    """(the run's document texts in theta's row order, None) from its training corpus
    (config.json `corpus`: path, text and id columns), aligned by id and checked against the
    content hash recorded at fit; (None, why) when they cannot be had."""
    info = run["config"].get("corpus") or {}
    path = info.get("path")
    if not path:
        return None, "config.json names no training corpus"
    if run["ids"] is None:
        return None, "no ids.json to align the corpus texts by"
    if not Path(path).exists():
        return None, f"the training corpus {path} does not exist (here)"
    corpus = load_corpus(path, text_column=info.get("text_column") or "text",
                         label_column=None, id_column=info.get("id_column") or "id",
                         split_column=None, format=info.get("format"))
    table = dict(zip(corpus.ids, corpus.texts))
    missing = [i for i in run["ids"] if i not in table]
    if missing:
        return None, f"{path} has no document with id {missing[0]!r}"
    texts = [table[i] for i in run["ids"]]
    recorded = info.get("content_hash")
    if recorded and hash_texts(texts) != recorded:
        # the file changed since the fit: these are not the texts the model saw
        return None, f"{path} no longer holds the texts the run was fitted on (content hash)"
    return texts, None


def evaluate_run(run_dir: str | Path, reference=None, labels_from: str | Path | None = None,
                 label_column: str = "label", id_column: str = "id",
                 text_column: str | None = None, reference_text_column: str | None = None,
                 top_n: int = 15, metrics="auto", write: bool = True, **options) -> dict:
    """Evaluate a run folder; writes RUN_DIR/metrics.json (unless write=False) and returns it.
    text_column: of the --labels-from corpus (default: the training corpus's, from config).
    Options go to `evaluate_topics` (counting, absent, llm_endpoint, llm_model, cache_dir...)."""
    t0 = time.perf_counter()
    run = read_run(run_dir)
    config = run["config"]
    corpus_info = config.get("corpus", {}) or {}
    labels = run["labels"]
    label_source = "labels.json" if labels is not None else None
    if labels_from is not None:
        if run["ids"] is None:
            raise ValueError(f"{run['dir']}: no ids.json, so labels cannot be aligned by id")
        corpus = load_corpus(labels_from, text_column=text_column or corpus_info.get(
            "text_column") or "text", label_column=label_column, id_column=id_column)
        labels = labels_by_id(run["ids"], corpus)
        label_source = str(labels_from)
    if labels is not None and run["theta"] is not None and len(labels) != run["theta"].shape[0]:
        raise ValueError(f"{len(labels)} labels for {run['theta'].shape[0]} documents")
    if reference_text_column is None:  # the training corpus as reference: its text column
        same = (isinstance(reference, (str, Path)) and corpus_info.get("path")
                and Path(reference).resolve() == Path(corpus_info["path"]).resolve())
        reference_text_column = corpus_info.get("text_column", "text") if same else "text"
    texts, no_texts = _texts_if_needed(run, metrics)
    result = evaluate_topics(run["topics"], run["theta"], labels, reference, metrics, top_n,
                             words=run["vocab"], exclude=config.get("empty_documents") or [],
                             reference_text_column=reference_text_column, texts=texts,
                             **options)
    for name in ("cv_corpus", "retrieval_dedup"):  # say why the texts were missing
        if no_texts and name in result["skipped"]:
            result["skipped"][name] = f"needs the documents' texts: {no_texts}"
    result = {"run": str(run["dir"]), "model": config.get("model"),
              "n_topics": len(run["topics"]), "top_n": top_n, **result,
              "labels_from": label_source, "softtopic_version": __version__,
              "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "evaluation_seconds": round(time.perf_counter() - t0, 3)}
    if write:
        write_json_atomic(Path(run["dir"]) / "metrics.json", result)
    return result


def _texts_if_needed(run: dict, metrics) -> tuple[list[str] | None, str | None]:
    """The run's texts when a selected metric reads them (cv_corpus; retrieval, for its
    deduplicated scores), else (None, None): other evaluations do not read the corpus. A
    cv_corpus named explicitly whose texts cannot be had is an error saying why."""
    selected, explicit = parse_metrics(metrics)
    if not any(m in selected for m in (*TEXT_METRICS, "retrieval")):
        return None, None
    texts, why = run_texts(run)
    if texts is None and explicit and "cv_corpus" in selected:
        raise ValueError(f"metric 'cv_corpus' needs the documents' texts: {why}")
    return texts, why


# --------------------------------------------------------------------------- printing

def format_table(result: dict) -> str:
    """A plain-text table of the scores with how each was computed."""
    prov = result.get("provenance", {})
    details = result.get("details", {})
    rows = []
    for name, value in result.get("scores", {}).items():
        rows.append((name, "n/a" if value is None else f"{value:.4f}", _note(name, prov,
                                                                              details)))
    for name, why in result.get("skipped", {}).items():
        rows.append((name, "skipped", why))
    width = max([len(r[0]) for r in rows] + [6])
    lines = [f"{'metric':<{width}}  {'value':>8}  how", "-" * (width + 40)]
    lines += [f"{n:<{width}}  {v:>8}  {note}" for n, v, note in rows]
    docs = details.get("documents")
    if docs:
        lines.append(f"\nclustering/retrieval over {docs['n_documents']} documents "
                     f"({docs['n_excluded_empty']} empty documents excluded)")
    return "\n".join(lines)


def _note(name, prov, details) -> str:
    if name in COHERENCE or name == "cv_corpus":
        p = prov[name]
        ref = p["reference"]
        where = ("the evaluated corpus" if name == "cv_corpus" else
                 Path(ref["path"]).name if ref.get("path") else "texts")
        note = f"window {p['window']}, {ref['counting']} counts, {where}"
        if "gamma" in p:
            note += f", gamma {p['gamma']:g}"
            if p["min_count"]:
                note += f", min count {p['min_count']}"
        n_absent, n_rare = details[name]["n_absent_words"], details[name]["n_rare_words"]
        if n_absent:
            dropped = p.get("absent_words", "").startswith("dropped")
            note += f"; {n_absent} absent words {'dropped' if dropped else 'scored 0'}"
        if n_rare:
            note += f"; {n_rare} words under the min count"
        if p.get("n_topics_undefined"):
            note += (f"; {p['n_topics_undefined']} topics with no counted word have no score "
                     "(left out of the mean)")
        return note
    if name in ("td", "irbo"):
        return f"top {prov[name]['top_n']}"
    if name.startswith("p@"):
        note = "KL divergence" if "_kl" in name else "Hellinger distance"
        if name.endswith("_dedup"):
            note += (f", {prov['retrieval_dedup']['n_documents']} distinct texts (first "
                     "occurrences)")
        return note
    if name == "llm_rating":
        return f"model {prov['llm_rating']['model']}"
    return "argmax topic vs labels"
