"""The portfolio's health at a glance: what ``cshub report health`` prints and charts, and
what the weekly CSM digest lists. Pure: no I/O, no Temporal.

The input is what the health sweep wrote on each CRM company
(:mod:`domain.health_properties`): the category (machine key), score, delta and so on,
all strings. :func:`account_health` reads one company; :func:`build_portfolio_health`
sums them up; :func:`render_text` lays the result out for a terminal;
:func:`csm_digests` groups the accounts that need attention by CSM.

Reading rules (the sweep's own conventions):

- The category property is the truth. A company without one (never swept) or with a
  value that is no :class:`HealthCategory` counts as ``unknown``; its score, if any
  (e.g. typed in by hand before the sweep existed), is ignored, so "average score" is
  the average over companies the sweep actually scored.
- The trend is the delta property (score minus previous score); when it is blank but
  both scores are there it is computed. Blank: no trend (first sweep or unknown score).
- ``at risk`` in the report means the ``at_risk`` and ``critical`` categories, listed
  worst first: critical before at risk, then lowest score, then the steepest drop.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, Field

from domain import health_properties as hp
from domain.health_model import HealthCategory
from domain.text_table import table_lines
from domain.tiers import Tier

CATEGORY_ORDER: tuple[HealthCategory, ...] = (
    HealthCategory.HEALTHY,
    HealthCategory.GOOD,
    HealthCategory.AT_RISK,
    HealthCategory.CRITICAL,
    HealthCategory.UNKNOWN,
)
"""Best first, unknown last: the order of every table and chart."""

NEEDS_ATTENTION: frozenset[HealthCategory] = frozenset(
    {HealthCategory.AT_RISK, HealthCategory.CRITICAL}
)
CATEGORY_TITLES: dict[HealthCategory, str] = {
    HealthCategory.HEALTHY: "Healthy",
    HealthCategory.GOOD: "Good",
    HealthCategory.AT_RISK: "At risk",
    HealthCategory.CRITICAL: "Critical",
    HealthCategory.UNKNOWN: "Unknown",
}
"""Model-independent titles (each model has its own labels: seed 003's "Neutral" is
``good``); the model's own label is kept per account in ``category_label``."""

NO_TIER = "(no tier)"
"""How a company without ``cshub_tier`` shows in the tier table."""

READ_PROPERTIES: tuple[str, ...] = (
    hp.SCORE,
    hp.CATEGORY,
    hp.CATEGORY_LABEL,
    hp.MODEL,
    hp.LOW_CONFIDENCE,
    hp.PREVIOUS_SCORE,
    hp.DELTA,
    hp.SCORED_AT,
    "cshub_text_themes",
    "cshub_risk_signs",
)
"""The sweep's output properties the report reads (besides name, tier and owner), and
the risk-intelligence ones: what customers wrote (themes) and the warning signs raised."""


def _themes(raw: str | None) -> dict[str, int]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, int) and v >= 0}


# Severity for "worst first": critical, then at risk, then the rest.
_SEVERITY = {
    HealthCategory.CRITICAL: 0,
    HealthCategory.AT_RISK: 1,
    HealthCategory.GOOD: 2,
    HealthCategory.HEALTHY: 3,
    HealthCategory.UNKNOWN: 4,
}


class AccountHealth(BaseModel):
    """One company as the sweep last scored it."""

    id: str
    name: str
    tier: str | None = None
    owner_id: str | None = None
    owner_name: str | None = None
    category: HealthCategory = HealthCategory.UNKNOWN
    category_label: str | None = None
    score: float | None = None
    previous_score: float | None = None
    delta: float | None = None
    low_confidence: bool = False
    model: str | None = None
    scored_at: str | None = None
    """ISO time of the sweep that wrote the score, as the CRM holds it."""
    themes: dict[str, int] = Field(default_factory=dict)
    """What the customer wrote, counted (``cshub_text_themes``: texts, labels, signals)."""
    risk_signs: list[str] = Field(default_factory=list)
    """Warning signs raised now (``cshub_risk_signs``)."""

    @property
    def needs_attention(self) -> bool:
        return self.category in NEEDS_ATTENTION


class CategoryCount(BaseModel):
    category: HealthCategory
    count: int
    percent: float
    """Share of all companies, 0-100, one decimal."""


class TierRow(BaseModel):
    tier: str
    """A plan tier, or :data:`NO_TIER`."""
    counts: dict[HealthCategory, int]
    """Every category, zeros included."""
    total: int


class Trend(BaseModel):
    improving: int = 0
    declining: int = 0
    unchanged: int = 0
    no_trend: int = 0
    """Companies whose delta is unknown (first sweep, unknown score, never swept)."""
    average_delta: float | None = None
    """Mean delta of the companies that have one, two decimals."""


