"""``cshub simulate journey``: a customer's first year per tier, against the seeds' days
(a table written from the seeds, not read from the playbooks the run follows)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from cshub.cli import app

SEQUENCE = [0, 1, 3, 7, 14, 21]  # seed 003 e-mail sequence
SURVEYS = [7, 30, 90]  # seed 001: onboarding surveys at 7, 30 and 90 days
WEEKLY = list(range(28, 85, 7))  # seed 001: weekly during onboarding
BIWEEKLY = [35, 49, 63, 77]  # seed 001 Community: bi-weekly engagement
RENEWAL = [305, 335, 351, 358, 364]  # 60/30/14/7/1 days before day 365
PRO_SESSIONS = [  # seed 001 Professional: four tracks, week N = day 7(N-1)+1
    *[1, 1, 1],  # exec kickoff, architecture workshop, user training planning
    *[8, 8, 8],  # vision alignment, integration planning, business process analysis
    *[15, 15],  # development environment, change management workshop
    *[22, 22],  # progress and value, workflow design
    29,  # community launch
    *[36, 36],  # advanced features, performance measurement
    *[50, 50],  # ROI and expansion, scaling and adoption
    64,  # adoption review
]
TABLE: dict[str, tuple[list[int], list[int]]] = {
    # tier: (customer e-mail days, CSM session task days)
    "community": (sorted([*SEQUENCE, *BIWEEKLY, *SURVEYS, 90, *RENEWAL]), []),
    "starter": (
        sorted([*SEQUENCE, *WEEKLY, *SURVEYS, 90, *RENEWAL]),
        [1, 3, 5, 7, 10, 14, 17, 21, 28],
    ),
    "professional": (sorted([*SEQUENCE, *WEEKLY, *SURVEYS, 90, *RENEWAL]), PRO_SESSIONS),
    "enterprise": (sorted([*SEQUENCE, *WEEKLY, *SURVEYS, 90, *RENEWAL]), [0, *PRO_SESSIONS]),
    "agency": (sorted([*SEQUENCE, *WEEKLY, *SURVEYS, 90, *RENEWAL]), PRO_SESSIONS),
}
SESSIONS = {"check_in", "kickoff", "executive_touchpoint"}


def journey(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["simulate", "journey", *args, "--json"])
    assert result.exit_code == 0, result.output
    actions: list[dict[str, Any]] = json.loads(result.output)
    return actions


@pytest.mark.parametrize("tier", list(TABLE))
def test_first_year_days_and_channels_match_the_seeds(tier: str) -> None:
    actions = journey("--tier", tier)
    assert all(set(a) >= {"day", "channel", "template", "summary"} for a in actions)
    assert [a["day"] for a in actions] == sorted(a["day"] for a in actions)
    emails, sessions = TABLE[tier]
    sent = [a for a in actions if a["outcome"] == "done"]  # not e-mails held by the caps
    assert [a["day"] for a in sent if a["channel"] == "email"] == emails
    assert [
        a["day"] for a in actions if a["channel"] == "crm_task" and a["template"] in SESSIONS
    ] == sessions
    # the renewal countdown: CSM Slack reminder with every e-mail, CRM tasks at 60 and 30 days
    renewal = [(a["day"], a["channel"]) for a in sent if a["template"] == "renewal_reminder"]
    assert [d for d, c in renewal if c == "slack"] == RENEWAL
    assert [d for d, c in renewal if c == "crm_task"] == [305, 335]
    done = [(a["day"], a["channel"]) for a in actions if a["template"] == "onboarding_complete"]
    assert done == [(90, "email"), (90, "crm_note")]
    surveys = [a["day"] for a in sent if a["template"] == "onboarding_survey"]
    assert surveys == SURVEYS


def test_a_shorter_window_stops_at_its_last_day() -> None:
    actions = journey("--tier", "starter", "--days", "10")
    assert actions and max(a["day"] for a in actions) == 10
    assert not [a for a in actions if a["template"] == "renewal_reminder"]
