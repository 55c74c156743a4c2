"""Ops alerts: the one Slack message ops get when the hub stops doing something itself.

Three things raise one: an activity that still fails after its retry budget (or fails
permanently), a workflow that fails, and a workflow *task* that fails (a bug or a
non-deterministic change in workflow code: the workflow waits, Temporal retries the task). Each is reported once, to
``SLACK_OPS_CHANNEL``, with the workflow id, the customer and the error; a workflow
failing *because* of an activity already reported is not reported again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

OPS_ALERT_PATCH = "ops-alerts"
"""``workflow.patched`` name: workflows whose history predates ops alerts replay without."""

MAX_ERROR_CHARS = 1500

OpsAlertKind = Literal[
    "activity_failed", "workflow_failed", "workflow_task_failed", "command_rejected"
]
"""``command_rejected``: a steering signal whose payload did not fit (not applied)."""


class OpsAlert(BaseModel):
    """Input of the ``alert_ops`` activity."""

    model_config = ConfigDict(extra="forbid")

    kind: OpsAlertKind
    workflow_id: str
    run_id: str
    workflow_type: str
    customer_id: str | None = None
    activity: str | None = None
    """The activity type that failed (``kind == "activity_failed"``)."""
    gave_up: str | None = None
    """Why Temporal stopped retrying it: "permanent error", "retry budget spent", ..."""
    command: str | None = None
    """The signal refused (``kind == "command_rejected"``)."""
    error: str
    idempotency_key: str


def ops_alert_key(workflow_id: str, run_id: str, what: str) -> str:
    """One key per failure: ``ops/{workflow id}/{run id}/{activity id or "workflow"}``."""
    return f"ops/{workflow_id}/{run_id}/{what}"


def clip_error(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