class OwnerSummary(BaseModel):
    """One CSM's book of business (``owner_id`` None: companies without an owner)."""

    owner_id: str | None
    owner_name: str | None = None
    accounts: int
    at_risk: int
    critical: int
    declining: int
    average_score: float | None


class PortfolioHealth(BaseModel):
    total: int
    scored: int
    """Companies in a known category (not ``unknown``)."""
    never_scored: int
    """Of the unknown ones, those with no category at all (the sweep never wrote one)."""
    categories: list[CategoryCount]
    tiers: list[TierRow]
    average_score: float | None
    """Mean score of the scored companies, two decimals (None: none scored)."""
    trend: Trend
    low_confidence: int
    models: dict[str, int] = Field(default_factory=dict)
    """``seed001 v1`` -> companies it scored (a model change shows as two entries)."""
    last_scored_at: str | None = None
    """The latest ``cshub_health_scored_at`` seen: when the newest sweep wrote."""
    owners: list[OwnerSummary] = Field(default_factory=list)
    at_risk: list[AccountHealth]
    """``at_risk`` and ``critical`` companies, worst first."""
    warnings: list[str] = Field(default_factory=list)
    themes: dict[str, int] = Field(default_factory=dict)
    """What customers wrote, summed over the portfolio (texts, labels, intent signals)."""
    risk_signs: dict[str, int] = Field(default_factory=dict)
    """Companies with each warning sign raised now."""

    def count(self, category: HealthCategory) -> int:
        return next(c.count for c in self.categories if c.category is category)


class CsmDigest(BaseModel):
    """What one CSM is told in the weekly digest: their accounts that need attention."""

    owner_id: str
    accounts: list[AccountHealth]
    """``at_risk`` and ``critical``, worst first."""
    owned_accounts: int
    """All the CSM's companies, for "3 of your 12 accounts"."""

    @property
    def critical(self) -> int:
        return sum(1 for a in self.accounts if a.category is HealthCategory.CRITICAL)

    @property
    def at_risk(self) -> int:
        return sum(1 for a in self.accounts if a.category is HealthCategory.AT_RISK)

    @property
    def declining(self) -> int:
        return sum(1 for a in self.accounts if a.delta is not None and a.delta < 0)


# ---------------------------------------------------------------------------- reading


def parse_number(value: str | None) -> float | None:
    """A finite number from a CRM string (``"72.5"``, ``"-3"``); None when blank or not
    a number."""
    if value is None or not value.strip():
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_category(value: str | None) -> HealthCategory | None:
    """The category key, or None when blank or not one of :class:`HealthCategory`."""
    if value is None or not value.strip():
        return None
    try:
        return HealthCategory(value.strip().lower())
    except ValueError:
        return None


def normalize_tier(tier: str | None) -> str | None:
    if tier is None or not tier.strip():
        return None
    return tier.strip().lower()


def account_health(
    *,
    id: str,
    name: str,
    tier: str | None,
    owner_id: str | None,
    properties: Mapping[str, str | None],
) -> AccountHealth:
    """One company's health as the sweep recorded it in ``properties``."""
    category = parse_category(properties.get(hp.CATEGORY)) or HealthCategory.UNKNOWN
    known = category is not HealthCategory.UNKNOWN
    score = parse_number(properties.get(hp.SCORE)) if known else None
    previous = parse_number(properties.get(hp.PREVIOUS_SCORE)) if known else None
    delta = parse_number(properties.get(hp.DELTA)) if known else None
    if delta is None and score is not None and previous is not None:
        delta = round(score - previous, 2)
    label = (properties.get(hp.CATEGORY_LABEL) or "").strip() or None
    model = (properties.get(hp.MODEL) or "").strip() or None
    scored_at = (properties.get(hp.SCORED_AT) or "").strip() or None
    return AccountHealth(
        id=id,
        name=name,
        tier=normalize_tier(tier),
        owner_id=(owner_id or "").strip() or None,
        category=category,
        category_label=label if known else None,
        score=score,
        previous_score=previous,
        delta=delta,
        low_confidence=(properties.get(hp.LOW_CONFIDENCE) or "").strip().lower() == "true",
        model=model if known else None,
        scored_at=scored_at,
        themes=_themes(properties.get("cshub_text_themes")),
        risk_signs=[x for x in (properties.get("cshub_risk_signs") or "").split(",") if x],
    )


# ---------------------------------------------------------------------------- summing up


def worst_first(accounts: Iterable[AccountHealth]) -> list[AccountHealth]:
    """Critical before at risk, then lowest score (unknown last), steepest drop, name."""

    def key(a: AccountHealth) -> tuple[int, float, float, str, str]:
        score = a.score if a.score is not None else math.inf
        delta = a.delta if a.delta is not None else math.inf
        return (_SEVERITY[a.category], score, delta, a.name.lower(), a.id)

    return sorted(accounts, key=key)


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _percent(count: int, total: int) -> float:
    return round(100 * count / total, 1) if total else 0.0


