"""``cshub simulate dunning | churn | winback``: the real workflows on a private
time-skipping server with recording connectors, printed as a timeline."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from cshub.cli import app


def simulate(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["simulate", *args, "--json"])
    assert result.exit_code == 0, result.output
    actions: list[dict[str, Any]] = json.loads(result.output)
    return actions


def test_simulate_dunning_paid_on_day_5() -> None:
    actions = simulate("dunning", "--paid-on-day", "5")
    assert [(a["day"], a["template"]) for a in actions if a["channel"] == "email"] == [
        (0, "dunning_payment_failed"),
        (3, "dunning_payment_failed"),
        (5, "dunning_payment_received"),
    ]
    assert actions[-1]["summary"].startswith("Payment received on day 5")


def test_simulate_churn_recovering() -> None:
    actions = simulate(
        "churn", "--risk", "usage_drop", "--risk", "support_spike", "--score", "45",
        "--recover-on-day", "10",
    )  # fmt: skip
    emails = [a["day"] for a in actions if a["template"] == "churn_reengagement"]
    assert emails == [0, 7, 14]
    assert [a["day"] for a in actions if a["template"] == "churn_executive_escalation"] == [0]
    assert actions[-1]["template"] == "churn_campaign_ended" and actions[-1]["day"] == 28


def test_simulate_winback_with_an_answer() -> None:
    actions = simulate("winback", "--answer-on-day", "20", "--reason", "too_expensive")
    assert [(a["day"], a["channel"]) for a in actions if a["channel"] != "crm_update"][:4] == [
        (1, "email"),
        (7, "email"),
        (14, "crm_task"),
        (20, "crm_note"),
    ]
    templates = [a["template"] for a in actions]
    assert "winback_offer" in templates and "winback_exit_survey" not in templates


def test_simulate_onboarding_shows_what_contact_pressure_holds_back() -> None:
    """A starter customer's day 0 with a first workflow and usage at 87 %: the welcome
    goes out, the celebration and the nudge are not sent, and say why."""
    actions = simulate(
        "onboarding", "--tier", "starter", "--days", "1",
        "--event", "0:workflow_created", "--event", "0:usage_threshold:87",
    )  # fmt: skip
    emails = [(a["day"], a["template"], a["outcome"]) for a in actions if a["channel"] == "email"]
    assert emails == [
        (0, "welcome", "done"),
        (0, "milestone_celebration", "dropped"),
        (0, "nudge", "dropped"),
        (1, "quick_win", "done"),
    ], emails
    held = [a["summary"] for a in actions if a["outcome"] == "dropped"]
    assert all(s.startswith("not sent: contact pressure: 1 e-mail in the last day") for s in held)


def test_simulate_rejects_a_malformed_event() -> None:
    result = CliRunner().invoke(
        app, ["simulate", "onboarding", "--tier", "starter", "--event", "0:lunch"]
    )
    assert result.exit_code == 2
    assert "--event" in result.output and "lunch" in result.output
