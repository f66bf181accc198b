"""LLM topic labels against small OpenAI-compatible servers on localhost: one that answers,
one that fails, one that answers nonsense; and the `softtopic label` command."""
import json

import pytest

from llm_server import serve  # noqa: F401  (a fixture)
from planted import planted_corpus
from softtopic import ProdLDA, load
from softtopic.cli import main
from softtopic.corpus import Corpus
from softtopic.explore import parse_label
from softtopic.llm import LLMError


@pytest.fixture(scope="module")
def model_and_texts():
    texts, _, _ = planted_corpus(n_topics=3, n_docs=150, seed=4)
    model = ProdLDA(n_topics=3, epochs=20, seed=0, progress=False)
    model.fit(Corpus(texts, ids=[f"t{i}" for i in range(len(texts))]))
    return model, texts


def naming_server(server, payload):
    message = payload["messages"][1]["content"]
    first_word = message.split("Top words: ")[1].split(",")[0]
    return 200, f'"Label: Topic of {first_word}."'


def test_labels_from_a_server_that_answers(serve, model_and_texts, tmp_path):
    model, texts = model_and_texts
    server = serve(naming_server)
    labels = model.generate_topic_labels(server.url, "namer", n_words=4, n_docs=2,
                                         cache_dir=tmp_path)
    tops = [t[0] for t in model.get_topics(1)]
    assert labels == [f"Topic of {w}" for w in tops] and model.topic_labels() == labels
    message = server.payloads[0]["messages"][1]["content"]
    assert message.startswith("Top words: ") and message.count("\n- ") == 2
    assert message.endswith("Label:") and server.payloads[0]["model"] == "namer"
    # the representative documents were shown (first 300 characters of each)
    rep = model.get_representative_docs(n=2)
    shown = [m["messages"][1]["content"] for m in server.payloads]
    assert any(rep.text.iloc[0][:50] in m for m in shown)
    # cached: asking again costs no request
    model.generate_topic_labels(server.url, "namer", n_words=4, n_docs=2, cache_dir=tmp_path)
    assert len(server.payloads) == 3
    model.custom_labels_ = {}


def test_a_failing_server_gives_a_clear_error_and_no_labels(serve, model_and_texts, tmp_path):
    model, _ = model_and_texts
    server = serve(lambda s, p: (503, "overloaded"))
    with pytest.raises(LLMError, match=r"after 2 attempts; last: HTTP 503"):
        model.generate_topic_labels(server.url, "m", cache_dir=tmp_path, max_attempts=2,
                                    backoff=0.01)
    assert not model.custom_labels_


def test_nonsense_replies_are_retried_then_refused(serve, model_and_texts, tmp_path):
    model, _ = model_and_texts
    essay = "Well, these words could mean many things.\nPerhaps biology, or maybe history."
    server = serve(lambda s, p: (200, essay))
    with pytest.raises(LLMError, match="is not a label of 1 to 6 words"):
        model.generate_topic_labels(server.url, "m", cache_dir=tmp_path, max_attempts=3,
                                    max_workers=1)
    assert [p["temperature"] for p in server.payloads[:3]] == [0.0, 0.1, 0.2]


def test_parse_label():
    assert parse_label(' "Space exploration." ') == "Space exploration"
    assert parse_label("Topic label: **Car engines**") == "Car engines"
    assert parse_label("") is None and parse_label("...") is None
    assert parse_label("one two three four five six seven") is None
    assert parse_label("a\nb") is None


def test_label_command_writes_the_run(serve, tmp_path, capsys):
    texts, _, _ = planted_corpus(n_topics=3, n_docs=150, seed=4)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"x{i}", "text": t}) + "\n"
                              for i, t in enumerate(texts)))
    run = tmp_path / "run"
    assert main(["fit", str(corpus), "--model", "prodlda", "--k", "3", "--epochs", "20",
                 "--out", str(run), "--quiet"]) == 0
    server = serve(naming_server)
    assert main(["label", str(run), "--llm-endpoint", server.url, "--llm-model", "m",
                 "--cache-dir", str(tmp_path / "cache"), "--set", "1=by hand"]) == 0
    topics = json.loads((run / "topics.json").read_text())["topics"]
    assert topics[0]["label"].startswith("Topic of ") and topics[1]["label"] == "by hand"
    assert load(run / "model").topic_labels() == [t["label"] for t in topics]
    failing = serve(lambda s, p: (401, "bad key"))
    capsys.readouterr()
    assert main(["label", str(run), "--llm-endpoint", failing.url, "--llm-model", "m",
                 "--cache-dir", str(tmp_path / "cache2")]) == 2
    assert "HTTP 401" in capsys.readouterr().err
    assert json.loads((run / "topics.json").read_text())["topics"][1]["label"] == "by hand"
