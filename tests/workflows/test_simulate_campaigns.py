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
