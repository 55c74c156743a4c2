"""Which experiment arm a customer gets when a play starts (``assign_experiment``).

Reads the experiment files (``playbooks/experiments``, cached per file version), finds
the running or stopped experiment on the play whose population includes the customer
(the CRM company's ``cshub_segment`` is read only when an experiment restricts
segments) and returns the arm :func:`domain.experiments.assign` gives, or None. The
workflow records it (search attributes, its timeline, a CRM note) and keeps it: this
activity runs once per journey, at its start, and never for a running one.

A broken experiment file fails the activity for good (ops are alerted, the journey goes
on outside any experiment, and says so); a CRM that does not answer is retried.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import connector_errors
from connectors.base import Crm
from domain.experiments import (
    ExperimentAssignment,
    PlayKind,
    assign,
    pick_experiment,
)
from domain.journeys import CUSTOMER_ID_PATTERN
from domain.tiers import Tier
from playbooks.loader import PlaybookError, load_experiments

SEGMENT_PROPERTY = "cshub_segment"


class AssignExperimentRequest(BaseModel):
    play: PlayKind
    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    tier: Tier | None = None
    started_at: datetime
    """The journey's day 0 (decides the start window)."""
    at: datetime
    """When the assignment is made (the workflow's clock)."""


class ExperimentActivities:
    def __init__(self, crm: Crm) -> None:
        self._crm = crm

    @activity.defn(name="assign_experiment")
    def assign_experiment(self, req: AssignExperimentRequest) -> ExperimentAssignment | None:
        try:
            experiments = load_experiments()
        except PlaybookError as exc:
            raise ApplicationError(
                f"experiment files are invalid, journey runs outside any experiment: {exc}",
                type="PlaybookError",
                non_retryable=True,
            ) from exc
        candidates = [e for e in experiments if e.play is req.play]
        if not candidates:
            return None
        segment: str | None = None
        if any(e.eligibility.segments for e in candidates):
            with connector_errors():
                found = self._crm.batch_read_companies([req.customer_id], [SEGMENT_PROPERTY])
            segment = found[0].properties.get(SEGMENT_PROPERTY) if found else None
        chosen = pick_experiment(
            candidates, req.play, tier=req.tier, segment=segment, started_at=req.started_at
        )
        if chosen is None:
            return None
        assignment = assign(chosen, req.customer_id, req.at)
        activity.logger.info("customer %s: %s", req.customer_id, assignment.describe())
        return assignment
