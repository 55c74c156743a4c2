"""Every alert that asks a CSM to act carries the hub's buttons, each naming the workflow
that raised it and one action the interactivity route understands."""

from __future__ import annotations

import json

import pytest

from domain.slack_actions import AlertAction, parse_action_id, parse_value
from templates.renderer import render_slack
from tests.templates.test_rendering import slack_context

EXPECTED = {
    "milestone_missed": {
        "ack",
        "snooze",
        "milestone_reached",
        "log_call",
        "pause",
        "resume",
        "timeline",
    },
    "customer_replied": {"ack", "resume", "timeline"},
    "health_decline": {"ack", "snooze", "log_call", "timeline"},
    "sla_breach": {"ack", "timeline"},
    "renewal_reminder": {"ack", "log_call", "pause", "resume", "timeline"},
    "renewal_overdue": {"ack", "log_call", "pause", "resume", "timeline"},
    "churn_executive_escalation": {"ack", "log_call", "pause", "resume", "timeline"},
    "dunning_csm_alert": {"ack", "log_call", "pause", "resume", "timeline"},
}


@pytest.mark.parametrize("template", sorted(EXPECTED))
def test_alerts_that_ask_to_act_carry_the_hubs_buttons(template: str) -> None:
    ctx = slack_context(
        workflow_id="renewal-1003",
        customer_id="1003",
        timeline_url="https://cs.example.test/timeline?customer=1003&exp=1&sig=x",
        extra={"play_workflow_id": "renewal-1003"},
    )
    rendered = render_slack(template, ctx)
    buttons = [
        e
        for b in rendered.blocks
        if b["type"] == "actions" and b.get("block_id") == "cshub_steer"
        for e in b["elements"]
    ]
    actions = set()
    for button in buttons:
        parsed = parse_action_id(button["action_id"])
        assert parsed is not None, button
        value = parse_value(button["value"])
        assert value is not None and (value.w, value.c) == ("renewal-1003", "1003")
        actions.add(parsed[0].value)
    assert actions == EXPECTED[template], json.dumps(rendered.blocks)[:400]
    assert AlertAction.ACK.value in actions
