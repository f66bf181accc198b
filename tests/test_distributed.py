"""Views computed on Ray (softtopic.views.engines.RayEngine) against the local engine: a local
Ray cluster started by the test, the tiny random Llama and the bundled sentence encoder.

What a user relies on: a Ray-computed view is the local view (same rows, same order, same
cache), an interrupted Ray run resumes from its finished chunks, an actor that dies mid-batch
is retried without losing or duplicating rows, and without Ray `--engine ray` says what to
install.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from softtopic.cli import main
from softtopic.views.engines import (ChunkAssembler, LocalEngine, RayEngine, make_engine,
                                     use_engine)
from softtopic.views.lm import LanguageModelView
from softtopic.views.sentence import SentenceEmbeddings

sys.path.insert(0, str(Path(__file__).parent))
from tiny_lm import make_tiny_lm, topic_texts  # noqa: E402

ray = pytest.importorskip("ray", reason="Ray Data is the optional extra softtopic[distributed]")
pytest.importorskip("ray.data")

TEXTS = topic_texts(70, seed=3)
SHORT_TEXTS = topic_texts(40, seed=5, min_words=3, max_words=8)  # for the sentence encoder
VOCAB = "orbit rocket launch game team player computer software god church faith".split()


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    # the test's wrappers below are defined in this module, which Ray's workers cannot import:
    # ship them by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def lm_path(tmp_path_factory):
    return str(make_tiny_lm(tmp_path_factory.mktemp("lm"), TEXTS))


@pytest.fixture(scope="module")
def local_view(lm_path, tmp_path_factory):
    view = LanguageModelView(lm_path, cache_dir=tmp_path_factory.mktemp("local"), chunk_size=16,
                             progress=False)
    return view(TEXTS, VOCAB)


def assert_same_view(a: dict, b: dict):
    assert set(a) == set(b)
    for name in a:
        np.testing.assert_allclose(a[name].astype(np.float64), b[name].astype(np.float64),
                                   rtol=1e-5, atol=1e-5, err_msg=name)


def lm_view(lm_path, cache, engine, **kwargs):
    return LanguageModelView(lm_path, cache_dir=cache, chunk_size=16, progress=False,
                             engine=engine, **kwargs)


def test_ray_lm_view_equals_local_and_is_read_locally(lm_path, local_view, tmp_path):
    view = lm_view(lm_path, tmp_path, RayEngine(workers=2))
    result = view(TEXTS, VOCAB)
    assert_same_view(local_view, result)
    assert view.report_["engine"]["workers"] == 2 and not view.report_["from_cache"]
    assert view.report_["timings"]["computed_documents"] == len(TEXTS)
    # the workers' token counts reach the report: the same tokens and padding as a local run
    local_run = lm_view(lm_path, tmp_path / "again", LocalEngine())
    local_run(TEXTS, VOCAB)
    for key in ("tokens_per_second", "padding_share"):
        assert view.report_["timings"][key] is not None
    ray_tokens = view.report_["timings"]["tokens_per_second"] * \
        view.report_["timings"]["forward_seconds"]
    local_tokens = local_run.report_["timings"]["tokens_per_second"] * \
        local_run.report_["timings"]["forward_seconds"]
    assert round(ray_tokens) == round(local_tokens)
    assert view.report_["timings"]["padding_share"] == pytest.approx(
        local_run.report_["timings"]["padding_share"], abs=0.05)
    # the same cache, read by the local engine without computing anything
    again = lm_view(lm_path, tmp_path, LocalEngine())
    assert_same_view(result, again(TEXTS, VOCAB))
    assert again.report_["from_cache"] and again.model_ is None  # the model was never loaded


def test_ray_top_k_view_equals_the_local_top_k_view(lm_path, tmp_path):
    local = lm_view(lm_path, tmp_path / "local", LocalEngine(), store_top_k=4)(TEXTS, VOCAB)
    on_ray = lm_view(lm_path, tmp_path / "ray", RayEngine(workers=1), store_top_k=4)(TEXTS, VOCAB)
    assert "logits" not in on_ray and on_ray["topk_indices"].shape == (len(TEXTS), 4)
    np.testing.assert_array_equal(local["topk_indices"], on_ray["topk_indices"])
    for name in ("topk_values", "hidden"):
        np.testing.assert_allclose(local[name], on_ray[name], rtol=1e-5, atol=1e-5)


class StopAfter:
    """An engine that passes `n` batches of another engine's output, then is interrupted."""

    def __init__(self, engine, n: int):
        self.engine, self.n = engine, n

    def map_batches(self, worker, columns, batch_rows):
        for i, batch in enumerate(self.engine.map_batches(worker, columns, batch_rows)):
            if i == self.n:
                raise KeyboardInterrupt
            yield batch

    def worker_device(self):
        return self.engine.worker_device()

    def describe(self):
        return {"engine": "stop-after"}


