"""A client for OpenAI-compatible chat endpoints, shared by the LLM rating of topics
(evaluation) and LLM topic labels (explore).

Request: POST {base_url}/chat/completions with a system prompt, one user message, a temperature
and optionally max_tokens. API key: SOFTTOPIC_LLM_API_KEY, else OPENAI_API_KEY, else none (local
servers). HTTP 429/5xx, timeouts and refused connections are retried with exponential back-off;
a reply the caller's `parse` rejects (returns None) is retried with the temperature raised by
0.1; after `max_attempts` the question fails with an error that shows the last reply or status.
Other HTTP errors (401, 404, ...) fail at once. Answers are cached on disk by (task, model,
system prompt, message), so asking again costs no requests. Only the standard library is used.
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
from typing import Callable, Sequence

from .files import write_json_atomic

API_KEY_VARIABLES = ("SOFTTOPIC_LLM_API_KEY", "OPENAI_API_KEY")
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class LLMError(RuntimeError):
    """The endpoint could not be used or kept answering something the caller cannot use."""


def chat_url(base_url: str) -> str:
    """The chat-completions URL from a base URL such as http://host:8000/v1 (a URL that already
    ends in /chat/completions is used as is)."""
    if not base_url or not re.match(r"https?://", base_url):
        raise LLMError(f"the LLM endpoint must be an http(s) URL such as "
                       f"https://api.openai.com/v1, got {base_url!r}")
    base = base_url.rstrip("/")
    return base if base.endswith("/chat/completions") else base + "/chat/completions"


@dataclass
class ChatClient:
    """Asks one system prompt many questions, `max_workers` at a time, with retries and a cache.
    `task` names the cache folder (answers of different tasks never mix)."""
    base_url: str
    model: str
    system_prompt: str
    task: str
    api_key: str | None = None
    max_workers: int = 5
    timeout: float = 60.0
    max_attempts: int = 6
    backoff: float = 1.0          # seconds before the first retry; doubles each time
    max_tokens: int | None = None
    cache_dir: str | Path | None = None
    use_cache: bool = True
    requests_made: int = field(default=0, init=False)

    def __post_init__(self):
        self.url = chat_url(self.base_url)
        if not self.model:
            raise LLMError("no LLM model named (--llm-model)")
        if self.api_key is None:
            self.api_key = next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)),
                                None)
        if self.cache_dir is None:
            from .views.cache import default_cache_dir
            self.cache_dir = default_cache_dir()
        self.cache_dir = Path(self.cache_dir) / self.task

    # ----------------------------------------------------------------------- cache

    def _cache_path(self, key: dict) -> Path:
        text = json.dumps({"model": self.model, "system": self.system_prompt, **key},
                          ensure_ascii=False)
        return self.cache_dir / (hashlib.sha256(text.encode()).hexdigest()[:32] + ".json")

    def _cached(self, key: dict, parse: Callable):
        path = self._cache_path(key)
        if self.use_cache and path.exists():
            try:
                return parse(json.loads(path.read_text())["reply"])
            except (KeyError, TypeError, json.JSONDecodeError):
                return None
        return None

    def _store(self, key: dict, reply: str):
        if self.use_cache:
            path = self._cache_path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, {"model": self.model, **key, "reply": reply,
                                     "endpoint": self.url,
                                     "answered_at": time.strftime("%Y-%m-%dT%H:%M:%S")},
                              indent=None)

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

    def ask(self, message: str, parse: Callable[[str], object], what: str, key: dict,
            expected: str):
        """parse(reply) of the first usable reply to `message` (from the cache when there).
        `what` names the question in errors, `expected` says what a usable reply is, `key`
        identifies the question in the cache."""
        cached = self._cached(key, parse)
        if cached is not None:
            return cached
        temperature, last = 0.0, ""
        for attempt in range(self.max_attempts):
            payload = {"model": self.model, "temperature": temperature, "messages": [
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": message}]}
            if self.max_tokens is not None:
                payload["max_tokens"] = self.max_tokens
            try:
                reply = self._post(payload)
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:200]
                if e.code not in _RETRY_STATUS:
                    raise LLMError(f"{self.url} answered HTTP {e.code}: {detail}") from None
                last = f"HTTP {e.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError,
                    _BadReply) as e:
                last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            else:
                value = parse(reply)
                if value is not None:
                    self._store(key, reply)
                    return value
                last = f"reply {reply[:100]!r} is not {expected}"
                temperature = round(temperature + 0.1, 1)
                continue  # a new temperature, no need to wait
            if attempt + 1 < self.max_attempts:
                time.sleep(self.backoff * 2 ** attempt)
        raise LLMError(f"no usable answer from {self.url} (model {self.model!r}) for {what} "
                       f"after {self.max_attempts} attempts; last: {last}")

    def ask_all(self, questions: Sequence[Callable[[], object]]) -> list:
        """Run the given zero-argument questions, `max_workers` at a time, in order."""
        with ThreadPoolExecutor(max_workers=max(1, self.max_workers)) as pool:
            return list(pool.map(lambda q: q(), questions))


class _BadReply(Exception):
    pass
