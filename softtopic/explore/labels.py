"""Topic labels: a short name per topic, from an LLM (any OpenAI-compatible chat endpoint) or
by hand.

The LLM sees a topic's top words and, optionally, a few of its representative documents
(first 300 characters each), and answers with a label of at most MAX_WORDS words. A reply that
is empty, too long, several lines, or a refusal-like sentence is retried at a higher
temperature (softtopic.llm.ChatClient), so a label is always a short name or an error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..llm import ChatClient

MAX_WORDS = 6
SNIPPET_CHARS = 300
SYSTEM_PROMPT = (
    "You name the topics of a topic model. You are given a topic's most probable words and some "
    "documents that belong to it. Reply with a short label for the topic: 1 to "
    f"{MAX_WORDS} words, no explanation, no quotes, no punctuation at the end.")


_PREFIX = re.compile(r"^(topic\s*label|label|topic\s*name|name)\s*:\s*", re.I)


def _bare(text: str) -> str:
    """Without surrounding spaces, quotes, markdown emphasis and a final period."""
    return text.strip().strip("\"'`*").strip().rstrip(".").strip()


def parse_label(reply: str) -> str | None:
    """The label in a reply, or None when the reply is not a short label."""
    text = _bare(_PREFIX.sub("", _bare(reply or "")))
    if not text or "\n" in text or len(text) > 60 or len(text.split()) > MAX_WORDS:
        return None
    if not re.search(r"\w", text):
        return None
    return text


def topic_message(words: Sequence[str], documents: Sequence[str] = ()) -> str:
    lines = ["Top words: " + ", ".join(words)]
    if documents:
        lines.append("Documents:")
        lines += [f"- {' '.join(d.split())[:SNIPPET_CHARS]}" for d in documents]
    lines.append("Label:")
    return "\n".join(lines)


@dataclass
class TopicLabeler(ChatClient):
    """Names topics from their words and documents."""
    system_prompt: str = SYSTEM_PROMPT
    task: str = "llm_topic_labels"
    max_tokens: int | None = 20

    def label(self, words: Sequence[str], documents: Sequence[str] = ()) -> str:
        message = topic_message(words, documents)
        return self.ask(message, parse_label, f"topic {', '.join(words[:5])!r}",
                        {"message": message}, f"a label of 1 to {MAX_WORDS} words")

    def label_topics(self, words: Sequence[Sequence[str]],
                     documents: Sequence[Sequence[str]] | None = None) -> list[str]:
        documents = documents or [()] * len(words)
        return self.ask_all([lambda w=w, d=d: self.label(w, d)
                             for w, d in zip(words, documents)])


def check_labels(labels, n_topics: int) -> dict[int, str]:
    """Hand-made labels as {topic: label}: a dict (some topics) or a list (all topics)."""
    if isinstance(labels, dict):
        items = labels.items()
    elif isinstance(labels, (list, tuple)):
        if len(labels) != n_topics:
            raise ValueError(f"got {len(labels)} labels for {n_topics} topics; pass a list of "
                             f"{n_topics} or a dict {{topic: label}}")
        items = enumerate(labels)
    else:
        raise TypeError(f"labels must be a dict {{topic: label}} or a list, got "
                        f"{type(labels).__name__}")
    out = {}
    for k, label in items:
        if isinstance(k, str) and k.lstrip("-").isdigit():
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < n_topics:
            raise ValueError(f"topic {k!r} out of range: the model has {n_topics} topics")
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"the label of topic {k} must be a non-empty string, got {label!r}")
        out[k] = label.strip()
    return out
