"""Experiment assignment as a workflow step: ask once at the start of a play, tag the
workflow (search attributes ``Experiment`` and ``Variant``), keep the answer.

Used by the onboarding workflow behind ``workflow.patched(EXPERIMENT_PATCH)``: journeys
started before experiments existed replay without the step, and a running journey never
asks again (the arm lives in its state and survives continue-as-new).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.experiments import AssignExperimentRequest, ExperimentActivities
    from domain import search_attributes as sa
    from domain.experiments import ExperimentAssignment, PlayKind
    from domain.tiers import Tier
    from workflows.common import LOOKUP_RETRY

EXPERIMENT_PATCH = "experiment-assignment"


async def assign_experiment(
    play: PlayKind, customer_id: str, tier: Tier | None, started_at: datetime
) -> tuple[ExperimentAssignment | None, str | None]:
    """(the arm, None), (None, None) outside any experiment, or (None, why) when the
    assignment failed for good: the journey then runs outside the experiment (ops were
    alerted by the failed activity) and records why."""
    try:
        assignment: ExperimentAssignment | None = await workflow.execute_activity_method(
            ExperimentActivities.assign_experiment,
            AssignExperimentRequest(
                play=play,
                customer_id=customer_id,
                tier=tier,
                started_at=started_at,
                at=workflow.now(),
            ),
            start_to_close_timeout=timedelta(minutes=1),
            schedule_to_close_timeout=timedelta(hours=1),
            retry_policy=LOOKUP_RETRY,
            summary="draw the customer's experiment arm",
        )
    except ActivityError as err:
        cause = err.cause.message if isinstance(err.cause, ApplicationError) else str(err)
        return None, cause
    if assignment is not None:
        workflow.upsert_search_attributes(
            [
                sa.EXPERIMENT.value_set(assignment.experiment),
                sa.VARIANT.value_set(assignment.arm),
            ]
        )
    return assignment, None
