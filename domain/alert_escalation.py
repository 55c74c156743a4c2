"""An alert that asks a CSM to act escalates once when nobody acts on it in time.

Which alerts escalate, and after how long, is a playbook (``playbooks/alerts.yaml``,
:class:`AlertsPlaybook`). The alert's buttons (``domain.slack_actions``) count as acting:
any click on the message acknowledges it. Otherwise, after the alert's window, it
escalates once, with the alert named: to the team channel (``@here``), or, with
``escalate_to: manager``, to the CSM's manager (a direct message, or a mention in the
alerts channel with ``manager_delivery: mention``). The manager comes from the
playbook's ``managers`` mapping (CSM e-mail → manager e-mail, looked up in Slack by
e-mail): HubSpot's owners API gives an owner's teams but no manager. A CSM with no
manager listed, or a manager Slack does not know, escalates to the team channel.

The escalation is a timer inside the workflow that raised the alert (a background task
of ``CustomerActions.alert``) and ends with that run: once the journey, the campaign or
the renewal is over, nothing is left to act on (a button on that alert says so too). A
health sweep's outreach, which has nothing else to wait for, stays open until its
decline alert is acted on or escalated (``Steering.watching``, patch
``health-alert-escalation``). A click signals the workflow ``alert_acknowledged`` with
the message's ``ts``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_AFTER_HOURS = 24.0
ESCALATION_TEMPLATE = "alert_escalated"


class AlertsPlaybook(BaseModel):
    """``playbooks/alerts.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "alerts"
    version: int = 1
    description: str = ""
    escalate_to: Literal["team_channel", "manager"] = "team_channel"
    """Where an unacknowledged alert goes: the alerts channel with ``@here``, or the CSM's
    manager (``managers``; the team channel when the CSM has none)."""
    manager_delivery: Literal["dm", "mention"] = "dm"
    """How the manager hears of it: a direct message, or a mention in the alerts channel."""
    managers: dict[str, str] = Field(default_factory=dict)
    """CSM e-mail → their manager's e-mail (case-insensitive)."""
    escalation_template: str = ESCALATION_TEMPLATE
    escalate_after_hours: dict[str, float] = Field(default_factory=dict)
    """Slack template of an alert that asks a CSM to act → hours without a click before it
    escalates once. An alert not listed never escalates."""

    def window_hours(self, template: str) -> float | None:
        hours = self.escalate_after_hours.get(template)
        return hours if hours and hours > 0 else None

    def manager_of(self, csm_email: str | None) -> str | None:
        """The e-mail of the CSM's manager when escalations go to managers, else None."""
        if self.escalate_to != "manager" or not csm_email:
            return None
        wanted = csm_email.strip().lower()
        return next((m for c, m in self.managers.items() if c.strip().lower() == wanted), None)

    def templates_used(self) -> dict[str, set[str]]:
        return {"slack": {*self.escalate_after_hours, self.escalation_template}}


class AlertAcknowledged(BaseModel):
    """Signal ``alert_acknowledged``: a click on the alert posted as message ``ts``."""

    ts: str = Field(min_length=1, max_length=40)
    by: str = Field(default="", max_length=200)
