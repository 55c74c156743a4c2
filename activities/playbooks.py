"""Load a playbook file once, at the start of a workflow (file I/O is not deterministic)."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import playbook_errors
from activities.models import LoadPlanRequest
from domain.onboarding_plan import OnboardingPlan
from domain.strict_yaml import load_yaml_file
from playbooks.loader import PlaybookError, load_onboarding_plan, playbooks_dir, prepare_playbook


@activity.defn(name="load_onboarding_plan")
def load_onboarding_plan_activity(req: LoadPlanRequest) -> OnboardingPlan:
    with playbook_errors():
        return load_onboarding_plan(req.plan)


class LoadPlaybookRequest(BaseModel):
    kind: str = Field(pattern=r"^[a-z][a-z_]*$")


@activity.defn(name="load_playbook")
def load_playbook_activity(req: LoadPlaybookRequest) -> dict[str, Any]:
    """``playbooks/<kind>.yaml`` as plain data; the workflow validates it with its own
    model (and keeps it for the rest of its life)."""
    path = playbooks_dir() / f"{req.kind}.yaml"
    try:
        raw = load_yaml_file(path)
    except FileNotFoundError:
        raise ApplicationError(
            f"{path}: playbook not found", type="PlaybookError", non_retryable=True
        ) from None
    except yaml.YAMLError as exc:
        raise ApplicationError(
            f"{path}: not valid YAML: {exc}", type="PlaybookError", non_retryable=True
        ) from None
    if not isinstance(raw, dict):
        raise ApplicationError(
            f"{path}: must be a mapping of fields", type="PlaybookError", non_retryable=True
        )
    try:
        # SLA calendars: holiday rules expanded to dates here, outside the workflow, so
        # they travel in this result (the workflow's history) and replay as they were.
        today = activity.info().current_attempt_scheduled_time.date()  # the server's clock
        prepared: dict[str, Any] = prepare_playbook(req.kind, raw, path, today)
    except PlaybookError as exc:
        raise ApplicationError(str(exc), type="PlaybookError", non_retryable=True) from None
    return prepared
