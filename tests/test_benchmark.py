"""Benchmark harness: config validation, grid end to end with resume, Welch highlighting,
the additive two-way ANOVA, and the dataset loaders on tiny files in the published layouts."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from softtopic.benchmark.config import ConfigError, load_config, parse_config
from softtopic.benchmark.datasets import load_dataset, prepare
from softtopic.benchmark.report import build_report, collect
from softtopic.benchmark.runner import run_grid
from softtopic.benchmark.files import write_json_atomic
from softtopic.benchmark.worker import main as worker_main
from softtopic.benchmark.stats import not_worse_than_best, two_way_anova_additive
from softtopic.cli import main as cli_main

THEMES = {"space": "orbit rocket launch nasa shuttle moon planet satellite",
          "hockey": "game team season goal player puck coach league",
          "crypto": "key encryption chip clipper security algorithm secret privacy"}


def synthetic_corpus(path: Path, per_label: int = 30, blank: int = 2) -> Path:
    rng = random.Random(0)
    rows = []
    for label, words in THEMES.items():
        vocab = words.split()
        for i in range(per_label):
            rows.append({"id": f"{label}-{i}", "label": label,
                         "text": " ".join(rng.choice(vocab) for _ in range(12))})
    rows += [{"id": f"blank-{i}", "label": "space", "text": "   "} for i in range(blank)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def grid_config(tmp_path: Path, **extra) -> dict:
    data = synthetic_corpus(tmp_path / "corpus.jsonl")
    return {"name": "tiny", "datasets": {"toy": {"path": str(data)}},
            "models": ["prodlda", {"name": "prodlda", "params": {"hidden_sizes": [20]},
                                   "display": "prodlda-small"}],
            "k": [3], "seeds": [0, 1],
            "params": {"epochs": 3, "batch_size": 16, "vocab_size": 30, "n_samples": 2},
            "evaluation": {"metrics": ["td", "purity", "nmi"], "reference": "corpus",
                           "top_n": 5}, **extra}


# --------------------------------------------------------------------------- config errors

def test_unknown_model_lists_known_names(tmp_path):
    raw = grid_config(tmp_path)
    raw["models"] = ["prodlda", "no-such-model"]
    with pytest.raises(ConfigError, match=r"unknown model 'no-such-model'.*prodlda.*zeroshot"):
        parse_config(raw)
    cfg = parse_config(raw, allow_unknown_models=True)  # kept; its runs will fail
    assert [m.name for m in cfg.models] == ["prodlda", "no-such-model"]


def test_missing_dataset_names_the_path(tmp_path):
    raw = grid_config(tmp_path)
    raw["datasets"]["tweets"] = {"path": "nowhere/tweettopic.jsonl"}
    with pytest.raises(ConfigError, match=r"dataset 'tweets': file not found: .*nowhere/tweettopic"):
        parse_config(raw, base_dir=tmp_path)


@pytest.mark.parametrize("change, message", [
    ({"k": [0]}, "'k' must be a non-empty list of integers >= 2"),
    ({"seeds": [1, 1]}, "'seeds' has repeated values"),
    ({"colour": 1}, "unknown key"),
    ({"models": [{"name": "prodlda", "params": {"tau": 2}}]}, "has no parameter.*tau"),
    ({"sweeps": [{"param": "vocab_size", "values": [10], "analysis": "pie"}]},
     "analysis must be one of"),
    ({"models": ["prodlda", "prodlda"]}, "share a display name"),
])
def test_config_validation_errors(tmp_path, change, message):
    raw = {**grid_config(tmp_path), **change}
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_grid_expansion_and_sweeps(tmp_path):
    cfg = parse_config(grid_config(tmp_path))
    runs = cfg.runs()
    assert len(runs) == 2 * 1 * 2
    assert {str(r.relpath) for r in runs} >= {"toy/prodlda/k3/seed0", "toy/prodlda-small/k3/seed1"}
    assert runs[0].params["epochs"] == 3 and runs[0].params["n_topics"] == 3
    sweep = parse_config(grid_config(tmp_path, sweeps=[
        {"param": "vocab_size", "values": [20, 30, 40], "models": ["prodlda"]}]))
    runs = sweep.runs()
    assert len(runs) == 3 * 2
    assert {r.params["vocab_size"] for r in runs} == {20, 30, 40}
    assert runs[0].model_label == "prodlda@vocab_size=20"


def test_shipped_configs_parse():
    root = Path(__file__).resolve().parents[1] / "configs"
    names = sorted(p.name for p in root.glob("*.yaml"))
    assert {"smoke.yaml", "paper-table1.yaml", "20ng-cpu.yaml", "temperature.yaml"} <= set(names)
    for p in root.glob("*.yaml"):
        cfg = load_config(p, check_files=False, allow_unknown_models=True)
        assert cfg.runs(), p.name
    table1 = load_config(root / "paper-table1.yaml", check_files=False, allow_unknown_models=True)
    assert table1.k == [25, 50, 75, 100] and len(table1.seeds) == 5
    assert len(table1.datasets) == 3


def two_dataset_config(tmp_path: Path, **tweets) -> dict:
    """toy on the global K; tweets (the same file) with its own options, e.g. its own k."""
    raw = grid_config(tmp_path)
    raw["datasets"]["tweets"] = {"path": raw["datasets"]["toy"]["path"], **tweets}
    return raw


def test_per_dataset_k_overrides_the_global_k(tmp_path):
    cfg = parse_config(two_dataset_config(tmp_path, k=[2, 4]))
    runs = cfg.runs()
    got = [(r.dataset, r.k, r.seed, r.model_label) for r in runs]
    expected = [(d, k, s, m) for d, ks in (("toy", [3]), ("tweets", [2, 4]))
                for m in ("prodlda", "prodlda-small") for k in ks for s in (0, 1)]
    assert got == expected                       # dataset x model x K x seed, in that order
    assert len({r.relpath for r in runs}) == len(runs) == 12
    assert all(r.params["n_topics"] == r.k for r in runs)
    # `k` is not a loader option: the dataset options (and so the specs) stay as they were
    assert all("k" not in r.dataset_options for r in runs)
    assert cfg.k_for("toy") == [3] and cfg.k_for("tweets") == [2, 4]
    plain = parse_config(grid_config(tmp_path)).runs()
    assert [r.to_dict() for r in plain] == [r.to_dict() for r in runs if r.dataset == "toy"]


def test_bench_cli_dry_run_lists_per_dataset_k_runs(tmp_path, capsys):
    import yaml
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(two_dataset_config(tmp_path, k=[2, 4])))
    assert cli_main(["bench", str(cfg), "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "12 runs"
    assert "tweets/prodlda-small/k4/seed1" in lines and "toy/prodlda/k3/seed0" in lines
    assert not (tmp_path / "o").exists()        # a dry run writes nothing


def test_a_slice_of_the_grid_has_the_full_grids_run_folders_and_specs(tmp_path, capsys):
    """--datasets / --k run a slice first; its runs are the full grid's (same folders, same
    specs), so running the whole config later resumes from them."""
    import yaml
    cfg = parse_config(two_dataset_config(tmp_path, k=[2, 4]))
    full = {r.relpath: r.to_dict() for r in cfg.runs()}
    part = cfg.subset(["tweets"], [4]).runs()
    assert sorted(str(r.relpath) for r in part) == sorted(
        f"tweets/{m}/k4/seed{s}" for m in ("prodlda", "prodlda-small") for s in (0, 1))
    assert all(full[r.relpath] == r.to_dict() for r in part)
    assert {(r.dataset, r.k) for r in cfg.subset(ks=[3, 2]).runs()} == {("toy", 3), ("tweets", 2)}
    assert len(cfg.subset(["toy"]).runs()) == 4 and len(cfg.subset().runs()) == 12
    with pytest.raises(ConfigError, match=r"no dataset 'tweet' .* it has toy, tweets"):
        cfg.subset(["tweet"])
    with pytest.raises(ConfigError, match=r"--k: \[4\] not in the grid .*\[3\]"):
        cfg.subset(["toy"], [4])
    # --models: a registry name keeps all its entries, a label one; the runs are the grid's
    small = cfg.subset(models=["prodlda-small"]).runs()
    assert {str(r.relpath).split("/")[1] for r in small} == {"prodlda-small"} and len(small) == 6
    assert all(full[r.relpath] == r.to_dict() for r in small)
    assert len(cfg.subset(models=["prodlda"]).runs()) == 12
    with pytest.raises(ConfigError, match=r"--models: no model 'lda' .* it has prodlda"):
        cfg.subset(models=["lda"])
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(two_dataset_config(tmp_path, k=[2, 4])))
    assert cli_main(["bench", str(path), "--out", str(tmp_path / "o"), "--dry-run",
                     "--datasets", "tweets", "--k", "2,4"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "8 runs"
    assert cli_main(["bench", str(path), "--out", str(tmp_path / "o"), "--dry-run",
                     "--datasets", "tweets", "--models", "prodlda-small"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "4 runs"


def test_global_k_may_be_left_out_only_when_every_dataset_has_its_own(tmp_path):
    raw = two_dataset_config(tmp_path, k=[2])
    del raw["k"]
    with pytest.raises(ConfigError, match=r"missing required key 'k' .*\['toy'\]"):
        parse_config(raw)
    raw["datasets"]["toy"] = {"path": raw["datasets"]["toy"]["path"], "k": 5}
    assert [(r.dataset, r.k) for r in parse_config(raw).runs()][::4] == [("toy", 5),
                                                                         ("tweets", 2)]


@pytest.mark.parametrize("bad, message", [
    ([1], "'k' must be a non-empty list of integers >= 2, got \\[1\\]"),
    ([], "'k' must be a non-empty list of integers >= 2"),
    ("many", "'k' must be a non-empty list of integers >= 2, got 'many'"),
    ([5, True], "'k' must be a non-empty list"),
    ([5, 5], "'k' has repeated values"),
])
def test_bad_per_dataset_k_names_the_file_and_the_dataset(tmp_path, bad, message):
    import yaml
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(two_dataset_config(tmp_path, k=bad)))
    with pytest.raises(ConfigError, match=f"^{path}: dataset 'tweets': {message}"):
        load_config(path)


def test_unknown_evaluation_metric_is_a_config_error(tmp_path):
    raw = grid_config(tmp_path)
    raw["evaluation"]["metrics"] = ["cv", "cv_corpos"]
    with pytest.raises(ConfigError, match=r"evaluation: 'metrics': unknown metric.*cv_corpos"):
        parse_config(raw)


def test_shorttext_config_grid():
    path = Path(__file__).resolve().parents[1] / "configs" / "shorttext.yaml"
    cfg = load_config(path, check_files=False)
    runs = cfg.runs()
    assert len(runs) == 3 * 2 * 3 * 8 == 144
    ks = {d: sorted({r.k for r in runs if r.dataset == d}) for d in cfg.datasets}
    assert ks == {"20ng-subjects": [20, 50], "tweet89": [50, 89], "20ng": [20, 50]}
    assert cfg.datasets["20ng"]["path"].endswith("shared/data/20newsgroup/corpus_stripped.jsonl")
    assert cfg.datasets["20ng"]["drop_blank"] is True
    by_model = {r.model_label: r for r in runs}
    assert {r.model for r in by_model.values()} == {
        "softlabel-encoder", "softlabel-paper", "zeroshot", "prodlda", "combined", "lda",
        "fastopic", "bertopic"}
    paper = next(r for r in runs if r.model == "softlabel-paper")
    assert paper.params["teacher"] == "encoder"
    assert all("epochs" not in r.params and r.params["vocab_size"] == 2000 for r in runs)
    ev = cfg.evaluation
    assert set(ev["metrics"]) == {"cv", "cv_corpus", "td", "purity", "nmi", "retrieval"}
    assert ev["retrieval_k"] == [5, 10] and ev["reference"].endswith("reference/wiki.txt.gz")


def test_report_names_the_short_text_columns_and_tests_them():
    from softtopic.benchmark.report import metric_label, metric_order, significance_table
    keys = ["p@10_hellinger_dedup", "p@5_kl_dedup", "p@10_kl", "p@5_kl", "cv_corpus",
            "p@5_hellinger", "inverse_purity", "cv", "purity"]
    assert [metric_label(k) for k in metric_order(keys)] == [
        "C_V", "C_V corpus", "Purity", "Inverse purity", "P@5", "P@10", "P@5 dedup",
        "P@5 Hellinger", "P@10 Hellinger dedup"]
    rows = []
    for model, cv, dedup in (("a", [0.50, 0.51, 0.49], [0.30, 0.31, 0.29]),
                             ("b", [0.30, 0.31, 0.29], [0.40, 0.30, 0.35])):
        rows += [{"model": model, "metric:cv_corpus": c, "metric:p@5_kl_dedup": p}
                 for c, p in zip(cv, dedup)]
    import pandas as pd
    table = significance_table(pd.DataFrame(rows), ["cv_corpus", "p@5_kl_dedup"])
    assert table.header == ["model", "runs", "C_V corpus", "P@5 dedup"]
    # Welch against the best per column: a wins C_V corpus clearly; b's better P@5 dedup mean
    # is not significantly above a's (p = 0.13), so both are bold there
    assert table.rows[0] == [("a", False), ("3", False), ("0.500 ± 0.010", True),
                             ("0.300 ± 0.010", True)]
    assert table.rows[1] == [("b", False), ("3", False), ("0.300 ± 0.010", False),
                             ("0.350 ± 0.050", True)]


def test_worker_scores_cv_corpus_and_dedup_from_the_dataset(tmp_path):
    """A benchmark run rereads its dataset's texts (config.json records the path, columns and
    content hash) for cv_corpus and the deduplicated P@k."""
    from softtopic.evaluation import retrieval_precision
    raw = grid_config(tmp_path)                  # writes the synthetic corpus
    data = Path(raw["datasets"]["toy"]["path"])
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    copies = [{**rows[i], "id": f"copy-{i}"} for i in (0, 1, 40)]  # repeat three texts
    data.write_text("".join(json.dumps(r) + "\n" for r in rows + copies))
    raw.update(models=["prodlda"], seeds=[0])
    raw["evaluation"]["metrics"] = ["cv_corpus", "retrieval"]
    raw["evaluation"]["retrieval_k"] = [5]
    run_dir, status = run_first_in_process(raw, tmp_path)
    assert status == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["not_computed"] == {}
    assert 0 < metrics["metrics"]["cv_corpus"] <= 1
    ids = json.loads((run_dir / "ids.json").read_text())
    theta = np.load(run_dir / "theta.npy")
    labels = json.loads((run_dir / "labels.json").read_text())
    empty = set(json.loads((run_dir / "config.json").read_text())["empty_documents"])
    first = [i for i, d in enumerate(ids) if not d.startswith("copy-") and i not in empty]
    expected = retrieval_precision(theta[first], np.array(labels)[first], (5,), "kl")[5]
    assert metrics["metrics"]["p@5_kl_dedup"] == pytest.approx(expected, abs=1e-12)
    assert metrics["provenance"]["retrieval_dedup"]["n_duplicates_dropped"] == 3
    assert metrics["metrics"]["p@5_kl_dedup"] != pytest.approx(metrics["metrics"]["p@5_kl"])


# --------------------------------------------------------------------------- statistics

def test_welch_highlighting_separated_vs_overlapping():
    samples = {"a": [0.50, 0.51, 0.49, 0.50, 0.52],   # best
               "b": [0.30, 0.31, 0.29, 0.30, 0.32],   # clearly worse
               "c": [0.45, 0.55, 0.40, 0.58, 0.47]}   # overlaps a
    best, bold, p = not_worse_than_best(samples)
    assert best == "a"
    assert bold == {"a", "c"}
    assert p["b"] < 1e-6 and p["c"] > 0.05
    assert p["c"] == pytest.approx(stats.ttest_ind(samples["a"], samples["c"],
                                                   equal_var=False).pvalue)
    best, bold, _ = not_worse_than_best(samples, higher_is_better=False)
    assert best == "b" and bold == {"b"}


def test_two_way_anova_matches_hand_computation():
    # rows (prompts) differ by +0, +1, +2; columns (seeds) by 0, 0.3; residual noise known
    y = np.array([[1.0, 1.5], [2.0, 2.1], [3.2, 3.3]])
    grand = y.mean()                                   # 13.1 / 6
    ss_rows = 2 * ((y.mean(1) - grand) ** 2).sum()
    ss_cols = 3 * ((y.mean(0) - grand) ** 2).sum()
    ss_err = ((y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + grand) ** 2).sum()
    res = two_way_anova_additive(y)
    # hand: row means 1.25, 2.05, 3.25; col means 2.0667, 2.3; grand 2.1833
    assert ss_rows == pytest.approx(2 * ((1.25 - 13.1 / 6) ** 2 + (2.05 - 13.1 / 6) ** 2
                                         + (3.25 - 13.1 / 6) ** 2))
    assert res["rows"]["F"] == pytest.approx((ss_rows / 2) / (ss_err / 2))
    assert res["cols"]["F"] == pytest.approx((ss_cols / 1) / (ss_err / 2))
    # by hand: SS_rows = 4.05333, SS_error = 0.05333 (residuals +-0.1333, +-0.0667), so
    # F_rows = (4.05333 / 2) / (0.05333 / 2) = 76
    assert res["rows"]["F"] == pytest.approx(76.0, rel=1e-9)
    assert res["rows"]["p"] == pytest.approx(stats.f.sf(76.0, 2, 2))
    assert res["df_error"] == 2
    with pytest.raises(ValueError, match="missing"):
        two_way_anova_additive([[1.0, np.nan], [2.0, 3.0]])


# --------------------------------------------------------------------------- end to end

def test_grid_end_to_end_with_resume_and_report(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    raw = grid_config(tmp_path)
    raw["models"].append("no-such-model")
    cfg = parse_config(raw, allow_unknown_models=True)
    out = tmp_path / "out"
    log = []
    results = run_grid(cfg, out, jobs=2, cache_dir=str(tmp_path / "cache"), echo=log.append)
    status = {str(r.spec.relpath): r.status for r in results}
    assert list(status.values()).count("done") == 4
    assert status["toy/no-such-model/k3/seed0"] == "failed"
    run = out / "toy/prodlda/k3/seed0"
    for name in ("spec.json", "config.json", "topics.json", "theta.npy", "metrics.json",
                 "timings.json", "log.txt", "done.json"):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"]["dropped_blank"] == 2 and metrics["dataset"]["n_documents"] == 90
    assert 0 < metrics["metrics"]["purity"] <= 1 and 0 < metrics["metrics"]["td"] <= 1
    timings = json.loads((run / "timings.json").read_text())
    assert timings["epochs"] == 3 and timings["seconds_per_epoch"] > 0
    assert any("[6/6]" in line for line in log) and "FAILED" in log[-1]

    # simulate an interrupted run: done.json missing; another run crashed earlier
    (out / "toy/prodlda-small/k3/seed1/done.json").unlink()
    before = {p: (p / "done.json").stat().st_mtime_ns
              for p in [out / "toy/prodlda/k3/seed0", out / "toy/prodlda/k3/seed1",
                        out / "toy/prodlda-small/k3/seed0"]}
    results = run_grid(cfg, out, cache_dir=str(tmp_path / "cache"), echo=log.append)
    status = {str(r.spec.relpath): r.status for r in results}
    assert status["toy/prodlda-small/k3/seed1"] == "done"
    assert [s for s in status.values()].count("skipped") == 3
    assert all((p / "done.json").stat().st_mtime_ns == t for p, t in before.items())

    # a run made when a default was different (its config.json records every parameter the
    # model had) describes another model: it runs again, the others stay
    recorded_file = out / "toy/prodlda/k3/seed0/config.json"
    recorded = json.loads(recorded_file.read_text())
    recorded["params"]["theta_dropout"] = 0.5
    recorded_file.write_text(json.dumps(recorded))
    results = run_grid(cfg, out, cache_dir=str(tmp_path / "cache"), echo=log.append)
    status = {str(r.spec.relpath): r.status for r in results}
    assert status["toy/prodlda/k3/seed0"] == "done"
    assert [s for s in status.values()].count("skipped") == 3
    assert json.loads(recorded_file.read_text())["params"]["theta_dropout"] == 0.2

    # a run recorded before a parameter existed was trained with the value
    # `_parameters_added_later` gives it: where that is today's default it stays done, where
    # it is not (cluster_neighbours: 1 then, 10 now) it runs again
    for run, removed in (("toy/prodlda/k3/seed1", "cluster_oversplit"),
                         ("toy/prodlda-small/k3/seed0", "cluster_neighbours")):
        recorded_file = out / run / "config.json"
        recorded = json.loads(recorded_file.read_text())
        del recorded["params"][removed]
        recorded_file.write_text(json.dumps(recorded))
    status = {str(r.spec.relpath): r.status
              for r in run_grid(cfg, out, cache_dir=str(tmp_path / "cache"), echo=log.append)}
    assert status["toy/prodlda/k3/seed1"] == "skipped"
    assert status["toy/prodlda-small/k3/seed0"] == "done"

    info = build_report(out)
    md = Path(info["report"]).read_text()
    assert "no-such-model" in md and "unknown model" in md
    assert "| prodlda | 2 |" in md and "Purity" in md and "**" in md
    assert (out / "report.html").read_text().count("<table>") >= 3
    df = collect(out)
    assert (df["status"] == "done").sum() == 4


def run_first_in_process(raw, tmp_path):
    """The grid's first run, by the worker in this process (the runner starts the same entry
    point as a subprocess): (run folder, exit status)."""
    spec = parse_config(raw).runs()[0]
    run_dir = tmp_path / "out" / spec.relpath
    run_dir.mkdir(parents=True)
    write_json_atomic(run_dir / "spec.json", spec.to_dict())
    return run_dir, worker_main([str(run_dir)])


def test_failing_run_records_traceback(tmp_path):
    # the worker in-process (the runner starts the same entry point as a subprocess)
    raw = grid_config(tmp_path)
    raw["models"] = [{"name": "prodlda", "params": {"lr": -1.0}}]
    raw["seeds"] = [0]
    run_dir, status = run_first_in_process(raw, tmp_path)
    assert status == 1
    err = json.loads((run_dir / "error.json").read_text())
    assert "parameter lr must be a finite number > 0, got -1.0" in err["error"]
    assert any("_validate_params" in line for line in err["traceback_tail"])
    assert not (run_dir / "done.json").exists()
    assert collect(tmp_path / "out")["status"].tolist() == ["failed"]


def test_bench_cli_dry_run_and_error(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    import yaml
    cfg.write_text(yaml.safe_dump(grid_config(tmp_path)))
    assert cli_main(["bench", str(cfg), "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    assert "4 runs" in capsys.readouterr().out
    bad = grid_config(tmp_path)
    bad["models"] = ["ldaa"]
    cfg.write_text(yaml.safe_dump(bad))
    assert cli_main(["bench", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "unknown model 'ldaa'" in capsys.readouterr().err


# --------------------------------------------------------------------------- dataset loaders

def test_20ng_bydate_folder(tmp_path):
    root = tmp_path / "20ng"
    msg = ("From: a@b.c\nSubject: orbits\n\nIn article <1@x> b@y writes:\n> quoted line\n"
           "The shuttle launch was late.\n\n-- \nsig line\n")
    for split, group, name in [("train", "sci.space", "10"), ("train", "sci.space", "9"),
                               ("test", "rec.autos", "5")]:
        d = root / f"20news-bydate-{split}" / group
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(msg.replace("late", "late caf\xe9").encode("latin-1"))
    c = prepare("20ng-bydate", root)
    assert c.ids == ["train/sci.space/9", "train/sci.space/10", "test/rec.autos/5"]
    assert c.labels == ["sci.space", "sci.space", "rec.autos"]
    assert c.splits == ["train", "train", "test"]
    assert "café" in c.texts[0]
    assert "Subject" not in c.texts[0] and "quoted" not in c.texts[0] and "sig line" not in c.texts[0]
    raw = prepare("20ng-bydate", root, strip=False)
    assert "Subject: orbits" in raw.texts[0]


def test_setfit_tweettopic_stackoverflow(tmp_path):
    sf = tmp_path / "setfit"
    sf.mkdir()
    (sf / "train.jsonl").write_text(json.dumps({"text": "a b", "label": 3,
                                                "label_text": "comp.graphics"}) + "\n")
    (sf / "test.jsonl").write_text(json.dumps({"text": "", "label": 1,
                                               "label_text": "alt.atheism"}) + "\n")
    c = prepare("20ng-setfit", sf)
    assert c.labels == ["comp.graphics", "alt.atheism"] and c.splits == ["train", "test"]

    tt = tmp_path / "tweets"
    tt.mkdir()
    row = {"text": "match tonight {{URL}}", "label": 4, "label_name": "sports_&_gaming",
           "id": "1", "date": "2020-01-01"}
    (tt / "train_random.single.json").write_text(json.dumps(row) + "\n")
    (tt / "test_random.single.json").write_text(
        json.dumps({**row, "id": "2", "label_name": "pop_culture"}) + "\n" + json.dumps(row) + "\n")
    c = prepare("tweettopic", tt)
    assert c.ids == ["2", "1"] and c.labels == ["pop_culture", "sports_&_gaming"]
    assert c.splits == ["test_random", "test_random"]  # the repeated id 1 in train is skipped
    assert "repeated" in c.notes[0]

    so = tmp_path / "so"
    so.mkdir()
    (so / "title_StackOverflow.txt").write_text("How do I use svn?\nExcel VBA loop\n")
    (so / "label_StackOverflow.txt").write_text("3\n5\n")
    c = prepare("stackoverflow", so)
    assert c.texts == ["How do I use svn?", "Excel VBA loop"] and c.labels == ["3", "5"]
    (so / "label_StackOverflow.txt").write_text("3\n")
    with pytest.raises(ValueError, match="2 titles but 1 labels"):
        prepare("stackoverflow", so)


def test_load_dataset_drops_blank_and_limits(tmp_path):
    path = synthetic_corpus(tmp_path / "c.jsonl")
    corpus, info = load_dataset({"path": str(path), "limit": 30})
    assert info["dropped_blank"] == 2 and info["n_documents"] == 30
    assert set(corpus.labels) == set(THEMES)  # evenly spaced subset keeps every label


def test_scoring_matches_evaluate_and_skips_llm_without_endpoint(tmp_path):
    """A benchmark run is scored exactly as `softtopic evaluate` scores a run folder; a table that
    asks for the LLM rating on a grid without an endpoint gets every other metric and a reason."""
    from softtopic import ProdLDA, load_corpus
    from softtopic.benchmark.scoring import score_run
    from softtopic.evaluation import evaluate_run
    from softtopic.runs import write_run

    data = synthetic_corpus(tmp_path / "corpus.jsonl")
    corpus, _ = load_corpus(data).drop_blank()
    model = ProdLDA(n_topics=3, epochs=5, batch_size=16, vocab_size=30, progress=False).fit(corpus)
    run = write_run(model, corpus, tmp_path / "run", "prodlda", {"path": str(data)})
    evaluation = {"metrics": ["td", "purity", "nmi", "llm"], "reference": None, "top_n": 5}
    scores = score_run(run, evaluation, str(data))
    assert "llm" not in scores["metrics"] and "endpoint" in scores["not_computed"]["llm"]
    expected = evaluate_run(run, metrics=["td", "purity", "nmi"], top_n=5, write=False)["scores"]
    assert scores["metrics"] == pytest.approx(expected) and 0 < scores["metrics"]["purity"] <= 1
    with pytest.raises(ValueError, match="needs a reference corpus"):
        score_run(run, {"metrics": ["cv"], "reference": None, "top_n": 5}, str(data))
