"""Run folders and saved files (issue #11): a run folder is written whole and marked complete,
its location is checked before training, readers refuse unmarked folders, a tampered saved
model is one named error, and the benchmark report lists only the views its runs used."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

import softtopic
from softtopic import ModelFileError, ProdLDA
from softtopic.benchmark.config import parse_config
from softtopic.benchmark.report import build_report, collect
from softtopic.benchmark.runner import run_state
from softtopic.benchmark.scoring import score_run
from softtopic.benchmark.worker import main as worker_main
from softtopic.cli import main
from softtopic.commands import fit as fit_command
from softtopic.files import write_json_atomic
from softtopic.runs import MARKER, write_run
from softtopic.views.cache import ChunkedView

from planted import planted_corpus
from test_benchmark import grid_config

FIT = ["--model", "prodlda", "--k", "3", "--epochs", "1", "--seed", "0", "--quiet"]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "c.jsonl"
    texts, _, dominant = planted_corpus(n_topics=3, n_docs=60, seed=2)
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": t, "label": f"t{d}"}) + "\n"
                            for i, (t, d) in enumerate(zip(texts, dominant))))
    return path


@pytest.fixture(scope="module")
def finished_run(corpus_file, tmp_path_factory):
    """A run folder written by `softtopic fit` (copy it before changing it)."""
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["fit", str(corpus_file), "--out", str(out), *FIT]) == 0
    return out


# --------------------------------------------------------------------------- fit --out

def test_fit_marks_the_run_complete(finished_run):
    marker = json.loads((finished_run / MARKER).read_text())
    assert marker["softtopic_version"] == softtopic.__version__
    assert not [p for p in finished_run.parent.iterdir() if p.name != "run"]  # no staging left


def _empty_folder(out, finished_run):
    out.mkdir()


def _finished_run(out, finished_run):
    shutil.copytree(finished_run, out)
    (out / "stale.txt").write_text("from the earlier run")


def _foreign_folder(out, finished_run):
    out.mkdir()
    (out / "notes.txt").write_text("mine")


def _file(out, finished_run):
    out.write_text("not a folder")


@pytest.mark.parametrize("setup, flags, message", [
    (None, [], None),
    (_empty_folder, [], None),
    (_finished_run, ["--overwrite"], None),
    (_finished_run, [], "already holds a run; pass --overwrite to replace it"),
    (_foreign_folder, [], "exists and is not a softtopic run folder; refusing to write into it"),
    (_foreign_folder, ["--overwrite"], "exists and is not a softtopic run folder"),
    (_file, [], "is a file, not a folder"),
], ids=["new", "empty", "overwrite", "run-without-overwrite", "foreign", "foreign-overwrite",
        "file"])
def test_fit_output_location(setup, flags, message, corpus_file, finished_run, tmp_path,
                             monkeypatch, capsys):
    out = tmp_path / "out"
    if setup:
        setup(out, finished_run)
    before = sorted(p.name for p in out.iterdir()) if out.is_dir() else None
    if message:  # refused before anything is built or trained
        monkeypatch.setattr(fit_command, "build_model", lambda *a, **k: pytest.fail("trained"))
    rc = main(["fit", str(corpus_file), "--out", str(out), *FIT, *flags])
    if message is None:
        assert rc == 0 and (out / MARKER).exists() and not (out / "stale.txt").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    else:
        assert rc == 2 and f"{out} {message}" in capsys.readouterr().err
        assert (sorted(p.name for p in out.iterdir()) if out.is_dir() else None) == before


def test_interrupted_write_leaves_no_run_folder(corpus_file, tmp_path, monkeypatch):
    corpus = softtopic.load_corpus(corpus_file)
    model = ProdLDA(n_topics=3, epochs=1, progress=False).fit(corpus)

    def disk_full(self, path):
        raise OSError("disk full")
    monkeypatch.setattr(ProdLDA, "save", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_run(model, corpus, tmp_path / "out", "prodlda", {})
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- readers

def _without_marker(path, finished_run):
    shutil.copytree(finished_run, path)
    (path / MARKER).unlink()


def _regular_file(path, finished_run):
    path.write_text("{}")


@pytest.mark.parametrize("setup, message", [
    (_without_marker, "is not a complete run (no marker run.json); it was interrupted or "
                      "written by hand"),
    (_regular_file, "is a file, not a run folder"),
], ids=["no-marker", "file"])
def test_evaluate_refuses(setup, message, finished_run, tmp_path, capsys):
    path = tmp_path / "target"
    setup(path, finished_run)
    assert main(["evaluate", str(path), "--metrics", "td", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path} {message}" in err and "does not exist" not in err


def worker_run(tmp_path):
    """One benchmark run finished by the worker in-process: (spec, run folder)."""
    raw = grid_config(tmp_path)
    raw["models"], raw["seeds"] = ["prodlda"], [0]
    spec = parse_config(raw).runs()[0]
    run_dir = tmp_path / "out" / spec.relpath
    run_dir.mkdir(parents=True)
    write_json_atomic(run_dir / "spec.json", spec.to_dict())
    assert worker_main([str(run_dir)]) == 0
    return spec, run_dir


def test_harness_counts_a_run_without_marker_as_unfinished(tmp_path):
    spec, run_dir = worker_run(tmp_path)
    assert run_state(run_dir, spec) == "done" and (run_dir / MARKER).exists()
    (run_dir / MARKER).unlink()
    assert run_state(run_dir, spec) == "todo"
    assert collect(tmp_path / "out")["status"].tolist() == ["unfinished"]
    with pytest.raises(ValueError, match="is not a complete run"):
        score_run(run_dir, {"metrics": ["td"], "top_n": 5}, "")


def test_bench_refuses_a_folder_as_config(tmp_path, capsys):
    assert main(["bench", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{tmp_path}: is a folder; expected a config file (YAML" in err
    assert len(err.splitlines()) == 1


# --------------------------------------------------------------------------- saved models

@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    texts, _, _ = planted_corpus(n_topics=3, n_docs=60, seed=3)
    path = tmp_path_factory.mktemp("models") / "m"
    ProdLDA(n_topics=3, epochs=1, progress=False).fit(texts).save(path)
    return path


def _edit_config(edit):
    def tamper(m):
        config = json.loads((m / "config.json").read_text())
        edit(config)
        (m / "config.json").write_text(json.dumps(config, indent=1))
    return tamper


def _drop_tensor(name):
    def tamper(m):
        tensors = load_file(str(m / "model.safetensors"))
        del tensors[name]
        save_file(tensors, str(m / "model.safetensors"))
    return tamper


def _truncate(m):
    data = (m / "model.safetensors").read_bytes()
    (m / "model.safetensors").write_bytes(data[:len(data) // 2])


def _short_vocabulary(config):
    config["state"]["vocabulary"]["words"] = config["state"]["vocabulary"]["words"][:10]


def _corrupt_json(m):
    lines = (m / "config.json").read_text().splitlines()
    (m / "config.json").write_text("\n".join(lines[:3]))


@pytest.mark.parametrize("tamper, message", [
    (_truncate, "model.safetensors: truncated or not a safetensors file"),
    (lambda m: (m / "model.safetensors").write_bytes(b""),
     "model.safetensors: truncated or not a safetensors file"),
    (lambda m: (m / "model.safetensors").unlink(), "model.safetensors: missing"),
    (_corrupt_json, "config.json: not valid JSON (line 3)"),
    (_edit_config(lambda c: c.pop("state")), "config.json: 'state' is missing"),
    (_edit_config(lambda c: c.pop("params")), "config.json: 'params' is missing"),
    (_edit_config(lambda c: c.pop("class")), "config.json: 'class' is missing"),
    (_edit_config(lambda c: c["state"].pop("feature_dims")),
     "config.json: state has no 'feature_dims'"),
    (_edit_config(_short_vocabulary), "m: vocabulary has 10 words but topic_word has {V} columns"),
    (_edit_config(lambda c: c["params"].update(foo=1)),
     "config.json: unknown parameter 'foo' for ProdLDA"),
    (_drop_tensor("theta"), "model.safetensors: no tensor 'theta'"),
    (_drop_tensor("module.decoder.beta"),
     "model.safetensors: tensors do not fit a ProdLDA"),
], ids=["truncated", "empty", "no-tensor-file", "bad-json", "no-state", "no-params", "no-class",
        "no-state-key", "short-vocabulary", "unknown-param", "no-theta", "no-module-tensor"])
def test_tampered_model_is_one_named_error(tamper, message, saved_model, tmp_path):
    m = tmp_path / "m"
    shutil.copytree(saved_model, m)
    n_words = len(json.loads((m / "config.json").read_text())["state"]["vocabulary"]["words"])
    tamper(m)
    with pytest.raises(ModelFileError) as error:
        softtopic.load(m)
    assert message.format(V=n_words) in str(error.value)
    assert str(m) in str(error.value) and isinstance(error.value, ValueError)


def test_untampered_model_still_loads(saved_model):
    model = softtopic.load(saved_model)
    assert isinstance(model, ProdLDA) and model.theta_.shape[1] == 3


# --------------------------------------------------------------------------- bench-report views

def test_report_lists_only_the_views_the_runs_used(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SOFTTOPIC_CACHE", str(cache))
    # a view this process computes (as a run's model would) ...
    ChunkedView(cache / "lm" / "used", 4, key_parts={"kind": "view-of-this-run"}).compute(
        lambda a, b: {"x": np.zeros((b - a, 2))}, progress=False)
    # ... and one another run left in the shared cache
    other = cache / "lm" / "other"
    other.mkdir(parents=True)
    write_json_atomic(other / "key.json", {"kind": "view-of-another-run"})
    write_json_atomic(other / "timing.json", {"seconds": 3.0, "rows_computed": 9})
    _, run_dir = worker_run(tmp_path)
    assert str((cache / "lm" / "used").resolve()) in json.loads(
        (run_dir / "config.json").read_text())["views"]
    report = open(build_report(tmp_path / "out", cache_dir=cache)["report"]).read()
    assert "view-of-this-run" in report and "view-of-another-run" not in report