def _tier_order(tiers: Iterable[str | None]) -> list[str]:
    present = set(tiers)
    known = [t.value for t in Tier]
    others = sorted(t for t in present if t is not None and t not in known)
    return [*known, *others, *([NO_TIER] if None in present else [])]


def _owner_order(owner_id: str | None) -> tuple[int, int, str]:
    if owner_id is None:
        return (2, 0, "")
    return (0, int(owner_id), "") if owner_id.isdigit() else (1, 0, owner_id)


def build_portfolio_health(
    accounts: Iterable[AccountHealth],
    owner_names: Mapping[str, str] | None = None,
    warnings: Sequence[str] = (),
) -> PortfolioHealth:
    """Sum the accounts up. ``owner_names`` (owner id -> name) fills ``owner_name``."""
    names = dict(owner_names or {})
    items = [
        a.model_copy(update={"owner_name": names[a.owner_id]}) if a.owner_id in names else a
        for a in accounts
    ]
    total = len(items)
    by_category = Counter(a.category for a in items)
    scored = [a for a in items if a.category is not HealthCategory.UNKNOWN]
    scores = [a.score for a in scored if a.score is not None]
    deltas = [a.delta for a in items if a.delta is not None]

    tier_counts: dict[str, Counter[HealthCategory]] = {}
    for a in items:
        tier_counts.setdefault(a.tier or NO_TIER, Counter())[a.category] += 1
    tiers = [
        TierRow(
            tier=tier,
            counts={c: tier_counts.get(tier, Counter())[c] for c in CATEGORY_ORDER},
            total=sum(tier_counts.get(tier, Counter()).values()),
        )
        for tier in _tier_order(a.tier for a in items)
    ]

    by_owner: dict[str | None, list[AccountHealth]] = {}
    for a in items:
        by_owner.setdefault(a.owner_id, []).append(a)
    owners = [
        OwnerSummary(
            owner_id=owner_id,
            owner_name=names.get(owner_id) if owner_id else None,
            accounts=len(owned),
            at_risk=sum(1 for a in owned if a.category is HealthCategory.AT_RISK),
            critical=sum(1 for a in owned if a.category is HealthCategory.CRITICAL),
            declining=sum(1 for a in owned if a.delta is not None and a.delta < 0),
            average_score=_mean([a.score for a in owned if a.score is not None]),
        )
        for owner_id, owned in sorted(by_owner.items(), key=lambda kv: _owner_order(kv[0]))
    ]

    stamps = [a.scored_at for a in items if a.scored_at]
    return PortfolioHealth(
        total=total,
        scored=len(scored),
        never_scored=sum(
            1 for a in items if a.category is HealthCategory.UNKNOWN and a.scored_at is None
        ),
        categories=[
            CategoryCount(category=c, count=by_category[c], percent=_percent(by_category[c], total))
            for c in CATEGORY_ORDER
        ],
        tiers=tiers,
        average_score=_mean(scores),
        trend=Trend(
            improving=sum(1 for d in deltas if d > 0),
            declining=sum(1 for d in deltas if d < 0),
            unchanged=sum(1 for d in deltas if d == 0),
            no_trend=total - len(deltas),
            average_delta=_mean(deltas),
        ),
        low_confidence=sum(1 for a in scored if a.low_confidence),
        models=dict(sorted(Counter(a.model for a in scored if a.model).items())),
        last_scored_at=max(stamps) if stamps else None,
        owners=owners,
        at_risk=worst_first(a for a in items if a.needs_attention),
        warnings=list(warnings),
        themes=dict(sorted(sum((Counter(a.themes) for a in items), Counter()).items())),
        risk_signs=dict(sorted(Counter(x for a in items for x in a.risk_signs).items())),
    )


def csm_digests(
    accounts: Iterable[AccountHealth], *, only_owner_id: str | None = None
) -> list[CsmDigest]:
    """Per CSM (owner id, in id order), their ``at_risk``/``critical`` accounts, worst
    first. CSMs with none get no digest; accounts without an owner are in no digest
    (see :func:`unowned_needing_attention`)."""
    owned: Counter[str] = Counter()
    attention: dict[str, list[AccountHealth]] = {}
    for a in accounts:
        if a.owner_id is None or (only_owner_id is not None and a.owner_id != only_owner_id):
            continue
        owned[a.owner_id] += 1
        if a.needs_attention:
            attention.setdefault(a.owner_id, []).append(a)
    return [
        CsmDigest(owner_id=owner_id, accounts=worst_first(listed), owned_accounts=owned[owner_id])
        for owner_id, listed in sorted(attention.items(), key=lambda kv: _owner_order(kv[0]))
    ]


