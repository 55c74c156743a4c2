"""Classify what customers write: language, sentiment with a score, churn-intent signals.

Offline: the sentiment by a learned model per language that ships with the hub
(:mod:`runtime.sentiment_model`, files in ``runtime/sentiment_models/``), which takes the
lexicon score as one of its features: VADER (``vaderSentiment``, whose lexicon ships in the
package) plus the hub's support-domain words below for English, the hub's own lexicon
(:mod:`domain.lexicon_es`) for Spanish; the intent signals by the hub's rules
(:mod:`domain.text_signals`). Nothing is downloaded, at install or at run time.

Optional: with ``CSHUB_AI_BASE_URL`` set, the sentiment comes from an OpenAI-compatible
chat-completions endpoint (a local model server, a hosted API; ``CSHUB_AI_MODEL``,
``CSHUB_AI_API_KEY``) behind the same interface (:class:`ChatClassifier`): the language
and the intent signals stay the hub's rules, and a batch the endpoint cannot answer
(down, slow, an answer that is not the JSON asked for) is classified offline instead.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, Protocol

import httpx
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from domain.text_signals import (
    Language,
    Sentiment,
    TextVerdict,
    detect_language,
    intent_signals,
    label_for,
    lexicon_label,
    negated,
    spanish_score,
)
from runtime import sentiment_model

SUPPORT_WORDS_EN: dict[str, float] = {
    # Words of customer complaints that VADER's general lexicon scores neutral.
    "delayed": -1.6,
    "delay": -1.4,
    "delays": -1.4,
    "cancelled": -1.6,
    "canceled": -1.6,
    "cancellation": -1.2,
    "waiting": -0.8,
    "waited": -1.0,
    "refund": -1.0,
    "lost": -1.6,
    "broken": -1.8,
    "outage": -2.2,
    "down": -0.6,
    "unresponsive": -2.2,
    "unusable": -2.6,
    "overcharged": -2.4,
    "rude": -2.2,
    "worst": -3.1,
    "disappointed": -2.4,
    "ridiculous": -2.2,
    "unacceptable": -2.8,
    "nightmare": -2.6,
    "stranded": -2.2,
    "hold": -0.6,
    "hung": -1.2,
    "ignored": -1.8,
    "still": -0.3,
    "never": -0.6,
    "again": -0.2,
    "fix": -0.4,
    "bug": -1.4,
    "bugs": -1.4,
    "crash": -1.8,
    "crashes": -1.8,
    "slow": -1.2,
    "missed": -1.0,
    "stuck": -1.6,
    "seriously": -0.8,
    "customer service": 0.0,
}


log = logging.getLogger(__name__)


class TextClassifier(Protocol):
    def classify(self, texts: Sequence[str]) -> list[TextVerdict]: ...

    def classify_one(self, text: str) -> TextVerdict: ...


def _verdict(text: str, language: Language, label: str, score: float) -> TextVerdict:
    """The verdict of one text: the hub's intent signals may make a text that is not
    clearly positive negative (:func:`domain.text_signals.label_for`)."""
    signals = intent_signals(text)
    return TextVerdict(
        text=text,
        language=language,
        label=label_for(Sentiment(label), score, signals),
        score=max(-1.0, min(1.0, round(score, 4))),
        signals=signals,
    )


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(SUPPORT_WORDS_EN)
    return analyzer


def lexicon_scores(texts: Sequence[str], language: Language) -> list[float]:
    """The lexicon's score (-1..1) of each text: VADER with the support words for English,
    the hub's Spanish lexicon for Spanish. One feature of the learned model."""
    if language is Language.ES:
        return [spanish_score(t) for t in texts]
    vader = _vader()
    return [float(vader.polarity_scores(t)["compound"]) for t in texts]


