"""Messages of the health sweep: the scheduled workflow that scores the whole portfolio,
its per-page children, and the per-customer outreach workflows they start."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.health_model import HealthModels
from domain.health_outreach import CompanyHealth, OutreachPlan
from domain.journeys import CUSTOMER_ID_PATTERN, CarryOver, Message
from domain.risk_detectors import DetectorRules

HEALTH_SWEEP_SCHEDULE_ID = "health-sweep"
HEALTH_SWEEP_WORKFLOW_ID = "health-sweep"
"""Started by hand: ``health-sweep``; by the schedule: ``health-sweep-<time>``."""
HEALTH_SWEEP_DRY_RUN_ID = "health-sweep-dry-run"

HUBSPOT_CALLS_PER_10S = 100
"""HubSpot's burst limit for a private app on most plans (100 requests per 10 s)."""


class HealthSweepInput(Message):
    """``{}`` for the defaults; ``{"dry_run": true}`` scores without writing or acting."""

    page_size: int = Field(default=100, ge=1, le=100, description="companies per CRM call")
    max_calls_per_10s: float = Field(
        default=80,
        gt=0,
        le=100_000,
        description="CRM requests the sweep may make per 10 s (HubSpot allows 100 to the "
        "whole app: leave room for the other workflows)",
    )
    dry_run: bool = Field(
        default=False, description="score and count only: no CRM writes, no outreach"
    )
    baseline: bool = Field(
        default=False,
        description="score and write, fire no trigger: the first sweep of a portfolio the "
        "hub has not watched before (otherwise every company already At risk or Critical "
        "alerts at once)",
    )
    risk_detectors: bool = Field(
        default=True,
        description="run the risk detectors (playbooks/risk/detectors.yaml) and announce "
        "new warning signs to the churn-prevention campaigns; false: health scores only",
    )
    max_pages: int | None = Field(default=None, ge=1, description="stop after this many pages")
    pages_per_activity: int = Field(
        default=25,
        ge=1,
        le=50,
        description="pages one activity reads, scores and writes in a row (the next page "
        "is read while the current one is written): fewer Temporal round trips a page",
    )
    pages_per_run: int = Field(
        default=200,
        ge=1,
        le=1000,
        description="pages before the sweep continues as new (keeps its history short)",
    )
    carry_over: CarryOver = None


class SweepCounts(BaseModel):
    """What a page (or a whole sweep) did. Added up page by page."""

    companies: int = 0
    scored: int = 0
    stale: int = Field(default=0, description="already scored by a later sweep: skipped")
    low_confidence: int = 0
    by_category: dict[str, int] = Field(default_factory=dict)
    fired: dict[str, int] = Field(default_factory=dict, description="triggers fired, by name")
    risks: dict[str, int] = Field(
        default_factory=dict, description="warning signs raised (new episodes), by detector"
    )
    outreach_started: int = 0
    churn_started: int = 0
    churn_signalled: int = 0
    churn_signal_failed: int = 0
    crm_calls: int = Field(default=0, description="the pages' own CRM requests")
    outreach_crm_calls: int = Field(
        default=0, description="CRM requests the outreach started is expected to make"
    )

    def add(self, other: SweepCounts) -> None:
        for name in (
            "companies",
            "scored",
            "stale",
            "low_confidence",
            "outreach_started",
            "churn_started",
            "churn_signalled",
            "churn_signal_failed",
            "crm_calls",
            "outreach_crm_calls",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, n in other.by_category.items():
            self.by_category[key] = self.by_category.get(key, 0) + n
        for key, n in other.fired.items():
            self.fired[key] = self.fired.get(key, 0) + n
        for key, n in other.risks.items():
            self.risks[key] = self.risks.get(key, 0) + n


PlaybooksData = dict[str, Any]
""":class:`HealthPlaybooks` as JSON data, the way workflows carry it: validating two
health models (hundreds of validators) inside the workflow sandbox takes seconds on a
busy worker, enough to trip Temporal's deadlock detector. Activities validate it."""


class HealthPlaybooks(BaseModel):
    """The health models and the outreach playbook, loaded once per sweep so every page
    (and every retry of a page) decides with the same files."""

    models: HealthModels
    plan: OutreachPlan
    detectors: DetectorRules | None = None
    """The risk detectors (``playbooks/risk/detectors.yaml``); None in sweeps started
    before they existed."""


class HealthPageInput(Message):
    sweep_id: str
    sweep_at: datetime
    page: int = Field(ge=1, description="the first page of this child")
    after: str | None = None
    page_size: int = Field(default=100, ge=1, le=100)
    pages: int = Field(default=1, ge=1, le=50, description="pages in a row, from ``page``")
    max_calls_per_10s: float | None = Field(
        default=None, gt=0, description="the pace of the activity's own CRM requests"
    )
    dry_run: bool = False
    baseline: bool = False
    playbooks: PlaybooksData


class HealthPageRequest(Message):
    """Input of the ``score_health_page`` activity."""

    sweep_at: datetime
    after: str | None = None
    page_size: int = Field(default=100, ge=1, le=100)
    pages: int = Field(
        default=1,
        ge=1,
        le=50,
        description="pages to do in a row (fewer when the portfolio ends, or when "
        "MAX_ACTIONABLE companies are waiting for outreach)",
    )
    max_calls_per_10s: float | None = Field(
        default=None,
        gt=0,
        description="space the activity's own CRM requests to this rate (None: no pacing, "
        "the workflow paces)",
    )
    dry_run: bool = False
    baseline: bool = False
    playbooks: PlaybooksData


class HealthPageResult(BaseModel):
    """What ``score_health_page`` scored and wrote; ``actionable`` lists only the
    companies with a trigger fired or a running churn campaign to tell. Also the
    activity's heartbeat after each page, so a retry goes on from there."""

    next_after: str | None
    counts: SweepCounts
    actionable: list[CompanyHealth] = Field(default_factory=list)
    pages: int = Field(default=1, description="pages read (and written)")


class PageOutcome(BaseModel):
    page: int
    next_after: str | None
    counts: SweepCounts
    pages: int = 1


class SweepProgress(BaseModel):
    """The ``progress`` query of HealthSweepWorkflow (and its result)."""

    sweep_at: datetime | None = None
    dry_run: bool = False
    pages_done: int = 0
    next_after: str | None = None
    done: bool = False
    counts: SweepCounts = Field(default_factory=SweepCounts)
    runs: int = Field(default=1, description="workflow runs so far (continue-as-new)")


class SweepCarry(BaseModel):
    """What a sweep hands to its continuation (continue-as-new)."""

    progress: SweepProgress
    playbooks: PlaybooksData


class HealthOutreachInput(Message):
    """One customer's outreach from one sweep (started by the sweep, not by hand)."""

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    sweep_id: str
    sweep_at: datetime
    health: CompanyHealth
    plan: OutreachPlan


OUTREACH_WORKFLOW_PREFIX = "health-outreach-"


def outreach_workflow_id(customer_id: str, sweep_at: datetime) -> str:
    return f"{OUTREACH_WORKFLOW_PREFIX}{customer_id}-{sweep_at:%Y%m%dT%H%M%S}"
