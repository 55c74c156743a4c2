"""The ops alert's Slack message: what failed, where, for whom, and what it means."""

from __future__ import annotations

import json

import pytest
from jinja2 import UndefinedError

from domain.ops_alerts import OpsAlert
from templates.renderer import render_slack
from tests.templates.test_rendering import SLACK_REQUIRED

NAME = "ops_failure"


def alert(**overrides: object) -> OpsAlert:
    values: dict[str, object] = {
        "kind": "activity_failed",
        "workflow_id": "onboarding-1003",
        "run_id": "0197-run",
        "workflow_type": "OnboardingWorkflow",
        "customer_id": "1003",
        "activity": "send_customer_email",
        "gave_up": "retry budget spent",
        "error": "smtp: 421 service not available",
        "idempotency_key": "ops/onboarding-1003/0197-run/activity-7",
    }
    values.update(overrides)
    return OpsAlert.model_validate(values)


def test_activity_failure_names_workflow_customer_activity_and_error() -> None:
    msg = render_slack(NAME, alert().model_dump())
    assert msg.text == (
        ":warning: Step failed after its retries: onboarding-1003 (customer 1003): "
        "smtp: 421 service not available"
    )
    body = msg.blocks[1]["text"]["text"]
    assert "`send_customer_email` (retry budget spent)" in body
    assert "goes on without it" in body


def test_workflow_failure_without_customer_says_it_stopped() -> None:
    msg = render_slack(
        NAME,
        alert(kind="workflow_failed", customer_id=None, activity=None, gave_up=None).model_dump(),
    )
    assert "Workflow failed: onboarding-1003 (no single customer)" in msg.text
    body = msg.blocks[1]["text"]["text"]
    assert "has stopped" in body and "Activity" not in body


def test_hostile_error_text_stays_inert() -> None:
    msg = render_slack(NAME, alert(error="<!channel> boom *bold*").model_dump())
    assert "<!channel>" not in json.dumps(msg.blocks) and "<!channel>" not in msg.text


def test_required_keys_are_exact() -> None:
    required = SLACK_REQUIRED[NAME]
    ctx = alert().model_dump()
    render_slack(NAME, {k: v for k, v in ctx.items() if k in required})
    for key in sorted(required):
        with pytest.raises(UndefinedError, match=key):
            render_slack(NAME, {k: v for k, v in ctx.items() if k in required and k != key})


def test_stuck_workflow_says_it_waits_for_a_fix() -> None:
    msg = render_slack(
        NAME,
        alert(
            kind="workflow_task_failed", customer_id=None, activity=None, gave_up=None
        ).model_dump(),
    )
    assert msg.text.startswith(":warning: Workflow stuck: onboarding-1003 (no single customer)")
    body = msg.blocks[1]["text"]["text"]
    assert "the workflow waits and Temporal retries the task" in body


def test_rejected_command_names_the_signal_and_says_it_was_not_applied() -> None:
    msg = render_slack(
        NAME,
        alert(
            kind="command_rejected",
            activity=None,
            gave_up=None,
            command="pause",
            error='pause {"reasn": "x"}: pause: unknown field "reasn" (pause takes: reason)',
        ).model_dump(),
    )
    assert msg.text.startswith(":warning: Command rejected: onboarding-1003 (customer 1003): ")
    body = msg.blocks[1]["text"]["text"]
    assert "*Signal:* `pause`" in body and "NOT applied" in body and "Activity" not in body
