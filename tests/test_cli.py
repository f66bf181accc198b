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


def test_fit_csv_with_columns_and_param(corpus_files, tmp_path):
    out = tmp_path / "z"
    rc = main(["fit", str(corpus_files / "c.csv"), "--text-column", "body", "--label-column",
               "tag", "--model", "zeroshot", "--k", "4", "--out", str(out), "--epochs", "2",
               "--param", "hidden_sizes=[50, 50]", "--quiet"])
    assert rc == 0
    config = json.loads((out / "config.json").read_text())
    assert config["params"]["hidden_sizes"] == [50, 50] and config["model"] == "zeroshot"


def test_cli_errors_are_one_clear_line(corpus_files, tmp_path, capsys):
    assert main(["fit", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x")]) == 2
    assert "missing.jsonl: file or folder does not exist" in capsys.readouterr().err
    assert main(["fit", str(corpus_files / "c.jsonl"), "--model", "nope", "--out",
                 str(tmp_path / "x")]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["fit", str(corpus_files / "c.csv"), "--out", str(tmp_path / "x")]) == 2
    assert "no column named 'text'" in capsys.readouterr().err
