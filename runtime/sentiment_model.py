"""The learned sentiment models that ship with the hub (``runtime/sentiment_models/``),
one per language: TF-IDF over word 1-2-grams and character n-grams (the file says
which: 2-5 inside words, or 1-6 across word boundaries) of the normalised text, plus the lexicon score (VADER for English, :func:`domain.text_signals.spanish_score`
for Spanish), into a multinomial logistic regression (negative / neutral / positive).

The files hold plain data (the vocabularies, the IDF weights, the coefficients and the
thresholds chosen on the training half; numpy arrays and lists in a gzip'd joblib file),
not pickled scikit-learn objects, so that a newer scikit-learn reads them the same.
They are rebuilt by ``python -m bench.train_sentiment`` (see the folder's MODEL_CARD.md).
Nothing is downloaded at run time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

MODELS_DIR = Path(__file__).parent / "sentiment_models"
CLASSES = ("negative", "neutral", "positive")
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
CHAR_ANALYZER = "char_wb"
"""The character n-grams of a model file that does not name its own (format 1 as first
shipped)."""
WORD_PATTERN = r"(?u)\b\w+\b|[!?]"

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_REPEAT = re.compile(r"(.)\1{2,}")


class SentimentModelMissing(RuntimeError):
    """The model file for a language is not in the package (rebuild it: the message says how)."""


def normalise(text: str) -> str:
    """Lower case, no accents, links and @handles replaced by a token, letters repeated
    three times or more cut to two ("soooo" → "soo")."""
    text = _MENTION.sub("@user", _URL.sub("http", text.lower()))
    text = _REPEAT.sub(r"\1\1", text)
    if not text.isascii():
        text = "".join(
            c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
        )
    return text


def vectorizers(
    word_vocab: Sequence[str],
    char_vocab: Sequence[str],
    char_analyzer: str = CHAR_ANALYZER,
    char_ngrams: tuple[int, int] = CHAR_NGRAMS,
) -> list[CountVectorizer]:
    """Counting vectorizers over fixed vocabularies (no fitting: the same at training and
    at run time). ``char_analyzer``: ``char_wb`` (n-grams inside words) or ``char``
    (across word boundaries too)."""
    return [
        CountVectorizer(
            lowercase=False,
            token_pattern=WORD_PATTERN,
            ngram_range=WORD_NGRAMS,
            vocabulary={t: i for i, t in enumerate(word_vocab)},
            dtype=np.float32,
        ),
        CountVectorizer(
            lowercase=False,
            analyzer=char_analyzer,
            ngram_range=char_ngrams,
            vocabulary={t: i for i, t in enumerate(char_vocab)},
            dtype=np.float32,
        ),
    ]


def tfidf_rows(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Sublinear TF (1 + log count) times IDF, each row scaled to unit length (what
    scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` does)."""
    x = counts.tocsr().astype(np.float32)
    np.log(x.data, out=x.data)
    x.data += 1.0
    x = x.multiply(idf).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ x)


@dataclass(frozen=True)
class Featurizer:
    word_vocab: list[str]
    char_vocab: list[str]
    word_idf: np.ndarray
    char_idf: np.ndarray
    lexicon_weight: float
    char_analyzer: str = CHAR_ANALYZER
    char_ngrams: tuple[int, int] = CHAR_NGRAMS

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "_vectorizers",
            vectorizers(self.word_vocab, self.char_vocab, self.char_analyzer, self.char_ngrams),
        )

    def transform(self, texts: Sequence[str], lexicon: Sequence[float]) -> sparse.csr_matrix:
        clean = [normalise(t) for t in texts]
        word, char = self._vectorizers  # type: ignore[attr-defined]
        blocks = [
            tfidf_rows(word.transform(clean), self.word_idf),
            tfidf_rows(char.transform(clean), self.char_idf),
            sparse.csr_matrix(
                np.asarray(lexicon, dtype=np.float32).reshape(-1, 1) * self.lexicon_weight
            ),
        ]
        return sparse.hstack(blocks, format="csr")


@dataclass(frozen=True)
class SentimentModel:
    """One language's model: probabilities of the three classes, and the label rule."""

    language: str
    version: str
    featurizer: Featurizer
    coef: np.ndarray  # (3, features), rows in CLASSES order
    intercept: np.ndarray  # (3,)
    negative_at: float  # P(negative) from which a text is negative (balanced on dev)

    def probabilities(self, texts: Sequence[str], lexicon: Sequence[float]) -> np.ndarray:
        """(len(texts), 3) class probabilities, columns in CLASSES order."""
        logits = self.featurizer.transform(texts, lexicon) @ self.coef.T + self.intercept
        logits = np.asarray(logits, dtype=np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def labels(self, probs: np.ndarray) -> list[str]:
        """Negative from ``negative_at``; otherwise the likelier of neutral and positive."""
        return [
            "negative" if p[0] >= self.negative_at else ("positive" if p[2] > p[1] else "neutral")
            for p in probs
        ]

    def to_data(self) -> dict[str, Any]:
        f = self.featurizer
        return {
            "format": 1,
            "language": self.language,
            "version": self.version,
            "classes": list(CLASSES),
            "word_vocab": f.word_vocab,
            "char_vocab": f.char_vocab,
            "word_idf": f.word_idf.astype(np.float32),
            "char_idf": f.char_idf.astype(np.float32),
            "lexicon_weight": f.lexicon_weight,
            "char_analyzer": f.char_analyzer,
            "char_ngrams": list(f.char_ngrams),
            "coef": self.coef.astype(np.float32),
            "intercept": self.intercept.astype(np.float32),
            "negative_at": self.negative_at,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> SentimentModel:
        if data.get("format") != 1 or tuple(data["classes"]) != CLASSES:
            raise SentimentModelMissing(f"unknown sentiment model format: {data.get('format')}")
        return cls(
            language=data["language"],
            version=data["version"],
            featurizer=Featurizer(
                word_vocab=list(data["word_vocab"]),
                char_vocab=list(data["char_vocab"]),
                word_idf=np.asarray(data["word_idf"], dtype=np.float32),
                char_idf=np.asarray(data["char_idf"], dtype=np.float32),
                lexicon_weight=float(data["lexicon_weight"]),
                char_analyzer=str(data.get("char_analyzer", CHAR_ANALYZER)),
                char_ngrams=(
                    int(data.get("char_ngrams", CHAR_NGRAMS)[0]),
                    int(data.get("char_ngrams", CHAR_NGRAMS)[1]),
                ),
            ),
            coef=np.asarray(data["coef"], dtype=np.float32),
            intercept=np.asarray(data["intercept"], dtype=np.float32),
            negative_at=float(data["negative_at"]),
        )


def model_path(language: str, folder: Path = MODELS_DIR) -> Path:
    return folder / f"sentiment_{language}.joblib.gz"


def save(model: SentimentModel, folder: Path = MODELS_DIR) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = model_path(model.language, folder)
    joblib.dump(model.to_data(), path, compress=("gzip", 9))
    return path


@lru_cache(maxsize=4)
def load(language: str) -> SentimentModel:
    """The shipped model for ``language`` (``en`` / ``es``), read once per process."""
    path = model_path(language)
    if not path.is_file():
        raise SentimentModelMissing(
            f"{path} is missing: rebuild it with `python -m bench.train_sentiment`"
        )
    return SentimentModel.from_data(joblib.load(path))