def test_interrupted_ray_run_resumes_from_finished_chunks(lm_path, local_view, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        lm_view(lm_path, tmp_path, StopAfter(RayEngine(workers=1), 2))(TEXTS, VOCAB)
    folder = next((tmp_path / "lm").iterdir())
    done = sorted(p.name for p in (folder / "chunks").glob("*.done"))
    assert len(done) == 2 and not (folder / "complete.json").exists()
    view = lm_view(lm_path, tmp_path, RayEngine(workers=2))
    assert_same_view(local_view, view(TEXTS, VOCAB))
    # only the chunks the first run had not finished were computed again
    assert view.report_["timings"]["computed_documents"] == len(TEXTS) - 2 * 16
    assert json.loads((folder / "timing.json").read_text())["rows_computed"] == len(TEXTS) - 32


class DieOnce:
    """Wraps a worker: the first batch any process starts kills that process (SIGKILL, as an
    out-of-memory kill or a lost node would), once per marker file."""

    def __init__(self, inner, marker: str):
        self.inner, self.marker = inner, marker

    def build(self):
        fn = self.inner.build()

        def run(batch):
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return fn(batch)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
        return run


class KillingRayEngine(RayEngine):
    def __init__(self, marker: str, **kwargs):
        super().__init__(**kwargs)
        self.marker = marker

    def map_batches(self, worker, columns, batch_rows):
        return super().map_batches(DieOnce(worker, self.marker), columns, batch_rows)


def test_killed_actor_is_retried_without_losing_or_duplicating_rows(lm_path, local_view,
                                                                    tmp_path):
    marker = tmp_path / "killed.pid"
    view = lm_view(lm_path, tmp_path / "cache", KillingRayEngine(str(marker), workers=2))
    result = view(TEXTS, VOCAB)
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # an actor really died
    assert_same_view(local_view, result)
    assert view.report_["timings"]["computed_documents"] == len(TEXTS)


def test_ray_sentence_embeddings_equal_local_bit_for_bit_and_share_the_cache(tmp_path):
    texts = SHORT_TEXTS + SHORT_TEXTS[:5]  # repeated texts are embedded once
    # batch_size 4: every text runs in a batch of 4 rows of its own length (see
    # fixed_shape_batches), so filler rows stay few
    local = SentenceEmbeddings(cache_dir=tmp_path / "local", batch_size=4, progress=False)(texts)
    view = SentenceEmbeddings(cache_dir=tmp_path / "ray", batch_size=4, progress=False,
                              engine=RayEngine(workers=1))
    view.chunk_size = 16  # several shards, so several actor batches
    on_ray = view(texts)
    np.testing.assert_array_equal(local, on_ray)
    timing = json.loads((view.cache_folder() / "timing.json").read_text())
    assert timing["rows_computed"] == len(set(SHORT_TEXTS))
    # a local run reads every row from the shards the Ray run wrote
    reread = SentenceEmbeddings(cache_dir=tmp_path / "ray", batch_size=4, progress=False)
    np.testing.assert_array_equal(reread(texts), local)
    assert json.loads((view.cache_folder() / "timing.json").read_text()) == timing


def test_fit_with_engine_ray_gives_the_local_model(tmp_path, monkeypatch):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in SHORT_TEXTS))
    common = [str(corpus), "--model", "zeroshot", "--k", "4", "--epochs", "3", "--seed", "1",
              "--min-df", "1", "--quiet"]
    monkeypatch.setenv("SOFTTOPIC_CACHE", str(tmp_path / "cache-ray"))
    assert main(["fit", *common, "--out", str(tmp_path / "ray"), "--engine", "ray"]) == 0
    monkeypatch.setenv("SOFTTOPIC_CACHE", str(tmp_path / "cache-local"))
    assert main(["fit", *common, "--out", str(tmp_path / "local")]) == 0
    theta = [np.load(tmp_path / r / "theta.npy") for r in ("ray", "local")]
    np.testing.assert_array_equal(*theta)
    topics = [json.loads((tmp_path / r / "topics.json").read_text()) for r in ("ray", "local")]
    assert topics[0] == topics[1]


