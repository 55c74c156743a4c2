"""Risk detectors: warning signs the hub notices by itself, before the health score falls.
Pure and deterministic (no I/O, no clock): the health sweep calls :func:`evaluate` for
each company with its CRM properties and the sweep's time.

Five detectors, thresholds in ``playbooks/risk/detectors.yaml`` (versioned like the
health models):

- **usage drop**: this week's usage (``metric``, e.g. active users) against the
  customer's own trailing baseline (the mean of ``baseline_weeks`` weeks ending
  ``lag_weeks`` weeks ago), recorded week by week by the sweep itself on the company
  (``cshub_usage_weekly``). A fall of ``raise_at_drop`` or more raises it; it stays
  raised until the fall is under ``clear_below_drop``; a baseline under ``min_baseline``
  never raises (small accounts do not flap).
- **support spike**: tickets in the last 30 days against the 30 before
  (``cshub_tickets_30d`` / ``cshub_tickets_prev_30d``, recounted from Zendesk).
- **negative-sentiment streak**: the last ``streak`` texts the customer wrote (survey
  comments, ticket comments; ``cshub_sentiment_recent``) were all negative.
- **champion change**: the champion contact (``cshub_champion_contact_id``) changed, or
  their status (``cshub_champion_status``) says they left or their e-mail bounces.
- **payment trouble**: ``cshub_payment_status`` past due or failed.

Each detector reads **raise**, **hold** (keeps a raised sign raised, never raises one:
hysteresis against flapping), **clear** or **unknown** (no data: nothing changes). A sign
raised is an *episode*, stamped ``cshub_risk_<detector>_since``; it is announced to the
churn-prevention campaign once, when it starts (event id ``risk:<detector>:<since>``),
and again only after it has cleared and been raised anew. A company already stamped by
this sweep is a retry: it announces the same episode again with the same event id (the
campaign drops the repeat).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.churn import RiskFactor


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Detector(StrEnum):
    USAGE_DROP = "usage_drop"
    SUPPORT_SPIKE = "support_spike"
    NEGATIVE_SENTIMENT = "negative_sentiment"
    CHAMPION_CHANGE = "champion_change"
    PAYMENT_TROUBLE = "payment_trouble"
    CHURN_RISK = "churn_risk"
    """Not a rule on properties: the churn-risk model's probability at or above the
    playbook's ``high_risk`` (see :func:`evaluate_churn_risk`)."""


FACTOR_OF: dict[Detector, RiskFactor] = {
    Detector.USAGE_DROP: RiskFactor.USAGE_DROP,
    Detector.SUPPORT_SPIKE: RiskFactor.SUPPORT_SPIKE,
    Detector.NEGATIVE_SENTIMENT: RiskFactor.NEGATIVE_SENTIMENT,
    Detector.CHAMPION_CHANGE: RiskFactor.CHAMPION_CHANGE,
    Detector.PAYMENT_TROUBLE: RiskFactor.PAYMENT_FAILURE,
    Detector.CHURN_RISK: RiskFactor.HIGH_CHURN_RISK,
}
"""The churn campaign's risk factor each detector raises."""

LABELS: dict[Detector, str] = {
    Detector.USAGE_DROP: "usage drop",
    Detector.SUPPORT_SPIKE: "support spike",
    Detector.NEGATIVE_SENTIMENT: "negative-sentiment streak",
    Detector.CHAMPION_CHANGE: "champion change",
    Detector.PAYMENT_TROUBLE: "payment trouble",
    Detector.CHURN_RISK: "high churn risk",
}


# ------------------------------------------------------------------ the playbook
class UsageDropRule(_Strict):
    metric: str = Field(default="cshub_active_users", min_length=1)
    lag_weeks: int = Field(default=4, ge=1, le=26)
    baseline_weeks: int = Field(default=4, ge=1, le=26)
    min_baseline_weeks: int = Field(default=3, ge=1, le=26)
    min_baseline: float = Field(default=5, ge=0)
    raise_at_drop: float = Field(default=0.30, gt=0, lt=1)
    clear_below_drop: float = Field(default=0.15, ge=0, lt=1)

    @model_validator(mode="after")
    def _order(self) -> UsageDropRule:
        if self.clear_below_drop > self.raise_at_drop:
            raise ValueError("clear_below_drop must not be above raise_at_drop")
        if self.min_baseline_weeks > self.baseline_weeks:
            raise ValueError("min_baseline_weeks must not be above baseline_weeks")
        return self

    @property
    def keep_weeks(self) -> int:
        return self.lag_weeks + self.baseline_weeks


