"""LLM rating against small OpenAI-compatible servers started on localhost."""
import socket

import pytest

from llm_server import serve  # noqa: F401  (a fixture)
from softtopic.evaluation.llm_rating import (SYSTEM_PROMPT, LLMRater, LLMRatingError, chat_url,
                                             llm_rating, parse_rating)

TOPICS = [["apple", "banana", "cherry"], ["car", "engine", "wheel"], ["apple", "moon", "tax"]]


def fruit_rater(server, payload):
    words = payload["messages"][1]["content"]
    return 200, "3" if "apple, banana" in words else ("2" if "car" in words else "1")


def test_ratings_prompt_payload_and_cache(serve, tmp_path, monkeypatch):
    monkeypatch.setenv("SOFTTOPIC_LLM_API_KEY", "sk-test")
    server = serve(fruit_rater)
    result = llm_rating(TOPICS, server.url, "gpt-test", top_n=3, cache_dir=tmp_path)
    assert result["per_topic"] == [3, 2, 1]
    assert result["score"] == pytest.approx(2.0)
    first = sorted(server.payloads, key=lambda p: p["messages"][1]["content"])[0]
    assert first["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert first["messages"][1] == {"role": "user", "content": "apple, banana, cherry"}
    assert first["temperature"] == 0 and first["model"] == "gpt-test"
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    assert SYSTEM_PROMPT.startswith("You are a helpful assistant evaluating the top words")
    assert SYSTEM_PROMPT.endswith("indicating the overall appropriateness of the topic.")
    # cached by (model, words): no new requests; another model asks again
    again = llm_rating(TOPICS, server.url, "gpt-test", top_n=3, cache_dir=tmp_path)
    assert again["per_topic"] == [3, 2, 1] and len(server.payloads) == 3
    llm_rating(TOPICS, server.url, "other-model", top_n=3, cache_dir=tmp_path)
    assert len(server.payloads) == 6


def test_concurrency_is_bounded(serve, tmp_path):
    server = serve(fruit_rater, delay=0.1)
    topics = [[f"w{i}", "x", "y"] for i in range(8)]
    LLMRater(server.url, "m", max_workers=2, cache_dir=tmp_path).rate_topics(topics)
    assert server.max_in_flight == 2


def test_server_errors_are_retried_with_backoff(serve, tmp_path):
    def flaky(server, payload):
        return (500, "overloaded") if len(server.payloads) <= 2 else (200, "2")

    server = serve(flaky)
    rater = LLMRater(server.url, "m", backoff=0.01, cache_dir=tmp_path)
    assert rater.rate(["a", "b", "c"]) == 2
    assert len(server.payloads) == 3


def test_a_server_that_always_fails_gives_a_clear_error(serve, tmp_path):
    server = serve(lambda s, p: (503, "down"))
    rater = LLMRater(server.url, "m", backoff=0.01, max_attempts=3, cache_dir=tmp_path)
    with pytest.raises(LLMRatingError, match=r"after 3 attempts; last: HTTP 503"):
        rater.rate(["a", "b", "c"])
    assert len(server.payloads) == 3


def test_client_errors_fail_at_once(serve, tmp_path):
    server = serve(lambda s, p: (401, "bad key"))
    with pytest.raises(LLMRatingError, match="HTTP 401"):
        LLMRater(server.url, "m", cache_dir=tmp_path).rate(["a", "b", "c"])
    assert len(server.payloads) == 1


def test_nonsense_replies_raise_temperature_then_fail(serve, tmp_path):
    server = serve(lambda s, p: (200, "These words are fairly related."))
    rater = LLMRater(server.url, "m", max_attempts=4, cache_dir=tmp_path)
    with pytest.raises(LLMRatingError, match="is not 1, 2 or 3"):
        rater.rate(["a", "b", "c"])
    assert [p["temperature"] for p in server.payloads] == [0.0, 0.1, 0.2, 0.3]


def test_nonsense_then_a_number_is_accepted(serve, tmp_path):
    server = serve(lambda s, p: (200, "maybe") if len(s.payloads) == 1 else (200, " 3."))
    assert LLMRater(server.url, "m", cache_dir=tmp_path).rate(["a", "b", "c"]) == 3


def test_unreachable_and_missing_endpoints(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # closed once the block ends: connection refused
    rater = LLMRater(f"http://127.0.0.1:{port}/v1", "m", backoff=0.01, max_attempts=2,
                     cache_dir=tmp_path)
    with pytest.raises(LLMRatingError, match="after 2 attempts"):
        rater.rate(["a", "b", "c"])
    with pytest.raises(LLMRatingError, match="--llm-endpoint URL"):
        llm_rating(TOPICS, None, "m", top_n=3)
    with pytest.raises(LLMRatingError, match="http"):
        LLMRater("localhost:8000", "m", cache_dir=tmp_path)


def test_parse_rating_and_urls():
    assert [parse_rating(r) for r in ["1", " 2 ", '"3"', "3.", "2\n"]] == [1, 2, 3, 3, 2]
    assert [parse_rating(r) for r in ["4", "0", "12", "two", "", "3/3", "Rating: 3"]] == \
        [None] * 7
    assert chat_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert chat_url("http://h:1/v1/chat/completions") == "http://h:1/v1/chat/completions"
