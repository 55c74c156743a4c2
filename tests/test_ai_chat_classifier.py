"""The optional OpenAI-compatible classifier (``CSHUB_AI_BASE_URL``) against the
sandbox's chat-completions emulator over real HTTP on 127.0.0.1: the sentiment is the
endpoint's, the language and intent signals the hub's; a batch the endpoint cannot
answer is classified offline; without the setting the offline classifier is the
default."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from runtime import text_classifier
from runtime.text_classifier import ChatClassifier, OfflineClassifier
from sandbox.server import SandboxHandle

TEXTS = [
    "The new dashboard is terrible. We will cancel our subscription.",
    "Gracias por todo, el equipo es genial.",
    "Can you add two seats to our plan?",
]


async def test_the_sentiment_comes_from_the_endpoint_and_the_signals_from_the_hub(
    sandbox: SandboxHandle,
) -> None:
    requests = f"{sandbox.http_url}/_sandbox/ai/requests"
    async with httpx.AsyncClient() as http:
        before = len((await http.get(requests)).json()["requests"])
    clf = ChatClassifier(f"{sandbox.http_url}/v1", "sandbox-sentiment", api_key="k", batch=2)
    verdicts = await asyncio.to_thread(clf.classify, TEXTS)
    assert [(v.label.value, v.score) for v in verdicts] == [
        ("negative", -0.9),
        ("positive", 0.9),
        ("neutral", 0.0),
    ]
    assert [v.language.value for v in verdicts] == ["en", "es", "en"]
    assert "cancellation" in verdicts[0].signals and verdicts[2].signals == []
    async with httpx.AsyncClient() as http:
        sent = (await http.get(requests)).json()["requests"][before:]
    assert len(sent) == 2  # three texts, two a request
    assert sent[0]["model"] == "sandbox-sentiment" and sent[0]["temperature"] == 0
    assert sent[0]["messages"][-1]["content"] == f"1. {TEXTS[0]}\n2. {TEXTS[1]}"


async def test_an_answer_that_is_not_the_json_asked_for_is_classified_offline(
    sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    clf = ChatClassifier(f"{sandbox.http_url}/v1", "broken")
    verdicts = await asyncio.to_thread(clf.classify, TEXTS)
    offline = OfflineClassifier().classify(TEXTS)
    assert [(v.label, v.score) for v in verdicts] == [(v.label, v.score) for v in offline]
    assert "AI classifier at" in caplog.text and "3 texts classified offline" in caplog.text


def test_an_endpoint_that_is_down_leaves_the_offline_classifier_to_answer() -> None:
    clf = ChatClassifier("http://127.0.0.1:9/v1", "any", timeout_s=2)
    (verdict,) = clf.classify(["The support is terrible and slow"])
    assert verdict.label.value == "negative" and verdict.score != -0.9


def test_the_offline_classifier_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    text_classifier.default_classifier.cache_clear()
    monkeypatch.delenv("CSHUB_AI_BASE_URL", raising=False)
    try:
        assert isinstance(text_classifier.default_classifier(), OfflineClassifier)
        text_classifier.default_classifier.cache_clear()
        monkeypatch.setenv("CSHUB_AI_BASE_URL", "http://127.0.0.1:9/v1")
        monkeypatch.setenv("CSHUB_AI_MODEL", "local-model")
        chosen = text_classifier.default_classifier()
        assert isinstance(chosen, ChatClassifier) and chosen._model == "local-model"
    finally:
        text_classifier.default_classifier.cache_clear()
