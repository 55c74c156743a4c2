"""The sentiment models that ship in runtime/sentiment_models/: present in the package,
small, readable without scikit-learn's pickles, documented by their model card, and a
file from an unknown format is refused with a message."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import sentiment_model
from runtime.sentiment_model import CLASSES, SentimentModel, SentimentModelMissing


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_shipped_model_loads_is_small_and_gives_probabilities(language: str) -> None:
    path = sentiment_model.model_path(language)
    assert path.stat().st_size < 5_000_000
    model = sentiment_model.load(language)
    assert model.language == language and model.version.startswith(f"{language}-")
    assert 0.1 < model.negative_at < 0.9
    probs = model.probabilities(["a", "b c"], [0.0, -0.5])
    assert probs.shape == (2, len(CLASSES))
    assert np.allclose(probs.sum(axis=1), 1.0)
    card = (sentiment_model.MODELS_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert model.version in card


def test_a_model_file_of_an_unknown_format_is_refused() -> None:
    data = sentiment_model.load("es").to_data()
    with pytest.raises(SentimentModelMissing, match="unknown sentiment model format: 2"):
        SentimentModel.from_data({**data, "format": 2})


def test_normalise_folds_case_accents_links_handles_and_repeats() -> None:
    text = "@Iberia Muuuuy MAL servicio, ¡qué pésimo! https://t.co/x"
    assert sentiment_model.normalise(text) == "@user muuy mal servicio, ¡que pesimo! http"


def test_the_character_ngrams_a_file_names_are_the_ones_read_back() -> None:
    data = sentiment_model.load("en").to_data()
    model = SentimentModel.from_data({**data, "char_analyzer": "char", "char_ngrams": [1, 6]})
    assert model.featurizer.char_analyzer == "char" and model.featurizer.char_ngrams == (1, 6)
    _, char = model.featurizer._vectorizers  # type: ignore[attr-defined]
    assert char.analyzer == "char" and char.ngram_range == (1, 6)
    # a file as first shipped (no such keys): 2-5-grams inside words
    first = {k: v for k, v in data.items() if k not in ("char_analyzer", "char_ngrams")}
    old = SentimentModel.from_data(first)
    assert (old.featurizer.char_analyzer, old.featurizer.char_ngrams) == ("char_wb", (2, 5))
