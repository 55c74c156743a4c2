"""Classify what customers write: language, sentiment with a score, churn-intent signals.

Offline: the sentiment by a learned model per language that ships with the hub
(:mod:`runtime.sentiment_model`, files in ``runtime/sentiment_models/``), which takes the
lexicon score as one of its features: VADER (``vaderSentiment``, whose lexicon ships in the
package) plus the hub's support-domain words below for English, the hub's own lexicon
(:mod:`domain.lexicon_es`) for Spanish; the intent signals by the hub's rules
(:mod:`domain.text_signals`). Nothing is downloaded, at install or at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Protocol

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


class TextClassifier(Protocol):
    def classify(self, texts: Sequence[str]) -> list[TextVerdict]: ...


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
        verdicts: list[TextVerdict] = []
        for text, language, label, score in zip(clean, languages, labels, scores, strict=True):
            signals = intent_signals(text)
            verdicts.append(
                TextVerdict(
                    text=text,
                    language=language,
                    label=label_for(Sentiment(label), score, signals),
                    score=max(-1.0, min(1.0, round(score, 4))),
                    signals=signals,
                )
            )
        return verdicts


@lru_cache(maxsize=1)
def default_classifier() -> OfflineClassifier:
    """One classifier per process (the models and VADER's lexicon are read once)."""
    return OfflineClassifier()


def classify(texts: Iterable[str]) -> list[TextVerdict]:
    return default_classifier().classify(list(texts))
