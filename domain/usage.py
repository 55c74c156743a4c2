"""Product-usage snapshots: the figures the product reports per customer, and how they
become the CRM company properties the health model reads (``domain.health_model.INPUTS``).

The product posts ``usage_snapshot`` events to ``POST /webhooks/product``; each lands on
``UsageSnapshotWorkflow`` (id ``usage-{customer_id}``), which writes the figures it
carries (any subset) plus ``cshub_usage_as_of`` (the snapshot's time) on the company. A
snapshot older than the company's ``cshub_usage_as_of`` is dropped whole: the CRM keeps
the newer figures.

Pure: no I/O, no Temporal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.health_model import INPUTS
from domain.journeys import CUSTOMER_ID_PATTERN, Message
from domain.steering import SteeringState, SteeringStatus

USAGE_AS_OF = "cshub_usage_as_of"
"""ISO 8601 UTC time (milliseconds, ``Z``) of the snapshot the usage properties come from."""

MAX_FIGURE = 1_000_000_000_000
"""Sanity bound on any figure (and what keeps numbers out of exponent notation)."""

FIGURE_INPUTS: dict[str, str] = {
    "active_users": "active_users",
    "licensed_seats": "licensed_seats",
    "features_adopted": "features_adopted",
    "features_available": "features_available",
    "workflow_runs": "workflow_runs",
    "workflow_limit": "workflow_limit",
    "login_days_30d": "login_days_last_30",
}
"""Snapshot figure → health input (whose CRM property it is written to)."""

FIGURE_PROPERTIES: dict[str, str] = {
    figure: INPUTS[name].property for figure, name in FIGURE_INPUTS.items()
}
"""Snapshot figure → CRM company property, e.g. ``login_days_30d`` → ``cshub_login_days_30d``."""

USAGE_PROPERTIES: tuple[str, ...] = (*FIGURE_PROPERTIES.values(), USAGE_AS_OF)
"""Every CRM company property a snapshot may write."""

Figure = Annotated[float, Field(strict=True, ge=0, le=MAX_FIGURE, allow_inf_nan=False)]


def usage_workflow_id(customer_id: str) -> str:
    return f"usage-{customer_id}"


class UsageFigures(BaseModel):
    """The product's current figures for one customer: any subset, at least one. Numbers
    (not strings, not booleans), none negative. Other fields are ignored, so the product
    may report figures the hub does not use (yet)."""

    model_config = ConfigDict(extra="ignore")

    active_users: Figure | None = Field(None, description="users active in the last 30 days")
    licensed_seats: Figure | None = Field(None, description="seats on the plan")
    features_adopted: Figure | None = Field(None, description="features used, last 30 days")
    features_available: Figure | None = Field(None, description="features the plan includes")
    workflow_runs: Figure | None = Field(None, description="workflow runs this billing month")
    workflow_limit: Figure | None = Field(None, description="the plan's monthly workflow limit")
    login_days_30d: Figure | None = Field(
        None, le=31, description="days with at least one login, last 30 days (0-31)"
    )

    @model_validator(mode="after")
    def _at_least_one(self) -> UsageFigures:
        if not self.given():
            raise ValueError(f"give at least one of {', '.join(FIGURE_PROPERTIES)}")
        return self

    def given(self) -> dict[str, float]:
        """The figures present, in field order."""
        return {
            name: value for name in FIGURE_PROPERTIES if (value := getattr(self, name)) is not None
        }


class UsageSnapshot(Message):
    """Signal ``snapshot`` of ``UsageSnapshotWorkflow``: one product report.
    ``{"occurred_at": "2026-03-02T09:00:00Z", "figures": {"active_users": 12}}``"""

    occurred_at: datetime = Field(description="When the product took the figures")
    figures: UsageFigures
    event_id: str | None = Field(default=None, description="Sender's id; duplicates ignored")


class UsageRecord(BaseModel):
    """One snapshot the workflow handled, as shown by the ``progress`` query."""

    at: datetime
    occurred_at: datetime
    event_id: str | None = None
    outcome: str  # applied | skipped | duplicate | failed | not_applied (skip / cancel)
    detail: str


class UsageSnapshotInput(Message):
    """``{"customer_id": "1001"}``. Started (or joined) by each ``usage_snapshot``; ends
    after ``idle_seconds`` without one. The other fields carry the state across
    continue-as-new."""

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN, description="CRM company id")
    idle_seconds: int = Field(
        default=60, ge=1, le=86_400, description="End after this long without a snapshot"
    )
    seen_event_ids: list[str] = Field(default_factory=list)
    last_applied_as_of: str | None = None
    applied: int = 0
    skipped: int = 0
    failed: int = 0
    recent: list[UsageRecord] = Field(default_factory=list)
    not_applied: int = 0
    steering: SteeringState | None = Field(
        default=None, description="Internal: pause / skip state carried across continue-as-new"
    )


class UsageRecordRequest(Message):
    """Activity ``record_usage_snapshot``: write one snapshot unless the CRM has a newer one."""

    customer_id: str
    snapshot: UsageSnapshot


class UsageRecordResult(BaseModel):
    applied: bool
    as_of: str
    """The snapshot's time as written (``cshub_usage_as_of``)."""
    detail: str


class UsageProgress(BaseModel):
    """Query ``progress`` and the workflow's result."""

    customer_id: str
    applied: int = 0
    skipped: int = 0
    failed: int = 0
    queued: int = 0
    not_applied: int = 0
    """Snapshots received but not written: skipped on request, or queued at a cancel."""
    last_applied_as_of: str | None = None
    recent: list[UsageRecord] = Field(default_factory=list)
    cancelled: bool = False
    """Ended by the ``cancel`` signal (``steering.cancel_reason`` says why)."""
    steering: SteeringStatus = Field(default_factory=SteeringStatus)


def iso_utc(when: datetime) -> str:
    """``2026-03-02T09:00:00.000Z``: UTC, milliseconds (HubSpot's datetime precision); a
    time without zone is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_as_of(value: str | None) -> datetime | None:
    """A ``cshub_usage_as_of`` value read back from the CRM (ISO 8601, or epoch
    milliseconds as HubSpot may return a datetime property); None when blank or
    unreadable (then any snapshot applies)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_older(snapshot_at: datetime, recorded_as_of: str | None) -> bool:
    """True when the snapshot predates what the CRM already holds (compared at the
    millisecond precision the CRM keeps). The same instant is not older: it applies."""
    recorded = parse_as_of(recorded_as_of)
    if recorded is None:
        return False
    written = parse_as_of(iso_utc(snapshot_at))
    assert written is not None
    return written < recorded


def format_figure(value: float) -> str:
    """``12`` for 12.0, ``12.5`` for 12.5 (at most 6 decimals, never exponent notation):
    CRM number properties take plain decimals."""
    if value.is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def snapshot_properties(snapshot: UsageSnapshot) -> dict[str, str]:
    """The CRM company properties one snapshot writes: its figures, and its time."""
    props = {
        FIGURE_PROPERTIES[name]: format_figure(value)
        for name, value in snapshot.figures.given().items()
    }
    props[USAGE_AS_OF] = iso_utc(snapshot.occurred_at)
    return props
