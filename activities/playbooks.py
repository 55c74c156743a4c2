"""Load a playbook file once, at the start of a workflow (file I/O is not deterministic)."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.models import LoadPlanRequest
from domain.onboarding_plan import OnboardingPlan
from playbooks.loader import PlaybookError, load_onboarding_plan


@activity.defn(name="load_onboarding_plan")
def load_onboarding_plan_activity(req: LoadPlanRequest) -> OnboardingPlan:
    try:
        return load_onboarding_plan(req.plan)
    except PlaybookError as exc:
        # A broken or missing plan file will not fix itself by retrying quickly, but an
        # operator may fix it: fail this attempt loudly, let the workflow decide.
        raise ApplicationError(str(exc), type="PlaybookError", non_retryable=True) from exc
