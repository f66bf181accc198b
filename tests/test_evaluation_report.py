"""evaluate_topics and `softtopic evaluate` on a synthetic run folder."""
import argparse
import json

import numpy as np
import pytest

from softtopic.commands import evaluate as evaluate_command
from softtopic.corpus import hash_texts
from softtopic.evaluation import (c_v, clustering_scores, evaluate_run, evaluate_topics,
                                  inverted_rbo, reference_statistics, retrieval_precision,
                                  topic_diversity)
from softtopic.evaluation.coherence import coherence
from softtopic.evaluation.reference import count_reference
from softtopic.runs import mark_complete

WORDS = ["apple", "banana", "cherry", "grape", "lemon", "mango", "olive", "peach", "pear",
         "plum"]
TOPICS = [WORDS[0:5], WORDS[5:10], WORDS[2:7]]


def reference_texts(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS + ["the", "and", "stone", "river"],
                                size=rng.integers(5, 40))) for _ in range(n)]


def make_run(tmp_path, n_docs=40, empty=(3, 7), with_labels=True):
    rng = np.random.default_rng(1)
    run = tmp_path / "run"
    run.mkdir()
    theta = rng.dirichlet(np.ones(3), size=n_docs).astype(np.float32)
    theta[list(empty)] = 1 / 3
    labels = [f"class{(i * 7) % 4}" for i in range(n_docs)]
    ids = [f"doc{i}" for i in range(n_docs)]
    (run / "topics.json").write_text(json.dumps({"n_topics": 3, "top_n": 5, "topics": [
        {"topic": k, "label": t[0], "words": t, "weights": [0.1] * 5}
        for k, t in enumerate(TOPICS)]}))
    np.save(run / "theta.npy", theta)
    (run / "ids.json").write_text(json.dumps(ids))
    (run / "vocab.json").write_text(json.dumps(WORDS))
    (run / "config.json").write_text(json.dumps({
        "model": "prodlda", "params": {}, "seed": 0, "softtopic_version": "0.1.0",
        "corpus": {"path": str(tmp_path / "corpus.jsonl"), "text_column": "body",
                   "label_column": "label", "n_documents": n_docs},
        "empty_documents": list(empty)}))
    if with_labels:
        (run / "labels.json").write_text(json.dumps(labels))
    mark_complete(run)  # a hand-made folder is read only once marked as a complete run
    corpus = tmp_path / "corpus.jsonl"
    order = rng.permutation(n_docs)  # a different order than the run: aligned by id
    corpus.write_text("".join(json.dumps({"id": ids[i], "body": reference_texts(1, i)[0],
                                          "label": labels[i]}) + "\n" for i in order))
    return run, theta, labels, corpus


def cli(argv):
    parser = argparse.ArgumentParser(prog="softtopic")
    sub = parser.add_subparsers(dest="command", required=True)
    evaluate_command.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_evaluate_topics_matches_the_plain_functions(tmp_path):
    rng = np.random.default_rng(2)
    theta = rng.dirichlet(np.ones(3), size=30)
    labels = rng.integers(0, 3, size=30).astype(str)
    texts = reference_texts()
    out = evaluate_topics(TOPICS, theta, labels, texts, top_n=5, cache_dir=tmp_path)
    stats = reference_statistics(texts, WORDS, [110], cache_dir=tmp_path)
    assert out["scores"]["cv"] == pytest.approx(c_v(TOPICS, stats, top_n=5).score)
    assert out["scores"]["td"] == pytest.approx(topic_diversity(TOPICS, 5))
    assert out["scores"]["irbo"] == pytest.approx(inverted_rbo(TOPICS, 5))
    assert out["scores"]["purity"] == pytest.approx(clustering_scores(theta, labels)["purity"])
    assert out["scores"]["p@5_kl"] == pytest.approx(retrieval_precision(theta, labels)[5])
    assert {"cv", "cv_palmetto", "npmi", "td", "irbo", "purity", "inverse_purity",
            "harmonic_purity_f1", "harmonic_purity_pip", "nmi", "ari", "p@1_kl", "p@10_kl",
            "p@1_hellinger"} <= set(out["scores"])
    assert len(out["per_topic"]["cv"]) == 3
    assert out["skipped"] == {
        "llm": "needs an LLM endpoint and model (--llm-endpoint, --llm-model)",
        "cv_corpus": "needs the texts of the evaluated documents (texts=...; a run folder's "
                     "training corpus)",
        "retrieval_dedup": "needs the texts of the evaluated documents (texts=...; a run "
                           "folder's training corpus)"}
    prov = out["provenance"]["cv"]
    assert prov["window"] == 110 and prov["gamma"] == 1 and prov["epsilon"] == 1e-12
    assert prov["top_n"] == 5 and prov["reference"]["counting"] == "exact"
    assert len(prov["reference"]["sha256"]) == 64
    assert out["provenance"]["npmi"]["window"] == 10


