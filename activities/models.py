"""Inputs and results of activities. Ids and template names only: activities look the
personal details (names, e-mail addresses) up themselves so they never enter a
workflow history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.send_window import SendWindow
from domain.tiers import Tier


class Progress(BaseModel):
    milestones_done: int = 0
    milestones_total: int = 0
    actions_taken: int = 0


class MessageContext(BaseModel):
    """Journey facts a template may show; the activity adds the customer's details.

    ``extra`` carries workflow-specific values (renewal date, risk factors, …) that
    templates read as ``extra.<name>``; ids and numbers only, never personal data."""

    day: int
    tier: Tier | None = None
    phase_name: str | None = None
    next_step: str | None = None
    milestone_title: str | None = None
    deadline_day: int | None = None
    nudge_message: str | None = None
    reason: str | None = None
    summary: str | None = None
    progress: Progress = Field(default_factory=Progress)
    extra: dict[str, Any] = Field(default_factory=dict)


class EmailRecipient(BaseModel):
    """Someone other than the company's primary contact: a CRM contact id (preferred: no
    personal data in history), or an address, looked up in the CRM when the e-mail goes
    so that the contact's opt-out, time zone and language still apply."""

    contact_id: str | None = None
    email: str | None = None


class TemplatedMessage(BaseModel):
    """A message about one customer, written from a template with the journey's facts;
    sent at most once per ``idempotency_key``."""

    customer_id: str
    template: str
    idempotency_key: str
    context: MessageContext


class CustomerEmailRequest(TemplatedMessage):
    send_window: SendWindow | None = None
    """The playbook's quiet hours (default 20:00-08:00 local)."""
    recipient: EmailRecipient | None = None
    """None: the company's primary contact."""
    day_seconds: int | None = None
    """A demo journey's day length: contact pressure counts its caps in those days."""


class CsmAlertRequest(TemplatedMessage):
    workflow_id: str


class CsmTaskRequest(BaseModel):
    customer_id: str
    subject: str
    body: str
    due_at: datetime
    priority: str = "MEDIUM"
    idempotency_key: str
    assign_to: Literal["csm", "account_executive"] = "csm"
    """Whose task: the company owner (CSM), or the account executive recorded on the
    company (``cshub_account_executive_id``; the CSM when none is set)."""
    attachment_ids: list[str] = Field(default_factory=list)
    """CRM file ids attached to the task (a review pack's chart)."""


class CrmNoteRequest(BaseModel):
    customer_id: str
    body: str
    timestamp: datetime
    idempotency_key: str
    amount_due_minor: int | None = None
    """An amount the note is about, in the currency's minor unit (cents, yen, fils): the
    activity adds an "Invoice amount" line written with Babel in the team's locale."""
    currency: str | None = None


class CustomerRef(BaseModel):
    customer_id: str


class LoadPlanRequest(BaseModel):
    plan: str


class ActionResult(BaseModel):
    """What a side-effect activity did. ``created`` is False when the idempotency key
    showed it had already been done (a retry after a crash); ``suppressed`` is True when
    the customer must not be e-mailed (unsubscribed) and the CSM was told instead."""

    channel: str
    summary: str
    created: bool = True
    suppressed: bool = False
    ref: str | None = None
    contact_id: str | None = None
    """E-mails: the CRM contact it went to (an id, no personal data)."""
    held: Literal["later", "dropped"] | None = None
    """E-mails held back by contact pressure (``summary`` says why): ``later``: not sent
    yet, try again at ``defer_until``; ``dropped``: not sent, by rule."""
    defer_until: datetime | None = None
    escalate_after_hours: float | None = None
    """Slack alerts that ask a CSM to act (``playbooks/alerts.yaml``): without a click on
    the message (``ref``) in this many hours, the workflow's escalation posts once."""


class CompanyUpdateRequest(BaseModel):
    customer_id: str
    properties: dict[str, str]


class CustomerProfile(BaseModel):
    """What workflows may know about a customer to plan and to be found in the UI: the
    company and its CSM, never the customer's contacts."""

    customer_id: str
    timezone: str = "UTC"
    tier: Tier | None = None
    company_name: str | None = None
    csm_email: str | None = None
    """The CRM owner's work e-mail: the ``CsmOwner`` search attribute."""
    csm_name: str | None = None
    customer_since: date | None = None
    """The company's ``cshub_customer_since`` (None: unset or not a date)."""
    arr: float | None = None
    """The company's annual recurring revenue, ``cshub_arr`` (None: unset or not a number)."""
