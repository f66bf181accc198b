import json

import numpy as np
import pytest

import softtopic
from softtopic.cli import main

from planted import planted_corpus


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    texts, _, dominant = planted_corpus(n_topics=4, n_docs=160, seed=1)
    with open(root / "c.jsonl", "w") as f:
        for i, (t, d) in enumerate(zip(texts, dominant)):
            f.write(json.dumps({"id": f"d{i}", "text": t, "label": f"t{d}"}) + "\n")
    with open(root / "c.csv", "w") as f:
        f.write("body,tag\n" + "".join(f"{t},t{d}\n" for t, d in zip(texts, dominant)))
    return root


def test_fit_writes_a_complete_run_folder(corpus_files, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["fit", str(corpus_files / "c.jsonl"), "--model", "prodlda", "--k", "4", "--out",
               str(out), "--seed", "0", "--epochs", "5", "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "fitted prodlda (K=4) on 160 documents" in printed
    topics = json.loads((out / "topics.json").read_text())
    assert topics["n_topics"] == 4 and len(topics["topics"][0]["words"]) == 25
    theta = np.load(out / "theta.npy")
    assert theta.shape == (160, 4) and np.allclose(theta.sum(1), 1, atol=1e-5)
    assert json.loads((out / "ids.json").read_text())[:2] == ["d0", "d1"]
    assert len(json.loads((out / "labels.json").read_text())) == 160
    config = json.loads((out / "config.json").read_text())
    assert config["params"]["seed"] == 0 and config["params"]["epochs"] == 5
    assert config["softtopic_version"] == softtopic.__version__
    model = softtopic.load(out / "model")
    np.testing.assert_array_equal(model.theta_, theta)


def test_fit_csv_with_columns_and_param(corpus_files, tmp_path, capsys):
    out = tmp_path / "z"
    rc = main(["fit", str(corpus_files / "c.csv"), "--text-column", "body", "--label-column",
               "tag", "--model", "zeroshot", "--k", "4", "--out", str(out), "--epochs", "2",
               "--param", "hidden_sizes=[50, 50]", "--param", "n_topics=3", "--quiet"])
    assert rc == 0
    config = json.loads((out / "config.json").read_text())
    assert config["params"]["hidden_sizes"] == [50, 50] and config["model"] == "zeroshot"
    # --param wins over --k, and the summary line says the K that was fitted
    assert config["params"]["n_topics"] == 3
    assert "fitted zeroshot (K=3)" in capsys.readouterr().out


def test_cli_errors_are_one_clear_line(corpus_files, tmp_path, capsys):
    assert main(["fit", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x")]) == 2
    assert "missing.jsonl: file or folder does not exist" in capsys.readouterr().err
    assert main(["fit", str(corpus_files / "c.jsonl"), "--model", "nope", "--out",
                 str(tmp_path / "x")]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["fit", str(corpus_files / "c.csv"), "--out", str(tmp_path / "x")]) == 2
    assert "no column named 'text'" in capsys.readouterr().err


def test_unknown_model_parameter_is_named_with_the_valid_ones(corpus_files, tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["fit", str(corpus_files / "c.jsonl"), "--model", "prodlda", "--k", "4",
                 "--out", str(out), "--param", "nonsense=1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "softtopic fit: error: model 'prodlda' has no parameter 'nonsense'" in err
    assert "valid parameters:" in err and "epochs" in err and "n_topics" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_build_model_checks_parameters_and_sets_progress():
    from softtopic.models.build import build_model
    model = build_model("prodlda", {"n_topics": 3, "epochs": 1}, progress=False)
    assert (model.n_topics, model.epochs, model.progress) == (3, 1, False)
    # an explicit parameter wins over the progress default
    assert build_model("prodlda", {"progress": True}, progress=False).progress is True
    # unknown parameters are all named, with the valid ones
    with pytest.raises(ValueError, match=r"has no parameters 'a', 'b'; valid parameters: .*seed"):
        build_model("lda", {"a": 1, "b": 2})
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        build_model("nope", {})


@pytest.fixture
def tiny_sample(corpus_files, monkeypatch):
    """The demo on the 160-document planted corpus instead of the 2,400-document sample."""
    from softtopic.commands import demo
    monkeypatch.setattr(demo, "sample_corpus_path", lambda: corpus_files / "c.jsonl")
    return demo


def test_demo_runs_the_soft_label_model_with_the_encoder_teacher(tiny_sample, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "model softlabel-encoder" in printed and "'max_seq_length': 64" in printed
    assert "teacher: offline encoder approximation (not an LM)" in printed
    assert "topic labels: 0 " in printed and "top words" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "softlabel-encoder" and config["params"]["teacher"] == "encoder"
    assert config["params"]["epochs"] == 2 and config["params"]["n_topics"] == 20


def test_demo_takes_any_registered_model(tiny_sample, tmp_path, capsys):
    out = tmp_path / "lda"
    # LDA has no `epochs` nor `max_seq_length`: the demo's settings it lacks are dropped
    assert main(["demo", "--model", "lda", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "model lda, settings {'n_topics': 20, 'seed': 0}" in printed
    assert "teacher:" not in printed and "word pieces" not in printed
    assert json.loads((out / "config.json").read_text())["model"] == "lda"
    assert main(["demo", "--model", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