class OfflineClassifier:
    """The default classifier: no network; for English the learned model
    (:mod:`runtime.sentiment_model`, VADER's score included), for Spanish the hub's
    lexicon (the learned Spanish model, trained on 475 tweets, reads plain support
    questions as negative; see its MODEL_CARD.md); the hub's rules for the intent signals."""

    def __init__(self) -> None:
        self._models = {Language.EN: sentiment_model.load(Language.EN.value)}

    def classify_one(self, text: str) -> TextVerdict:
        return self.classify([text])[0]

    def classify(self, texts: Sequence[str]) -> list[TextVerdict]:
        clean = [" ".join(t.split()) for t in texts]
        languages = [detect_language(t) for t in clean]
        labels: list[str] = [""] * len(clean)
        scores: list[float] = [0.0] * len(clean)
        for i, (text, lang) in enumerate(zip(clean, languages, strict=True)):
            if lang not in self._models:  # Spanish: the lexicon's score and label
                scores[i] = spanish_score(text)
                labels[i] = lexicon_label(scores[i], negated(text)).value
        for lang, model in self._models.items():
            at = [i for i, found in enumerate(languages) if found is lang]
            if not at:
                continue
            batch = [clean[i] for i in at]
            probs = model.probabilities(batch, lexicon_scores(batch, lang))
            for i, label, p in zip(at, model.labels(probs), probs, strict=True):
                labels[i], scores[i] = label, float(p[2] - p[0])
        return [
            _verdict(text, language, label, score)
            for text, language, label, score in zip(clean, languages, labels, scores, strict=True)
        ]


CHAT_PROMPT = (
    "You read messages that customers wrote to a software company (survey comments, "
    "support tickets), in English or Spanish. For each numbered message give its "
    'sentiment: "negative", "neutral" or "positive", and a score from -1 (most negative) '
    'to 1 (most positive). Answer with one JSON object, nothing else: {"results": '
    '[{"label": ..., "score": ...}, ...]}, one entry per message, in their order.'
)


class ChatClassifier:
    """Sentiment from an OpenAI-compatible ``/chat/completions`` endpoint, ``batch``
    texts a request; language and intent signals by the hub's rules. A batch the
    endpoint does not answer as asked is classified by ``fallback`` (the offline
    classifier), logged once per batch: a customer's text is never lost to an outage."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 20.0,
        batch: int = 20,
        fallback: TextClassifier | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout_s, headers=headers)
        self._batch = batch
        self._fallback = fallback

    def classify_one(self, text: str) -> TextVerdict:
        return self.classify([text])[0]

    def classify(self, texts: Sequence[str]) -> list[TextVerdict]:
        clean = [" ".join(t.split()) for t in texts]
        out: list[TextVerdict] = []
        for i in range(0, len(clean), self._batch):
            chunk = clean[i : i + self._batch]
            try:
                answers = self._ask(chunk)
            except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError) as exc:
                log.warning(
                    "AI classifier at %s failed (%s): %d texts classified offline",
                    self._url,
                    exc,
                    len(chunk),
                )
                out.extend(self._offline().classify(chunk))
                continue
            out.extend(
                _verdict(text, detect_language(text), label, score)
                for text, (label, score) in zip(chunk, answers, strict=True)
            )
        return out

    def _offline(self) -> TextClassifier:
        if self._fallback is None:
            self._fallback = OfflineClassifier()
        return self._fallback

    def _ask(self, texts: list[str]) -> list[tuple[str, float]]:
        """(label, score) per text, or ValueError when the answer is not that."""
        numbered = "\n".join(f"{n}. {t}" for n, t in enumerate(texts, 1))
        body: dict[str, Any] = {
            "model": self._model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": CHAT_PROMPT},
                {"role": "user", "content": numbered},
            ],
        }
        resp = self._http.post(self._url, json=body)
        resp.raise_for_status()
        content = resp.json()["choices"][0]["message"]["content"]
        results = json.loads(content)["results"]
        if not isinstance(results, list) or len(results) != len(texts):
            raise ValueError(f"{len(texts)} texts sent, answer has {len(results)} results")
        answers: list[tuple[str, float]] = []
        for r in results:
            label = str(r["label"]).strip().lower()
            if label not in {s.value for s in Sentiment}:
                raise ValueError(f"unknown label {label!r}")
            answers.append((label, float(r["score"])))
        return answers


@lru_cache(maxsize=1)
def default_classifier() -> TextClassifier:
    """One classifier per process (the models and VADER's lexicon are read once): the
    offline one, or :class:`ChatClassifier` when ``CSHUB_AI_BASE_URL`` names an
    OpenAI-compatible endpoint (``CSHUB_AI_MODEL``, ``CSHUB_AI_API_KEY``)."""
    base_url = os.environ.get("CSHUB_AI_BASE_URL", "").strip()
    if not base_url:
        return OfflineClassifier()
    return ChatClassifier(
        base_url,
        os.environ.get("CSHUB_AI_MODEL", "").strip() or "default",
        api_key=os.environ.get("CSHUB_AI_API_KEY") or None,
    )


def classify(texts: Iterable[str]) -> list[TextVerdict]:
    return default_classifier().classify(list(texts))
