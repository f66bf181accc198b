"""The HTML report and the CLI around exploring a run (search, label, report), end to end on a
run folder; the report is loaded in a real headless browser."""
import json
import time

import numpy as np
import pytest

from browser import headless_chromium
from planted import planted_corpus
from softtopic.cli import main

PLOTS = ["topic_map", "topic_similarity", "document_map", "topics_over_time"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore")
    texts, _, dominant = planted_corpus(n_topics=5, n_docs=300, seed=3)
    with open(root / "corpus.jsonl", "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"d{i}", "text": t, "label": str(dominant[i]),
                                "date": f"2021-{1 + i % 12:02d}-15"}) + "\n")
    assert main(["fit", str(root / "corpus.jsonl"), "--model", "prodlda", "--k", "5",
                 "--epochs", "30", "--seed", "0", "--out", str(root / "run"), "--quiet",
                 "--time-column", "date"]) == 0
    return root / "run", texts


def test_search_cli_prints_the_nearest_documents(run_dir, capsys):
    run, texts = run_dir
    capsys.readouterr()
    assert main(["search", str(run), "--doc", "d4", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["rank", "id", "distance"] and len(lines) == 4
    from softtopic import load
    model = load(run / "model")
    expected = model.search(doc="d4", k=3)
    assert [line.split()[1] for line in lines[1:]] == list(expected.id)
    assert texts[int(expected.row[0])].split()[0] in lines[1]
    assert main(["search", str(run), "-k", "3"]) == 2
    assert "pass a query text or --doc ID" in capsys.readouterr().err
    assert main(["search", str(run), "--doc", "nope"]) == 2
    assert "no training document has id 'nope'" in capsys.readouterr().err


def test_search_refuses_a_corpus_that_changed(run_dir, tmp_path, capsys):
    run, texts = run_dir
    changed = tmp_path / "changed.jsonl"
    with open(changed, "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"d{i}", "text": t if i != 5 else "other"}) + "\n")
    assert main(["search", str(run), "--doc", "d1", "--corpus", str(changed)]) == 2
    assert "has changed since" in capsys.readouterr().err


def test_label_by_hand_writes_topics_json_and_model(run_dir, capsys):
    run, _ = run_dir
    assert main(["label", str(run), "--set", "2=space stuff"]) == 0
    topics = json.loads((run / "topics.json").read_text())
    assert topics["topics"][2]["label"] == "space stuff"
    from softtopic import load
    assert load(run / "model").topic_labels()[2] == "space stuff"
    assert main(["label", str(run), "--set", "two=x"]) == 2
    assert "--set expects K=NAME" in capsys.readouterr().err


def test_report_renders_in_a_real_browser(run_dir, tmp_path):
    run, _ = run_dir
    out = tmp_path / "report.html"
    assert main(["report", str(run), "--out", str(out), "--png", str(tmp_path / "png"),
                 "--projection", "pca"]) == 0
    html = out.read_text()
    assert "space stuff" in html                       # the hand-made label is shown
    for name in PLOTS:
        png = tmp_path / "png" / f"{name}.png"
        assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"
    driver = headless_chromium()
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        driver.get(out.as_uri())
        deadline = time.time() + 60
        drawn = {}
        while time.time() < deadline:
            drawn = driver.execute_script("""
                const out = {};
                for (const div of document.querySelectorAll('.plotly-graph-div')) {
                  out[div.id] = {svg: div.querySelectorAll('.main-svg').length,
                                 points: div.querySelectorAll('.point').length,
                                 heatmap: div.querySelectorAll('.hm image, .heatmaplayer image').length,
                                 lines: div.querySelectorAll('.scatterlayer .js-line').length,
                                 data: (div.data || []).length};
                }
                return out;""")
            if len(drawn) == len(PLOTS) and all(v["svg"] for v in drawn.values()):
                break
            time.sleep(0.5)
        assert sorted(drawn) == sorted(f"plot-{p}" for p in PLOTS)
        assert drawn["plot-topic_map"]["points"] == 5
        assert drawn["plot-document_map"]["points"] == 300
        assert drawn["plot-topic_similarity"]["heatmap"] >= 1
        assert drawn["plot-topics_over_time"]["lines"] >= 1
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert [u for u in fetched if not u.startswith(("file:", "data:", "blob:"))] == []
        rows = driver.execute_script("return document.querySelectorAll('table.topics tbody tr')"
                                     ".length")
        assert rows == 5
        driver.save_screenshot(str(tmp_path / "report.png"))
        assert (tmp_path / "report.png").stat().st_size > 10000
    finally:
        driver.quit()


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a complete run" in capsys.readouterr().err
