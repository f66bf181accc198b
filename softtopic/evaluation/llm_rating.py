"""LLM rating of topics (Stammbach et al. 2023, as in the paper's code): each topic's top words
are sent to a chat model that answers 1, 2 or 3; the score is the mean over topics.

The words are joined by ", " as the user message, with the system prompt below, temperature 0
and max_tokens 1, through softtopic.llm.ChatClient (any OpenAI-compatible server; retries,
back-off, concurrency and the on-disk cache are described there). A reply that is not 1, 2 or 3
is retried with the temperature raised by 0.1, as the paper's code does. Ratings are cached by
(model, system prompt, words), so re-evaluating a run costs no requests.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Sequence

from .. import __version__
from ..llm import ChatClient, LLMError, chat_url  # noqa: F401  (chat_url: part of this API)
from .topics import prepare_topics

# The paper's template (raymondzmc/dsl-topic-models, prompts/templates/topic_ratings_system.jinja)
# has a blank line before "Reply".
SYSTEM_PROMPT = (
    'You are a helpful assistant evaluating the top words of a topic model output for a given '
    'topic. Please rate how related the following words are to each other on a scale from 1 to '
    '3 ("1" = not very related, "2" = moderately related, "3" = very related).\n\nReply with a '
    'single number, indicating the overall appropriateness of the topic.')
_RATING = re.compile(r'\s*["\']?([123])["\']?\s*\.?\s*')

LLMRatingError = LLMError


def parse_rating(reply: str) -> int | None:
    """1, 2 or 3 when the reply is just that number (quotes, a period, spaces allowed)."""
    m = _RATING.fullmatch(reply or "")
    return int(m.group(1)) if m else None


@dataclass
class LLMRater(ChatClient):
    """Rates topics' top words 1-3."""
    system_prompt: str = SYSTEM_PROMPT
    task: str = "llm_ratings"
    max_tokens: int | None = 1

    def rate(self, words: Sequence[str]) -> int:
        """The rating of one topic (from the cache when there)."""
        return self.ask(", ".join(words), parse_rating, f"topic {', '.join(words)[:80]!r}",
                        {"words": list(words)}, "1, 2 or 3")

    def rate_topics(self, topics: Sequence[Sequence[str]]) -> list[int]:
        """Ratings of all topics, at most `max_workers` requests at a time, in topic order."""
        return self.ask_all([lambda t=t: self.rate(t) for t in topics])


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