def unowned_needing_attention(accounts: Iterable[AccountHealth]) -> list[AccountHealth]:
    """``at_risk``/``critical`` accounts no CSM owns: nobody's digest lists them."""
    return worst_first(a for a in accounts if a.owner_id is None and a.needs_attention)


# ---------------------------------------------------------------------------- the text

AT_RISK_SHOWN = 25


def format_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}".rstrip("0").rstrip(".")


def format_delta(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + format_score(abs(value))


def _table(rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    return table_lines(rows, right)  # aligned in screen cells (CJK, accents)


def theme_lines(themes: Mapping[str, int], risk_signs: Mapping[str, int]) -> list[str]:
    """Risk intelligence in a report: what customers wrote and the warning signs."""
    out: list[str] = []
    if themes:
        texts = themes.get("texts", 0)
        labels = ", ".join(
            f"{k} {themes[k]}" for k in ("negative", "neutral", "positive") if k in themes
        )
        signals = {
            k: v for k, v in themes.items() if k not in {"texts", "negative", "neutral", "positive"}
        }
        out.append(f"what customers wrote: {texts} texts ({labels or '-'})")
        if signals:
            ranked = sorted(signals.items(), key=lambda kv: (-kv[1], kv[0]))
            out.append("  themes: " + ", ".join(f"{k} {v}" for k, v in ranked))
    if risk_signs:
        out.append("warning signs raised: " + ", ".join(f"{k} {v}" for k, v in risk_signs.items()))
    return out


def render_text(report: PortfolioHealth, *, at_risk_shown: int = AT_RISK_SHOWN) -> str:
    """The report as aligned plain text for a terminal."""
    r = report
    head = f"Portfolio health: {r.total} companies, {r.scored} scored"
    if r.never_scored:
        head += f", {r.never_scored} never scored"
    lines = [head]
    if r.last_scored_at:
        lines.append(f"last sweep: {r.last_scored_at}")
    if r.models:
        lines.append("models: " + ", ".join(f"{m} ({n})" for m, n in r.models.items()))
    lines.append("")

    rows: list[tuple[str, ...]] = [("category", "companies", "share")]
    rows += [
        (CATEGORY_TITLES[c.category], str(c.count), f"{c.percent:.1f} %") for c in r.categories
    ]
    lines += _table(rows, (False, True, True))
    lines.append("")

    rows = [("tier", *(CATEGORY_TITLES[c] for c in CATEGORY_ORDER), "total")]
    rows += [(t.tier, *(str(t.counts[c]) for c in CATEGORY_ORDER), str(t.total)) for t in r.tiers]
    lines += _table(rows, (False, *([True] * (len(CATEGORY_ORDER) + 1))))
    lines.append("")

    t = r.trend
    lines.append(f"average score: {format_score(r.average_score)} (of {r.scored} scored)")
    lines.append(
        f"average delta: {format_delta(t.average_delta)} (improving {t.improving}, "
        f"declining {t.declining}, unchanged {t.unchanged}, no trend {t.no_trend})"
    )
    lines.append(f"low confidence: {r.low_confidence}")
    lines += theme_lines(r.themes, r.risk_signs)

    if r.owners:
        lines += ["", "by CSM:"]
        rows = [("CSM", "accounts", "at risk", "critical", "declining", "avg score")]
        rows += [
            (
                _owner(o.owner_id, o.owner_name),
                str(o.accounts),
                str(o.at_risk),
                str(o.critical),
                str(o.declining),
                format_score(o.average_score),
            )
            for o in r.owners
        ]
        lines += ["  " + line for line in _table(rows, (False, True, True, True, True, True))]

    lines += ["", f"at risk or critical: {len(r.at_risk)} (worst first)"]
    if r.at_risk:
        rows = [("score", "delta", "category", "tier", "company", "CSM")]
        rows += [
            (
                format_score(a.score),
                format_delta(a.delta),
                CATEGORY_TITLES[a.category],
                a.tier or "-",
                f"{a.name} ({a.id})",
                _owner(a.owner_id, a.owner_name),
            )
            for a in r.at_risk[:at_risk_shown]
        ]
        lines += ["  " + line for line in _table(rows, (True, True, False, False, False, False))]
        if len(r.at_risk) > at_risk_shown:
            lines.append(f"  ... and {len(r.at_risk) - at_risk_shown} more (see --json)")
    if r.warnings:
        lines += ["", "warnings:"] + [f"  {w}" for w in r.warnings]
    return "\n".join(lines)


def _owner(owner_id: str | None, name: str | None) -> str:
    if owner_id is None:
        return "(no owner)"
    return f"{name} ({owner_id})" if name else f"owner {owner_id}"
