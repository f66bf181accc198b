"""LLM rating of topics (Stammbach et al. 2023, as in the paper's code): each topic's top words
are sent to a chat model that answers 1, 2 or 3; the score is the mean over topics.

Request: POST {base_url}/chat/completions (any OpenAI-compatible server) with the system
prompt below, the words joined by ", " as the user message, temperature 0 and max_tokens 1.
API key: SOFTTOPIC_LLM_API_KEY, else OPENAI_API_KEY, else none (local servers).
Failures: HTTP 429/5xx, timeouts and refused connections are retried with exponential
back-off; a reply that is not 1, 2 or 3 is retried with the temperature raised by 0.1 (as
the paper's code does); after `max_attempts` the rating fails with an error that shows the last
reply or status. Other HTTP errors (401, 404, ...) fail at once. Ratings are cached on disk by
(model, system prompt, words), so re-evaluating a run costs no requests.
Only the standard library is used (urllib, threads).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..files import write_json_atomic
from .topics import prepare_topics

# The paper's template (raymondzmc/dsl-topic-models, prompts/templates/topic_ratings_system.jinja)
# has a blank line before "Reply".
SYSTEM_PROMPT = (
    'You are a helpful assistant evaluating the top words of a topic model output for a given '
    'topic. Please rate how related the following words are to each other on a scale from 1 to '
    '3 ("1" = not very related, "2" = moderately related, "3" = very related).\n\nReply with a '
    'single number, indicating the overall appropriateness of the topic.')
API_KEY_VARIABLES = ("SOFTTOPIC_LLM_API_KEY", "OPENAI_API_KEY")
_RATING = re.compile(r'\s*["\']?([123])["\']?\s*\.?\s*')
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class LLMRatingError(RuntimeError):
    """The endpoint could not be used or kept answering something that is not a rating."""


def parse_rating(reply: str) -> int | None:
    """1, 2 or 3 when the reply is just that number (quotes, a period, spaces allowed)."""
    m = _RATING.fullmatch(reply or "")
    return int(m.group(1)) if m else None


def chat_url(base_url: str) -> str:
    """The chat-completions URL from a base URL such as http://host:8000/v1 (a URL that already
    ends in /chat/completions is used as is)."""
    if not base_url or not re.match(r"https?://", base_url):
        raise LLMRatingError(f"the LLM endpoint must be an http(s) URL such as "
                             f"https://api.openai.com/v1, got {base_url!r}")
    base = base_url.rstrip("/")
    return base if base.endswith("/chat/completions") else base + "/chat/completions"


@dataclass
class LLMRater:
    base_url: str
    model: str
    api_key: str | None = None
    max_workers: int = 5
    timeout: float = 60.0
    max_attempts: int = 6
    backoff: float = 1.0          # seconds before the first retry; doubles each time
    max_tokens: int | None = 1
    system_prompt: str = SYSTEM_PROMPT
    cache_dir: str | Path | None = None
    use_cache: bool = True
    requests_made: int = field(default=0, init=False)

    def __post_init__(self):
        self.url = chat_url(self.base_url)
        if not self.model:
            raise LLMRatingError("no LLM model named (--llm-model)")
        if self.api_key is None:
            self.api_key = next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)),
                                None)
        if self.cache_dir is None:
            from ..views.cache import default_cache_dir
            self.cache_dir = default_cache_dir()
        self.cache_dir = Path(self.cache_dir) / "llm_ratings"

    # ----------------------------------------------------------------------- cache

    def _cache_path(self, words: Sequence[str]) -> Path:
        key = json.dumps({"model": self.model, "system": self.system_prompt,
                          "words": list(words)}, ensure_ascii=False)
        return self.cache_dir / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")

    def _cached(self, words) -> int | None:
        path = self._cache_path(words)
        if self.use_cache and path.exists():
            try:
                return int(json.loads(path.read_text())["rating"])
            except (ValueError, KeyError, json.JSONDecodeError):
                return None
        return None

    def _store(self, words, rating: int, reply: str):
        if not self.use_cache:
            return
        path = self._cache_path(words)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"model": self.model, "words": list(words), "rating": rating,
                                 "reply": reply, "endpoint": self.url,
                                 "rated_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=None)

    # ----------------------------------------------------------------------- requests

    def _post(self, payload: dict) -> str:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(payload).encode(),
                                         headers=headers, method="POST")
        self.requests_made += 1
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            body = response.read().decode("utf-8", "replace")
        try:
            return json.loads(body)["choices"][0]["message"]["content"] or ""
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise _BadReply(f"not a chat-completions response: {body[:200]!r}") from None

    def rate(self, words: Sequence[str]) -> int:
        """The rating of one topic (from the cache when there)."""
        cached = self._cached(words)
        if cached is not None:
            return cached
        temperature, last = 0.0, ""
        for attempt in range(self.max_attempts):
            payload = {"model": self.model, "temperature": temperature, "messages": [
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": ", ".join(words)}]}
            if self.max_tokens is not None:
                payload["max_tokens"] = self.max_tokens
            try:
                reply = self._post(payload)
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:200]
                if e.code not in _RETRY_STATUS:
                    raise LLMRatingError(f"{self.url} answered HTTP {e.code}: {detail}") from None
                last = f"HTTP {e.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError,
                    _BadReply) as e:
                last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            else:
                rating = parse_rating(reply)
                if rating is not None:
                    self._store(words, rating, reply)
                    return rating
                last = f"reply {reply[:100]!r} is not 1, 2 or 3"
                temperature = round(temperature + 0.1, 1)
                continue  # a new temperature, no need to wait
            if attempt + 1 < self.max_attempts:
                time.sleep(self.backoff * 2 ** attempt)
        raise LLMRatingError(f"no rating from {self.url} (model {self.model!r}) for topic "
                             f"{', '.join(words)[:80]!r} after {self.max_attempts} attempts; "
                             f"last: {last}")

    def rate_topics(self, topics: Sequence[Sequence[str]]) -> list[int]:
        """Ratings of all topics, at most `max_workers` requests at a time, in topic order."""
        with ThreadPoolExecutor(max_workers=max(1, self.max_workers)) as pool:
            return list(pool.map(self.rate, topics))


class _BadReply(Exception):
    pass


def llm_rating(topics: Sequence[Sequence[str]], base_url: str | None, model: str | None,
               top_n: int = 15, **options) -> dict:
    """Rate every topic's top-n words; returns {'score', 'per_topic', 'provenance'}."""
    if not base_url or not model:
        raise LLMRatingError("the LLM rating needs an endpoint and a model: pass --llm-endpoint "
                             "URL (an OpenAI-compatible base URL such as "
                             "https://api.openai.com/v1) and --llm-model NAME")
    topics = prepare_topics(topics, top_n)
    rater = LLMRater(base_url, model, **options)
    ratings = rater.rate_topics(topics)
    return {"score": sum(ratings) / len(ratings), "per_topic": ratings,
            "provenance": {"definition": "LLM rating (Stammbach et al. 2023): mean over topics "
                           "of a 1-3 rating of the top words", "model": model,
                           "endpoint": rater.url, "temperature": 0.0,
                           "max_tokens": rater.max_tokens, "system_prompt": rater.system_prompt,
                           "user_message": "top words joined by ', '", "top_n": top_n,
                           "requests_made": rater.requests_made,
                           "cache": str(rater.cache_dir) if rater.use_cache else None,
                           "implementation": "softtopic.evaluation.llm_rating",
                           "softtopic_version": __version__,
                           "rated_at": time.strftime("%Y-%m-%dT%H:%M:%S")}}
