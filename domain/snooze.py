"""A journey snoozed from Slack: paused now, resumed at a set time (``ResumeLaterWorkflow``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ResumeLaterInput(BaseModel):
    """``{"workflow_id": "onboarding-1003", "days": 3, "by": "dana"}``: resume it after
    ``days`` (counted on the workflow's clock from its start)."""

    workflow_id: str = Field(min_length=1, max_length=200)
    days: int = Field(ge=1, le=30)
    by: str = ""


def resume_later_workflow_id(workflow_id: str) -> str:
    """One per snoozed workflow: a new snooze replaces the previous one."""
    return f"resume-later-{workflow_id}"