def test_soft_labels_command_on_ray_writes_the_local_folder(lm_path, tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TEXTS))
    common = ["soft-labels", str(corpus), "--lm", lm_path, "--vocab-size", "30", "--quiet"]
    assert main([*common, "--out", str(tmp_path / "ray"), "--cache-dir", str(tmp_path / "c1"),
                 "--engine", "ray", "--workers", "2"]) == 0
    assert main([*common, "--out", str(tmp_path / "local"),
                 "--cache-dir", str(tmp_path / "c2")]) == 0
    for name in ("logits.npy", "hidden.npy"):
        np.testing.assert_allclose(np.load(tmp_path / "ray" / name),
                                   np.load(tmp_path / "local" / name), rtol=1e-5, atol=1e-5)
    report = json.loads((tmp_path / "ray" / "report.json").read_text())
    assert report["engine"] == {"engine": "ray", "address": None, "workers": 2,
                                "gpus_per_worker": 0.0, "cpus_per_worker": 1.0}


def test_bench_engine_ray_runs_the_grid_views_on_the_cluster(tmp_path):
    import yaml
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "label": str(i % 4)}) + "\n"
                              for i, t in enumerate(SHORT_TEXTS)))
    config = tmp_path / "grid.yaml"
    config.write_text(yaml.safe_dump({
        "name": "ray", "datasets": {"toy": {"path": str(corpus)}}, "models": ["zeroshot"],
        "k": [3], "seeds": [0], "params": {"epochs": 2, "min_df": 1, "batch_size": 8},
        "evaluation": {"metrics": ["td", "purity"], "reference": "corpus", "top_n": 5}}))
    address = ray.get_runtime_context().gcs_address  # the runs' processes join this cluster
    assert main(["bench", str(config), "--out", str(tmp_path / "ray"), "--cache",
                 str(tmp_path / "cache-ray"), "--engine", "ray", "--address", address]) == 0
    log = (tmp_path / "ray/toy/zeroshot/k3/seed0/log.txt").read_text()
    assert "softtopic: views on Ray (1 worker of 1 CPU" in log  # the run's embeddings went to Ray
    assert main(["bench", str(config), "--out", str(tmp_path / "local"), "--cache",
                 str(tmp_path / "cache-local")]) == 0
    run = "toy/zeroshot/k3/seed0/theta.npy"
    np.testing.assert_array_equal(np.load(tmp_path / "ray" / run), np.load(tmp_path / "local" / run))


def test_a_loaded_model_object_cannot_go_to_ray(lm_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    view = LanguageModelView(AutoModelForCausalLM.from_pretrained(lm_path),
                             tokenizer=AutoTokenizer.from_pretrained(lm_path), cache_dir=False,
                             progress=False)
    with pytest.raises(ValueError, match="Hugging Face id or local folder"):
        view.worker(VOCAB)


def test_use_engine_sets_the_default_for_views_inside_it(lm_path):
    engine = RayEngine(workers=1)
    with use_engine(engine):
        assert LanguageModelView(lm_path)._compute_device().type == "cpu"
        gpu = RayEngine(gpus_per_worker=1)
        # workers that ask for GPUs compute (and key the cache) in bfloat16 even when this
        # process has no GPU
        assert LanguageModelView(lm_path, engine=gpu)._dtype_name() == "bfloat16"


def test_assembler_refuses_a_row_returned_twice():
    assembler = ChunkAssembler(n_rows=6, chunk_size=4, chunks=[0, 1])
    out = list(assembler.add({"row": np.array([4, 5]), "x": np.array([40, 50])}))
    assert [i for i, _ in out] == [1] and out[0][1]["x"].tolist() == [40, 50]
    assert list(assembler.add({"row": np.array([2, 0]), "x": np.array([20, 0])})) == []
    with pytest.raises(RuntimeError, match="row 2 twice"):
        list(assembler.add({"row": np.array([2]), "x": np.array([20])}))
    (i, arrays), = assembler.add({"row": np.array([1, 3]), "x": np.array([10, 30])})
    assert i == 0 and arrays["x"].tolist() == [0, 10, 20, 30]


def test_without_ray_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ValueError, match=r"pip install 'softtopic\[distributed\]'"):
        make_engine("ray")


def test_ray_options_without_engine_ray_are_refused(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TEXTS))
    assert main(["embed", str(corpus), "--workers", "3"]) == 2
    assert "--workers only apply with --engine ray" in capsys.readouterr().err