class SupportSpikeRule(_Strict):
    raise_ratio: float = Field(default=2.0, ge=1)
    raise_min_tickets: int = Field(default=3, ge=1)
    clear_ratio: float = Field(default=1.5, ge=1)
    clear_min_tickets: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _order(self) -> SupportSpikeRule:
        if self.clear_ratio > self.raise_ratio or self.clear_min_tickets > self.raise_min_tickets:
            raise ValueError("the clear thresholds must not be above the raise thresholds")
        return self


class SentimentStreakRule(_Strict):
    streak: int = Field(default=3, ge=1, le=10)
    within_days: int = Field(default=60, ge=1, le=365)


class ChampionRule(_Strict):
    active_days: int = Field(default=60, ge=1, le=365)
    statuses: list[str] = Field(default_factory=lambda: ["left", "bouncing"], min_length=1)


class PaymentRule(_Strict):
    statuses: list[str] = Field(default_factory=lambda: ["past_due", "failed"], min_length=1)


class ChurnRiskRule(_Strict):
    """When the churn-risk model's estimate (percent, next ``horizon_days``) starts an
    episode, and when the model is trusted to take part in decisions at all."""

    high_risk: float = Field(default=50, gt=0, le=100)
    clear_below: float = Field(default=35, ge=0, le=100)
    min_outcomes: int = Field(
        default=30,
        ge=1,
        description="churned and renewed outcomes (each) the hub must have recorded before "
        "the model decides anything; until then it is scored, written and explained only",
    )
    horizon_days: int = Field(default=90, ge=7, le=730)

    @model_validator(mode="after")
    def _order(self) -> ChurnRiskRule:
        if self.clear_below > self.high_risk:
            raise ValueError("clear_below must not be above high_risk")
        return self


class DetectorRules(_Strict):
    """``playbooks/risk/detectors.yaml``. A detector left out of the file is off."""

    name: str
    version: int = Field(ge=1)
    usage_drop: UsageDropRule | None = None
    support_spike: SupportSpikeRule | None = None
    negative_sentiment: SentimentStreakRule | None = None
    champion_change: ChampionRule | None = None
    payment_trouble: PaymentRule | None = None
    churn_risk: ChurnRiskRule | None = None
    """The churn-risk model's thresholds (None: the model never starts an episode)."""

    def enabled(self) -> list[Detector]:
        """The rule-based detectors that are on (the churn-risk model is not one)."""
        return [
            d
            for d in Detector
            if d is not Detector.CHURN_RISK and getattr(self, d.value) is not None
        ]


# ------------------------------------------------------------------ properties
USAGE_WEEKLY = "cshub_usage_weekly"
"""JSON ``{"2026-W49": 14, ...}``: the usage metric, one figure per ISO week (the last
figure the sweep saw that week), kept for ``lag_weeks + baseline_weeks + 1`` weeks."""
TICKETS_30D = "cshub_tickets_30d"
TICKETS_PREV_30D = "cshub_tickets_prev_30d"
SENTIMENT_RECENT = "cshub_sentiment_recent"
"""JSON list, oldest first: ``[{"at": ISO time, "label": "negative", "score": -0.6,
"quote": "..."}]`` (written by the text classification, last ten kept)."""
CHAMPION_ID = "cshub_champion_contact_id"
CHAMPION_STATUS = "cshub_champion_status"
CHAMPION_SEEN = "cshub_risk_champion_seen"
CHAMPION_CHANGED_AT = "cshub_risk_champion_changed_at"
PAYMENT_STATUS = "cshub_payment_status"
ACTIVE_SIGNS = "cshub_risk_signs"
"""Comma-separated detectors raised now (for reports and CRM views)."""


def since_property(detector: Detector) -> str:
    return f"cshub_risk_{detector.value}_since"


def read_properties(rules: DetectorRules | None = None) -> list[str]:
    """Every company property the detectors read or keep."""
    metric = (rules.usage_drop.metric if rules and rules.usage_drop else None) or (
        UsageDropRule().metric
    )
    return [
        metric,
        USAGE_WEEKLY,
        TICKETS_30D,
        TICKETS_PREV_30D,
        SENTIMENT_RECENT,
        CHAMPION_ID,
        CHAMPION_STATUS,
        CHAMPION_SEEN,
        CHAMPION_CHANGED_AT,
        PAYMENT_STATUS,
        ACTIVE_SIGNS,
        *(since_property(d) for d in Detector),
    ]