def test_named_metrics_whose_inputs_are_missing_are_errors_auto_skips():
    with pytest.raises(ValueError, match="metric 'cv' needs a reference corpus"):
        evaluate_topics(TOPICS, metrics="cv,td", top_n=5)
    with pytest.raises(ValueError, match="metric 'purity' needs theta and labels"):
        evaluate_topics(TOPICS, metrics=["purity"], top_n=5)
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate_topics(TOPICS, metrics="cv,coolness", top_n=5)
    out = evaluate_topics(TOPICS, top_n=5)
    assert set(out["scores"]) == {"td", "irbo"}
    assert "cv" in out["skipped"] and "retrieval" in out["skipped"]


def test_cli_writes_metrics_json_and_prints_a_table(tmp_path, capsys):
    run, theta, labels, corpus = make_run(tmp_path)
    ref = tmp_path / "ref.txt"
    ref.write_text("\n".join(reference_texts()) + "\n")
    code = cli(["evaluate", str(run), "--reference", str(ref), "--top-n", "5",
                "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "cv_palmetto" in printed and "2 empty documents excluded" in printed
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "prodlda" and metrics["top_n"] == 5
    assert metrics["details"]["documents"] == {"n_documents": 38, "n_excluded_empty": 2}
    keep = [i for i in range(40) if i not in (3, 7)]
    expected = clustering_scores(theta[keep], np.array(labels)[keep])
    assert metrics["scores"]["purity"] == pytest.approx(expected["purity"])
    assert metrics["scores"]["nmi"] == pytest.approx(expected["nmi"])
    assert metrics["provenance"]["retrieval"]["n_excluded_empty"] == 2
    assert metrics["provenance"]["cv"]["reference"]["path"] == str(ref.resolve())
    assert metrics["labels_from"] == "labels.json"


def test_labels_from_a_corpus_are_aligned_by_id(tmp_path):
    run, theta, labels, corpus = make_run(tmp_path, with_labels=False)
    out = evaluate_run(run, labels_from=corpus, top_n=5, metrics="purity,retrieval",
                       write=False)
    keep = [i for i in range(40) if i not in (3, 7)]
    expected = clustering_scores(theta[keep], np.array(labels)[keep])
    assert out["scores"]["purity"] == pytest.approx(expected["purity"])
    # the training corpus itself as reference: its text column comes from config.json
    out = evaluate_run(run, reference=corpus, top_n=5, metrics="npmi", write=False,
                       cache_dir=tmp_path / "cache")
    assert out["provenance"]["npmi"]["reference"]["text_column"] == "body"


def test_missing_label_for_an_id_is_named(tmp_path):
    run, theta, labels, corpus = make_run(tmp_path, with_labels=False)
    lines = [line for line in corpus.read_text().splitlines() if '"doc5"' not in line]
    corpus.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="no label for document id 'doc5'"):
        evaluate_run(run, labels_from=corpus, top_n=5, metrics="purity", write=False)


def test_run_folder_problems_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate_run(tmp_path / "nope")
    run, *_ = make_run(tmp_path)
    np.save(run / "theta.npy", np.ones((40, 4), dtype=np.float32) / 4)
    with pytest.raises(ValueError, match="does not match 3 topics"):
        evaluate_run(run, top_n=5, write=False)
    with pytest.raises(ValueError, match="fewer than top_n=15"):
        evaluate_topics(TOPICS)


def test_cli_llm_errors_are_reported_not_raised(tmp_path, capsys):
    run, *_ = make_run(tmp_path)
    code = cli(["evaluate", str(run), "--top-n", "5", "--metrics", "llm", "--llm-endpoint",
                "localhost:9/v1", "--llm-model", "m", "--cache-dir", str(tmp_path / "cache"),
                "--quiet"])
    assert code == 2
    assert "must be an http(s) URL" in capsys.readouterr().err


# --------------------------------------------------------------------------- short texts

def test_cv_corpus_is_cv_with_the_evaluated_texts_as_reference(tmp_path):
    texts = reference_texts(40, seed=3)
    out = evaluate_topics(TOPICS, texts=texts, metrics="cv_corpus", top_n=5, words=WORDS,
                          cache_dir=tmp_path)
    by_hand = coherence(TOPICS, count_reference(texts, WORDS, [110]), "cv", 5)
    assert out["scores"]["cv_corpus"] == pytest.approx(by_hand.score, abs=1e-12)
    assert out["per_topic"]["cv_corpus"] == pytest.approx(list(by_hand.per_topic), abs=1e-12)
    other = evaluate_topics(TOPICS, reference=reference_texts(40, seed=4), metrics="cv",
                            top_n=5, words=WORDS, cache_dir=tmp_path)["scores"]["cv"]
    assert other != pytest.approx(out["scores"]["cv_corpus"])  # the reference is the texts
    prov = out["provenance"]["cv_corpus"]
    assert prov["window"] == 110 and prov["gamma"] == 1
    assert prov["reference"]["n_documents"] == 40 and "evaluated" in prov["definition"]


def test_cv_corpus_hand_value_on_a_tiny_corpus(tmp_path):
    # every text is shorter than the window: one window each, 4 windows. P(apple) = 3/4,
    # P(banana) = 2/4, P(apple, banana) = 2/4 -> x = NPMI = log((1/2) / (3/8)) / -log(1/2)
    # = log(4/3) / log(2) = 0.41504; a two-word topic's C_V is (1 + x) / sqrt(2 (1 + x^2))
    texts = ["apple banana", "apple banana", "apple cherry", "cherry grape"]
    x = np.log(4 / 3) / np.log(2)
    out = evaluate_topics([["apple", "banana"]], texts=texts, metrics="cv_corpus", top_n=2,
                          cache_dir=tmp_path)
    assert out["scores"]["cv_corpus"] == pytest.approx((1 + x) / np.sqrt(2 * (1 + x * x)),
                                                       abs=1e-9)


def test_cv_corpus_without_texts_is_skipped_or_an_error():
    out = evaluate_topics(TOPICS, top_n=5)
    assert out["skipped"]["cv_corpus"].startswith("needs the texts of the evaluated documents")
    with pytest.raises(ValueError, match="metric 'cv_corpus' needs the texts"):
        evaluate_topics(TOPICS, metrics="cv_corpus", top_n=5)


def duplicated_corpus():
    """10 documents over 6 distinct texts; a copy has its original's theta row and label."""
    rng = np.random.default_rng(5)
    base_theta = rng.dirichlet(np.full(3, 0.5), size=6)
    base_labels = ["a", "b", "a", "b", "a", "b"]
    order = [0, 1, 0, 2, 3, 1, 4, 0, 5, 3]      # first occurrences: rows 0, 1, 3, 4, 6, 8
    texts = [f"text number {i}" for i in order]
    return base_theta[order], [base_labels[i] for i in order], texts


def test_dedup_retrieval_is_retrieval_on_the_first_occurrences():
    theta, labels, texts = duplicated_corpus()
    out = evaluate_topics(TOPICS, theta, labels, metrics="retrieval", top_n=5, texts=texts,
                          retrieval_ks=(1, 3))
    first = [0, 1, 3, 4, 6, 8]
    for dist in ("kl", "hellinger"):
        expected = retrieval_precision(theta[first], np.array(labels)[first], (1, 3), dist)
        plain = retrieval_precision(theta, labels, (1, 3), dist)
        for k in (1, 3):
            assert out["scores"][f"p@{k}_{dist}_dedup"] == pytest.approx(expected[k], abs=1e-12)
            assert out["scores"][f"p@{k}_{dist}"] == pytest.approx(plain[k], abs=1e-12)
    # a copy is its original's nearest neighbour with its label: P@1 is inflated by copies
    assert out["scores"]["p@1_kl"] > out["scores"]["p@1_kl_dedup"]
    prov = out["provenance"]["retrieval_dedup"]
    assert prov["n_documents"] == 6 and prov["n_duplicates_dropped"] == 4

    # excluded (empty) rows leave both; dedup keeps the first occurrence among the rest
    out = evaluate_topics(TOPICS, theta, labels, metrics="retrieval", top_n=5, texts=texts,
                          retrieval_ks=(1, 3), exclude=[6])
    first = [0, 1, 3, 4, 8]
    expected = retrieval_precision(theta[first], np.array(labels)[first], (1, 3), "kl")
    assert out["scores"]["p@3_kl_dedup"] == pytest.approx(expected[3], abs=1e-12)


def test_dedup_retrieval_needs_texts_matching_theta():
    theta, labels, texts = duplicated_corpus()
    out = evaluate_topics(TOPICS, theta, labels, metrics="retrieval", top_n=5)
    assert not any(k.endswith("_dedup") for k in out["scores"])
    assert "texts" in out["skipped"]["retrieval_dedup"]
    with pytest.raises(ValueError, match="9 texts for 10 theta rows"):
        evaluate_topics(TOPICS, theta, labels, metrics="retrieval", top_n=5, texts=texts[:9])


def test_run_texts_are_the_training_corpus_aligned_by_id(tmp_path):
    run, theta, labels, corpus = make_run(tmp_path)
    rows = [json.loads(line) for line in corpus.read_text().splitlines()]
    body = {r["id"]: r["body"] for r in rows}
    body["doc5"] = body["doc2"]                  # doc5 now repeats doc2 (the file is shuffled)
    corpus.write_text("".join(json.dumps({**r, "body": body[r["id"]]}) + "\n" for r in rows))
    texts = [body[f"doc{i}"] for i in range(40)]
    out = evaluate_run(run, metrics="cv_corpus,retrieval", top_n=5, write=False,
                       cache_dir=tmp_path / "cache")
    stats = count_reference(texts, WORDS, [110])
    assert out["scores"]["cv_corpus"] == pytest.approx(coherence(TOPICS, stats, "cv", 5).score,
                                                       abs=1e-12)
    first = [i for i in range(40) if i not in (3, 5, 7)]   # empty rows 3, 7; copy 5
    expected = retrieval_precision(theta[first], np.array(labels)[first], (1, 5, 10), "kl")
    assert out["scores"]["p@5_kl_dedup"] == pytest.approx(expected[5], abs=1e-12)
    assert out["provenance"]["retrieval_dedup"]["n_documents"] == 37

    # a corpus file changed since the fit is not taken for the run's texts
    config = json.loads((run / "config.json").read_text())
    config["corpus"]["content_hash"] = hash_texts(texts)
    (run / "config.json").write_text(json.dumps(config))
    assert "cv_corpus" in evaluate_run(run, metrics="cv_corpus", top_n=5, write=False,
                                       cache_dir=tmp_path / "cache")["scores"]
    corpus.write_text(corpus.read_text().replace(body["doc9"], "changed text"))
    out = evaluate_run(run, top_n=5, write=False, cache_dir=tmp_path / "cache")
    assert "no longer holds the texts" in out["skipped"]["cv_corpus"]
    assert "no longer holds the texts" in out["skipped"]["retrieval_dedup"]
    with pytest.raises(ValueError, match="metric 'cv_corpus' needs the documents' texts: .*"
                                         "no longer holds"):
        evaluate_run(run, metrics="cv_corpus", top_n=5, write=False)
