"""The churn-risk model: trained with scikit-learn on a CSV export of past customers
(``cshub risk train --from-csv``), calibrated, saved versioned under the data folder,
and explained per customer.

- Columns: the label (churned or not; ``--positive`` names the churned value when it is
  not obvious), an optional id column (ignored), and any others: a column whose every
  filled value is a number is numeric (median-imputed, scaled), one with few distinct
  values is categorical (one-hot, missing as its own value); free text with many
  distinct values is left out and said so. A column that is numbers but for a few text
  values is refused, naming the column and the value: a typo in an export is not a
  category.
- Model: the mean of a logistic regression and a gradient-boosted tree model (soft
  vote) over the same prepared columns, calibrated by one isotonic regression fitted on
  their 3-fold cross-validated predictions (``CalibratedClassifierCV(ensemble=False)``),
  so "0.30" means about 30 in 100 such customers churned.
  The hold-out AUC is printed next to a plain logistic regression's on the same split.
- Explanation: for each input, the probability with the customer's value against the
  probability with the training population's typical value (median, most frequent
  category); the largest changes, in points, with their direction.
- Versions: ``<data folder>/risk-models/churn-v<N>.joblib`` with a ``.json`` card beside
  it (columns, evaluation, source file, when); the highest N is the current model.
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import joblib
import numpy as np
import pandas as pd
import sklearn
from pydantic import BaseModel, Field
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

P = ParamSpec("P")
R = TypeVar("R")

MIN_ROWS = 50
"""Fewer rows than this (or fewer than 10 of the smaller class) is not enough to learn."""
MIN_CLASS = 10
MAX_CATEGORIES = 50
"""A text column with more distinct values than this (and than 5 % of the rows) is free
text, not a category: left out."""
POSITIVE_WORDS = ("1", "yes", "true", "churned", "churn", "y", "si", "sí", "lost", "cancelled")


class TrainingError(ValueError):
    """Bad input: the message names the column and says what is wrong."""


def models_dir() -> Path:
    """``$CSHUB_RISK_MODELS_DIR`` or ``.cshub/risk-models`` (next to the hub's other data)."""
    return Path(os.environ.get("CSHUB_RISK_MODELS_DIR") or ".cshub/risk-models")


class ModelCard(BaseModel):
    """What ``risk train --json`` prints and what is saved beside the model."""

    model: str = Field(description="the saved model's version, e.g. churn-v3")
    auc: float = Field(description="hold-out ROC AUC of the model")
    baseline_auc: float = Field(description="hold-out ROC AUC of a plain logistic regression")
    brier: float = Field(description="hold-out Brier score (lower is better calibrated)")
    rows: int
    positives: int
    train_rows: int
    holdout_rows: int
    label: str
    positive: str
    id_column: str | None = None
    numeric: list[str]
    categorical: list[str]
    ignored: list[str] = Field(default_factory=list, description="columns left out, and why")
    source: str
    seed: int
    trained_at: datetime
    path: str


@dataclass
class Prepared:
    frame: pd.DataFrame
    y: np.ndarray
    numeric: list[str]
    categorical: list[str]
    ignored: list[str]
    positive: str


def _blank(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip()
    return series.isna() | (text == "")


def prepare(df: pd.DataFrame, label: str, positive: str | None, id_column: str | None) -> Prepared:
    """Check and type the columns; every refusal names the column."""
    if label not in df.columns:
        raise TrainingError(
            f"no label column {label!r} in the file (columns: {', '.join(map(str, df.columns))})"
        )
    if id_column is not None and id_column not in df.columns:
        raise TrainingError(f"no id column {id_column!r} in the file")
    raw_label = df[label]
    missing_label = _blank(raw_label)
    if missing_label.any():
        row = int(np.flatnonzero(missing_label.to_numpy())[0]) + 2
        raise TrainingError(f"column {label!r}: no value on line {row}")
    values = raw_label.astype(str).str.strip()
    classes = sorted(values.unique())
    if len(classes) < 2:
        raise TrainingError(
            f"column {label!r} has one class only ({classes[0]!r}): the file needs customers "
            "who churned and customers who stayed"
        )
    if len(classes) > 2:
        raise TrainingError(
            f"column {label!r} has {len(classes)} values ({', '.join(classes[:5])} ...): "
            "a churn label has two"
        )
    if positive is None:
        found = [c for c in classes if c.lower() in POSITIVE_WORDS]
        if len(found) != 1:
            raise TrainingError(
                f"column {label!r}: which value means churned, {classes[0]!r} or "
                f"{classes[1]!r}? Say it with --positive"
            )
        positive = found[0]
    elif positive not in classes:
        raise TrainingError(
            f"column {label!r} has no value {positive!r} (its values: {', '.join(classes)})"
        )
    y = (values == positive).to_numpy().astype(int)
    if len(y) < MIN_ROWS or min(y.sum(), len(y) - y.sum()) < MIN_CLASS:
        raise TrainingError(
            f"column {label!r}: {len(y)} rows, {int(y.sum())} churned: at least {MIN_ROWS} "
            f"rows and {MIN_CLASS} of each class are needed to learn anything"
        )
    features = [c for c in df.columns if c not in (label, id_column)]
    numeric: list[str] = []
    categorical: list[str] = []
    ignored: list[str] = []
    frame = pd.DataFrame(index=df.index)
    for col in features:
        series = df[col]
        blank = _blank(series)
        filled = series[~blank]
        if filled.empty:
            ignored.append(f"{col} (empty)")
            continue
        as_number = pd.to_numeric(filled.astype(str).str.strip(), errors="coerce")
        bad = as_number.isna()
        if not bad.any():
            frame[col] = pd.to_numeric(
                series.where(~blank).astype(str).str.strip(), errors="coerce"
            )
            numeric.append(col)
            continue
        if bad.mean() <= 0.05 and len(filled) >= 20:
            where = bad[bad].index[0]
            line = int(df.index.get_loc(where)) + 2
            raise TrainingError(
                f"column {col!r} is numeric but line {line} has {str(filled[where])!r}: "
                "fix or blank it (blank counts as missing)"
            )
        distinct = filled.astype(str).str.strip().nunique()
        if distinct > MAX_CATEGORIES and distinct > 0.05 * len(filled):
            ignored.append(f"{col} (free text: {distinct} distinct values)")
            continue
        frame[col] = (
            series.where(~blank)
            .astype(object)
            .map(lambda v: str(v).strip() if isinstance(v, str) or not pd.isna(v) else np.nan)
        )
        categorical.append(col)
    if not numeric and not categorical:
        raise TrainingError("no usable column besides the label and the id")
    return Prepared(frame, y, numeric, categorical, ignored, positive)


def _columns(numeric: list[str], categorical: list[str], *, scale: bool) -> ColumnTransformer:
    num_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        num_steps.append(("scale", StandardScaler()))
    return ColumnTransformer(
        [
            ("num", Pipeline(num_steps), numeric),
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            ),
        ]
    )


def baseline_model(numeric: list[str], categorical: list[str]) -> Pipeline:
    return Pipeline(
        [
            ("columns", _columns(numeric, categorical, scale=True)),
            ("lr", LogisticRegression(max_iter=2000)),
        ]
    )


def churn_model(numeric: list[str], categorical: list[str], seed: int) -> CalibratedClassifierCV:
    """The columns prepared once (imputed, scaled, one-hot: the trees do not mind the
    scaling) for a soft vote of a logistic regression and gradient-boosted trees, and
    one isotonic calibrator fitted on the vote's 3-fold cross-validated estimates
    (``ensemble=False``): scoring a sweep page runs the preparation, the two models and
    the calibrator once, not three calibrated copies of the whole pipeline."""
    vote = VotingClassifier(
        [
            ("lr", LogisticRegression(max_iter=2000)),
            (
                "gbm",
                HistGradientBoostingClassifier(
                    max_iter=150,
                    learning_rate=0.06,
                    max_leaf_nodes=15,
                    l2_regularization=1.0,
                    random_state=seed,
                ),
            ),
        ],
        voting="soft",
    )
    return CalibratedClassifierCV(
        Pipeline([("columns", _columns(numeric, categorical, scale=True)), ("vote", vote)]),
        method="isotonic",
        cv=3,
        ensemble=False,
    )


def next_version(directory: Path) -> int:
    found = [
        int(p.stem.removeprefix("churn-v"))
        for p in directory.glob("churn-v*.joblib")
        if p.stem.removeprefix("churn-v").isdigit()
    ]
    return max(found, default=0) + 1


def _on_one_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` on one thread: the gradient-boosted trees' OpenMP threads spin while
    they wait, and on a busy two-core machine (the hub's worker, CI) that made training
    10x slower."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)

    return wrapper


def read_export(path: Path) -> pd.DataFrame:
    """A CSV export as text columns (blank: missing)."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise TrainingError(f"{path}: not a readable CSV file ({exc})") from None


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows in memory (the hub's own history) as an export would read: text, blank missing."""

    def text(v: Any) -> str:
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)

    return pd.DataFrame(rows).map(text).replace("", np.nan)


def train_from_csv(path: Path, label: str, **options: Any) -> ModelCard:
    """Train on a CSV export: see :func:`train_frame` (``options``)."""
    return train_frame(read_export(path), label, source=str(path), **options)


@_on_one_thread
def train_frame(
    df: pd.DataFrame,
    label: str,
    *,
    source: str,
    positive: str | None = None,
    id_column: str | None = None,
    holdout: float = 0.3,
    seed: int = 23,
    directory: Path | None = None,
) -> ModelCard:
    """Train, evaluate on the hold-out, refit on every row and save the next version (on
    one thread)."""
    if not 0.05 <= holdout <= 0.9:
        raise TrainingError(f"--holdout {holdout}: between 0.05 and 0.9")
    prep = prepare(df, label, positive, id_column)
    x = prep.frame
    x_train, x_test, y_train, y_test = train_test_split(
        x, prep.y, test_size=holdout, random_state=seed, stratify=prep.y
    )
    model = churn_model(prep.numeric, prep.categorical, seed).fit(x_train, y_train)
    proba = model.predict_proba(x_test)[:, 1]
    base = baseline_model(prep.numeric, prep.categorical).fit(x_train, y_train)
    base_proba = base.predict_proba(x_test)[:, 1]
    final = churn_model(prep.numeric, prep.categorical, seed).fit(x, prep.y)
    out = directory or models_dir()
    out.mkdir(parents=True, exist_ok=True)
    version = next_version(out)
    name = f"churn-v{version}"
    target = out / f"{name}.joblib"
    card = ModelCard(
        model=name,
        auc=round(float(roc_auc_score(y_test, proba)), 4),
        baseline_auc=round(float(roc_auc_score(y_test, base_proba)), 4),
        brier=round(float(brier_score_loss(y_test, proba)), 4),
        rows=len(prep.y),
        positives=int(prep.y.sum()),
        train_rows=len(y_train),
        holdout_rows=len(y_test),
        label=label,
        positive=prep.positive,
        id_column=id_column,
        numeric=prep.numeric,
        categorical=prep.categorical,
        ignored=prep.ignored,
        source=source,
        seed=seed,
        trained_at=datetime.now(UTC),
        path=str(target),
    )
    reference: dict[str, Any] = {
        c: float(x[c].median()) for c in prep.numeric if not math.isnan(x[c].median())
    }
    reference.update({c: str(x[c].mode(dropna=True).iloc[0]) for c in prep.categorical})
    joblib.dump(
        {"model": final, "reference": reference, "card": card.model_dump(mode="json")}, target
    )
    (out / f"{name}.json").write_text(card.model_dump_json(indent=2), encoding="utf-8")
    return card


# ------------------------------------------------------------------ explaining
class Factor(BaseModel):
    column: str
    value: str
    typical: str
    points: float = Field(description="change in churn probability, in percentage points")

    @property
    def words(self) -> str:
        way = "raises" if self.points > 0 else "lowers"
        return (
            f"{self.column} = {self.value} (typical: {self.typical}) {way} the risk by "
            f"{abs(self.points):.0f} points"
        )


class Explanation(BaseModel):
    model: str
    probability: float
    factors: list[Factor]


@dataclass
class FastScorer:
    """The fitted column preparation of a model trained here (one calibrator:
    ``ensemble=False``) done with numpy on the rows as they come, then the vote and the
    calibrator: the same probabilities as ``predict_proba`` on a data frame (the tests
    compare them) without building one; a sweep page costs a third of the time. None
    (:meth:`of`) for a model of another shape, which is scored the slow way."""

    numeric: list[str]
    categorical: list[str]
    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    categories: list[dict[str, int]]
    width: int
    vote: Any
    calibrator: Any

    @classmethod
    def of(cls, model: Any, card: ModelCard) -> FastScorer | None:
        try:
            (calibrated,) = model.calibrated_classifiers_
            columns = calibrated.estimator.named_steps["columns"]
            num = columns.named_transformers_["num"]
            onehot = columns.named_transformers_["cat"].named_steps["onehot"]
            medians = np.asarray(num.named_steps["impute"].statistics_, dtype=np.float64)
            scaler = num.named_steps["scale"]
            (calibrator,) = calibrated.calibrators
            vote = calibrated.estimator.named_steps["vote"]
        except (AttributeError, KeyError, ValueError, TypeError):
            return None
        if (
            not card.numeric
            or not card.categorical
            or calibrated.method != "isotonic"
            or len(medians) != len(card.numeric)
            or np.isnan(medians).any()
            or len(onehot.categories_) != len(card.categorical)
        ):
            return None
        categories = [{str(v): i for i, v in enumerate(c)} for c in onehot.categories_]
        return cls(
            numeric=list(card.numeric),
            categorical=list(card.categorical),
            medians=medians,
            means=np.asarray(scaler.mean_, dtype=np.float64),
            scales=np.asarray(scaler.scale_, dtype=np.float64),
            categories=categories,
            width=len(card.numeric) + sum(len(c) for c in categories),
            vote=vote,
            calibrator=calibrator,
        )

    def predict(self, rows: list[dict[str, Any]]) -> np.ndarray:
        x = np.zeros((len(rows), self.width))
        k = len(self.numeric)
        for i, row in enumerate(rows):
            for j, c in enumerate(self.numeric):
                v = row.get(c)
                x[i, j] = float(v) if v not in (None, "") else self.medians[j]
            at = k
            for c, index in zip(self.categorical, self.categories, strict=True):
                v = row.get(c)
                hit = index.get(str(v).strip() if v not in (None, "") else "(missing)")
                if hit is not None:  # a category not seen in training: all zeros
                    x[i, at + hit] = 1.0
                at += len(index)
        x[:, :k] = (x[:, :k] - self.means) / self.scales
        p = self.calibrator.predict(self.vote.predict_proba(x)[:, 1])
        out: np.ndarray = np.clip(p, 0.0, 1.0)
        return out


@dataclass
class LoadedModel:
    model: CalibratedClassifierCV
    reference: dict[str, Any]
    card: ModelCard
    _fast_scorer: FastScorer | None = field(default=None, init=False, repr=False)
    _fast_checked: bool = field(default=False, init=False, repr=False)

    def frame(self, row: dict[str, Any]) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for c in self.card.numeric:
            value = row.get(c)
            try:
                data[c] = float(value) if value not in (None, "") else np.nan
            except (TypeError, ValueError):
                raise TrainingError(f"column {c!r}: {value!r} is not a number") from None
        for c in self.card.categorical:
            value = row.get(c)
            data[c] = str(value).strip() if value not in (None, "") else np.nan
        return pd.DataFrame([data], columns=[*self.card.numeric, *self.card.categorical])

    def frames(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """Many rows at once (numeric values already readable)."""
        data: dict[str, list[Any]] = {}
        for c in self.card.numeric:
            data[c] = [float(r[c]) if r.get(c) not in (None, "") else np.nan for r in rows]
        for c in self.card.categorical:
            data[c] = [str(r[c]).strip() if r.get(c) not in (None, "") else np.nan for r in rows]
        return pd.DataFrame(data, columns=[*self.card.numeric, *self.card.categorical])

    def predict(self, rows: list[dict[str, Any]]) -> list[float]:
        """Churn probabilities of ``rows`` in one batch (a sweep's page). A value a
        numeric column cannot read counts as missing here: one bad CRM value must not
        stop a sweep (``risk explain`` names it)."""
        if not rows:
            return []
        clean = [self._readable(r) for r in rows]
        fast = self._fast()
        # the rows are read here and checked by _readable: scikit-learn's own check for
        # NaN and infinity over every column of every step is skipped
        with threadpool_limits(limits=1), sklearn.config_context(assume_finite=True):
            if fast is not None:
                return [float(p) for p in fast.predict(clean)]
            return [float(p) for p in self.model.predict_proba(self.frames(clean))[:, 1]]

    def _fast(self) -> FastScorer | None:
        if not self._fast_checked:
            self._fast_scorer = FastScorer.of(self.model, self.card)
            self._fast_checked = True
        return self._fast_scorer

    def _readable(self, row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for c in self.card.numeric:
            value = out.get(c)
            if value in (None, ""):
                continue
            try:
                float(value)
            except (TypeError, ValueError):
                out[c] = None
        return out

    def explain(self, row: dict[str, Any], top: int = 3) -> Explanation:
        """The churn probability of ``row`` and the inputs that move it most, each set
        back to the population's typical value."""
        with threadpool_limits(limits=1):
            return self._explain(row, top)

    def _explain(self, row: dict[str, Any], top: int) -> Explanation:
        base = self.frame(row)
        p = float(self.model.predict_proba(base)[:, 1][0])
        variants = []
        columns = [c for c in (*self.card.numeric, *self.card.categorical) if c in self.reference]
        for c in columns:
            alt = base.copy()
            alt[c] = self.reference[c]
            variants.append(alt)
        factors: list[Factor] = []
        if variants:
            probs = self.model.predict_proba(pd.concat(variants, ignore_index=True))[:, 1]
            for c, q in zip(columns, probs, strict=True):
                value = base[c].iloc[0]
                typical = self.reference[c]
                if str(value) == str(typical):
                    continue
                factors.append(
                    Factor(
                        column=c,
                        value="(missing)"
                        if pd.isna(value)
                        else f"{value:g}"
                        if isinstance(value, float)
                        else str(value),
                        typical=f"{typical:g}" if isinstance(typical, float) else str(typical),
                        points=round((p - float(q)) * 100, 1),
                    )
                )
        factors.sort(key=lambda f: -abs(f.points))
        return Explanation(model=self.card.model, probability=round(p, 4), factors=factors[:top])


def load_current(directory: Path | None = None) -> LoadedModel | None:
    """The highest version saved, or None when no model was trained yet."""
    d = directory or models_dir()
    version = next_version(d) - 1 if d.is_dir() else 0
    if version < 1:
        return None
    saved = joblib.load(d / f"churn-v{version}.joblib")
    return LoadedModel(saved["model"], saved["reference"], ModelCard.model_validate(saved["card"]))


_cache: dict[str, tuple[tuple[int, float], LoadedModel]] = {}
_cache_lock = threading.Lock()


def load_current_cached(directory: Path | None = None) -> LoadedModel | None:
    """:func:`load_current`, kept in memory while the newest file is unchanged (a sweep
    loads it once per activity, a worker once per new version)."""
    d = directory or models_dir()
    version = next_version(d) - 1 if d.is_dir() else 0
    if version < 1:
        return None
    path = d / f"churn-v{version}.joblib"
    try:
        key = (version, path.stat().st_mtime)
    except OSError:
        return None
    with _cache_lock:
        hit = _cache.get(str(d.resolve()))
        if hit is not None and hit[0] == key:
            return hit[1]
        loaded = load_current(d)
        if loaded is not None:
            _cache[str(d.resolve())] = (key, loaded)
        return loaded


def card_json(card: ModelCard) -> str:
    return json.dumps(card.model_dump(mode="json"))