# ------------------------------------------------------------------ readings
class Reading(StrEnum):
    RAISE = "raise"
    HOLD = "hold"
    CLEAR = "clear"
    UNKNOWN = "unknown"


class DetectorReading(BaseModel):
    """One detector on one company: what it reads now and the episode it is in."""

    detector: Detector
    factor: RiskFactor
    reading: Reading
    evidence: str
    active: bool = False
    since: datetime | None = None
    raised_now: bool = False

    @property
    def label(self) -> str:
        return LABELS[self.detector]


class RiskRaise(BaseModel):
    """A warning sign to announce to the churn-prevention campaign (once per episode)."""

    detector: Detector
    factor: RiskFactor
    evidence: str
    event_id: str


class RiskVerdict(BaseModel):
    readings: list[DetectorReading] = Field(default_factory=list)
    raised: list[RiskRaise] = Field(default_factory=list)
    properties: dict[str, str] = Field(default_factory=dict)

    @property
    def active(self) -> list[DetectorReading]:
        return [r for r in self.readings if r.active]


def _number(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return value if value is not None and math.isfinite(value) else None


def _time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    text = raw.strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _stamp(at: datetime) -> str:
    t = at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000)
    return t.isoformat(timespec="milliseconds" if t.microsecond else "seconds").replace(
        "+00:00", "Z"
    )


