"""Classify what customers write: language, sentiment with a score, churn-intent signals.

Offline: English with VADER (``vaderSentiment``, whose lexicon ships in the package) plus
the hub's support-domain words below; Spanish with the hub's own lexicon
(:mod:`domain.lexicon_es`); the intent signals by the hub's rules
(:mod:`domain.text_signals`). Nothing is downloaded, at install or at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Protocol

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from domain.text_signals import (
    Language,
    TextVerdict,
    detect_language,
    intent_signals,
    label_for,
    negated,
    spanish_score,
)

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


class OfflineClassifier:
    """The default classifier: no network, a few milliseconds per hundred texts."""

    def __init__(self) -> None:
        self._vader = SentimentIntensityAnalyzer()
        self._vader.lexicon.update(SUPPORT_WORDS_EN)

    def classify_one(self, text: str) -> TextVerdict:
        clean = " ".join(text.split())
        language = detect_language(clean)
        if language is Language.ES:
            score = spanish_score(clean)
        else:
            score = float(self._vader.polarity_scores(clean)["compound"])
        signals = intent_signals(clean)
        return TextVerdict(
            text=clean,
            language=language,
            label=label_for(score, signals, negated(clean)),
            score=max(-1.0, min(1.0, round(score, 4))),
            signals=signals,
        )

    def classify(self, texts: Sequence[str]) -> list[TextVerdict]:
        return [self.classify_one(t) for t in texts]


@lru_cache(maxsize=1)
def default_classifier() -> OfflineClassifier:
    """One classifier per process (VADER reads its lexicon file once)."""
    return OfflineClassifier()


def classify(texts: Iterable[str]) -> list[TextVerdict]:
    return default_classifier().classify(list(texts))