def week_key(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def weeks_back(at: datetime, n: int) -> str:
    return week_key((at.astimezone(UTC) - timedelta(weeks=n)).date())


def parse_weekly(raw: str | None) -> dict[str, float]:
    """``cshub_usage_weekly`` as a dict; anything unreadable counts as no history."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, float] = {}
    for k, v in data.items():
        if isinstance(k, str) and isinstance(v, int | float) and math.isfinite(v):
            out[k] = float(v)
    return out


def record_week(
    series: dict[str, float], value: float | None, at: datetime, keep_weeks: int
) -> dict[str, float]:
    """The series with this week's figure set to ``value`` (when known), weeks older than
    ``keep_weeks`` dropped."""
    out = dict(series)
    if value is not None:
        out[weeks_back(at, 0)] = value
    oldest = weeks_back(at, keep_weeks)
    return {k: out[k] for k in sorted(out) if k >= oldest}


def usage_drop(
    series: Mapping[str, float], at: datetime, rule: UsageDropRule
) -> tuple[Reading, str]:
    current = series.get(weeks_back(at, 0))
    if current is None:
        return Reading.UNKNOWN, f"no {rule.metric} figure this week"
    window = [weeks_back(at, rule.lag_weeks + i) for i in range(rule.baseline_weeks)]
    values = [series[w] for w in window if w in series]
    if len(values) < rule.min_baseline_weeks:
        return Reading.UNKNOWN, (
            f"{len(values)} of {rule.baseline_weeks} baseline weeks recorded "
            f"(needs {rule.min_baseline_weeks})"
        )
    baseline = sum(values) / len(values)
    if baseline < rule.min_baseline:
        return Reading.CLEAR, (
            f"baseline {baseline:g} {rule.metric} is under the minimum volume {rule.min_baseline:g}"
        )
    drop = 1 - current / baseline
    text = (
        f"{rule.metric} {current:g} this week against a baseline of {baseline:.4g} "
        f"({len(values)} weeks from {rule.lag_weeks} weeks ago): "
        f"{'down' if drop >= 0 else 'up'} {abs(drop) * 100:.0f} %"
    )
    if drop >= rule.raise_at_drop - 1e-9:
        return Reading.RAISE, text
    if drop >= rule.clear_below_drop - 1e-9:
        return Reading.HOLD, text
    return Reading.CLEAR, text


def support_spike(
    last_30: float | None, prev_30: float | None, rule: SupportSpikeRule
) -> tuple[Reading, str]:
    if last_30 is None or prev_30 is None:
        return Reading.UNKNOWN, "ticket counts not recorded"
    ratio = "no tickets before" if prev_30 == 0 else f"{last_30 / prev_30:.2g} times"
    text = f"{last_30:g} tickets in the last 30 days against {prev_30:g} the 30 before ({ratio})"
    if last_30 >= rule.raise_min_tickets and last_30 >= rule.raise_ratio * prev_30:
        return Reading.RAISE, text
    if last_30 >= rule.clear_min_tickets and last_30 >= rule.clear_ratio * prev_30:
        return Reading.HOLD, text
    return Reading.CLEAR, text


class SentimentEntry(BaseModel):
    at: datetime
    label: str
    score: float | None = None
    quote: str | None = None


def parse_sentiment(raw: str | None) -> list[SentimentEntry]:
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    out: list[SentimentEntry] = []
    for item in data if isinstance(data, list) else []:
        try:
            out.append(SentimentEntry.model_validate(item))
        except ValueError:
            continue
    return sorted(out, key=lambda e: e.at)


def sentiment_streak(
    entries: list[SentimentEntry], at: datetime, rule: SentimentStreakRule
) -> tuple[Reading, str]:
    recent = [e for e in entries if e.at <= at and at - e.at <= timedelta(days=rule.within_days)]
    if not recent:
        return Reading.CLEAR, f"nothing written in the last {rule.within_days} days"
    run = 0
    for e in reversed(recent):
        if e.label != "negative":
            break
        run += 1
    last = recent[-1]
    quote = f': "{last.quote[:160]}"' if last.quote and last.label == "negative" else ""
    text = f"the last {run} of {len(recent)} texts in {rule.within_days} days negative{quote}"
    if run >= rule.streak:
        return Reading.RAISE, text
    if run >= 1:
        return Reading.HOLD, text
    return Reading.CLEAR, f"the latest text ({last.at:%Y-%m-%d}) was {last.label}"


def champion_change(
    props: Mapping[str, str | None], at: datetime, rule: ChampionRule
) -> tuple[Reading, str, dict[str, str]]:
    """The reading and the properties the sweep keeps (the champion it saw, and when it
    changed)."""
    current = (props.get(CHAMPION_ID) or "").strip()
    seen = (props.get(CHAMPION_SEEN) or "").strip()
    changed_at = _time(props.get(CHAMPION_CHANGED_AT))
    keep: dict[str, str] = {}
    if current and seen and current != seen:
        changed_at = at
        keep[CHAMPION_CHANGED_AT] = _stamp(at)
    if current and current != seen:
        keep[CHAMPION_SEEN] = current
    status = (props.get(CHAMPION_STATUS) or "").strip().lower()
    if status in rule.statuses:
        return Reading.RAISE, f"champion contact {current or '(unknown)'}: {status}", keep
    if changed_at is not None and timedelta(0) <= at - changed_at < timedelta(
        days=rule.active_days
    ):
        return (
            Reading.RAISE,
            f"champion changed on {changed_at:%Y-%m-%d} (now contact {current})",
            keep,
        )
    if not current and not status:
        return Reading.UNKNOWN, "no champion recorded", keep
    return Reading.CLEAR, f"champion contact {current or '(unknown)'} {status or 'active'}", keep


def payment_trouble(status_raw: str | None, rule: PaymentRule) -> tuple[Reading, str]:
    status = (status_raw or "").strip().lower()
    if not status:
        return Reading.UNKNOWN, "no payment status recorded"
    if status in rule.statuses:
        return Reading.RAISE, f"payment status {status}"
    return Reading.CLEAR, f"payment status {status}"


# ------------------------------------------------------------------ episodes
def step(since: datetime | None, reading: Reading, at: datetime) -> tuple[datetime | None, bool]:
    """The episode after this reading (its start, or None) and whether it is announced now.

    Raise starts an episode unless one is on; hold and unknown keep things as they are;
    clear ends the episode. An episode started by this very sweep (a retried page) is
    announced again (same event id: the campaign keeps it once)."""
    if reading is Reading.CLEAR:
        return None, False
    if reading is Reading.RAISE and since is None:
        return at, True
    return since, since is not None and since == at


def evaluate(
    props: Mapping[str, str | None],
    rules: DetectorRules,
    sweep_at: datetime,
    *,
    quiet: bool = False,
) -> RiskVerdict:
    """Every enabled detector on one company at ``sweep_at``: readings, the signs to
    announce and the company properties to write. ``quiet`` (a baseline sweep) records
    episodes without announcing them."""
    at = sweep_at.astimezone(UTC).replace(microsecond=sweep_at.microsecond // 1000 * 1000)
    verdict = RiskVerdict()
    for det in rules.enabled():
        extra: dict[str, str] = {}
        if det is Detector.USAGE_DROP:
            rule_u = rules.usage_drop
            assert rule_u is not None
            series = record_week(
                parse_weekly(props.get(USAGE_WEEKLY)),
                _number(props.get(rule_u.metric)),
                at,
                rule_u.keep_weeks,
            )
            extra[USAGE_WEEKLY] = json.dumps(series, separators=(",", ":"), sort_keys=True)
            reading, evidence = usage_drop(series, at, rule_u)
        elif det is Detector.SUPPORT_SPIKE:
            assert rules.support_spike is not None
            reading, evidence = support_spike(
                _number(props.get(TICKETS_30D)),
                _number(props.get(TICKETS_PREV_30D)),
                rules.support_spike,
            )
        elif det is Detector.NEGATIVE_SENTIMENT:
            assert rules.negative_sentiment is not None
            reading, evidence = sentiment_streak(
                parse_sentiment(props.get(SENTIMENT_RECENT)), at, rules.negative_sentiment
            )
        elif det is Detector.CHAMPION_CHANGE:
            assert rules.champion_change is not None
            reading, evidence, extra = champion_change(props, at, rules.champion_change)
        else:
            assert rules.payment_trouble is not None
            reading, evidence = payment_trouble(props.get(PAYMENT_STATUS), rules.payment_trouble)
        since, announce = step(_time(props.get(since_property(det))), reading, at)
        factor = FACTOR_OF[det]
        verdict.readings.append(
            DetectorReading(
                detector=det,
                factor=factor,
                reading=reading,
                evidence=evidence,
                active=since is not None,
                since=since,
                raised_now=announce and not quiet,
            )
        )
        verdict.properties.update(extra)
        verdict.properties[since_property(det)] = "" if since is None else _stamp(since)
        if announce and not quiet and since is not None:
            verdict.raised.append(
                RiskRaise(
                    detector=det,
                    factor=factor,
                    evidence=f"{LABELS[det]}: {evidence}",
                    event_id=f"risk:{det.value}:{_stamp(since)}",
                )
            )
    verdict.properties[ACTIVE_SIGNS] = ",".join(r.detector.value for r in verdict.active)
    return verdict


def churn_risk_reading(percent: float | None, rule: ChurnRiskRule) -> tuple[Reading, str]:
    if percent is None:
        return Reading.UNKNOWN, "not scored"
    text = f"churn-risk model: {percent:.0f} % in the next {rule.horizon_days} days"
    if percent >= rule.high_risk:
        return Reading.RAISE, f"{text} (high from {rule.high_risk:g} %)"
    if percent >= rule.clear_below:
        return Reading.HOLD, text
    return Reading.CLEAR, text


def evaluate_churn_risk(
    verdict: RiskVerdict,
    props: Mapping[str, str | None],
    rule: ChurnRiskRule,
    percent: float | None,
    sweep_at: datetime,
    *,
    quiet: bool = False,
    deciding: bool = True,
) -> None:
    """The model's estimate as a sign, in ``verdict`` (after :func:`evaluate`): an
    episode from ``high_risk`` until under ``clear_below``, announced once (event id
    ``risk:churn_risk:<since>``). A model that is not ``deciding`` (too few outcomes
    recorded) changes nothing: no episode, no announcement."""
    if not deciding:
        return
    at = sweep_at.astimezone(UTC).replace(microsecond=sweep_at.microsecond // 1000 * 1000)
    det = Detector.CHURN_RISK
    reading, evidence = churn_risk_reading(percent, rule)
    since, announce = step(_time(props.get(since_property(det))), reading, at)
    verdict.readings.append(
        DetectorReading(
            detector=det,
            factor=FACTOR_OF[det],
            reading=reading,
            evidence=evidence,
            active=since is not None,
            since=since,
            raised_now=announce and not quiet,
        )
    )
    verdict.properties[since_property(det)] = "" if since is None else _stamp(since)
    if announce and not quiet and since is not None:
        verdict.raised.append(
            RiskRaise(
                detector=det,
                factor=FACTOR_OF[det],
                evidence=f"{LABELS[det]}: {evidence}",
                event_id=f"risk:{det.value}:{_stamp(since)}",
            )
        )
    verdict.properties[ACTIVE_SIGNS] = ",".join(r.detector.value for r in verdict.active)
