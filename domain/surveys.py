"""Messages, state and calendar rules of the CSAT and NPS survey workflows.

``CsatSurveyWorkflow`` (id ``csat-{ticket_id}``) asks a ticket's requester for a 1-5
score a while after the ticket was solved; ``NpsSurveyWorkflow`` (id
``nps-{customer_id}``) asks each contact of a customer for a 0-10 score once a quarter.
Answers come back as signals from the signed one-click links (``domain.survey_links``,
``GET /survey/csat`` and ``GET /survey/nps``). What the workflows report about themselves
(``CsatStatus``, ``NpsStatus``) is in ``domain.support_records``.

Pure: no I/O, no Temporal; the quarter functions are used inside workflows.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.journeys import CUSTOMER_ID_PATTERN, ActionRecord, CarryOver, Message
from domain.send_window import SendWindow, local_date, local_send_time
from domain.steering import SteeringState, SteeringStatus
from domain.support_records import NpsAnswer
from domain.survey_plan import SurveysPlan

NPS_LAST_SCORE = "cshub_nps_last_score"
"""The company property the NPS survey workflow writes: the latest answer of any of its
contacts, 0-10 (read by the health model, the value summary, review packs and the
executive report)."""
TICKET_ID_PATTERN = r"^[0-9]{1,20}$"
CONTACT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
SURVEY_ID_PATTERN = r"^[0-9a-f]{16}$"
QUARTER_PATTERN = r"^[0-9]{4}-Q[1-4]$"
PLAYBOOK_PATTERN = r"^surveys(_[a-z]+)*$"


def csat_workflow_id(ticket_id: str) -> str:
    return f"csat-{ticket_id}"


def nps_workflow_id(customer_id: str) -> str:
    return f"nps-{customer_id}"


def survey_id(idempotency_key: str) -> str:
    """The id of one survey e-mail (its links share it), from the e-mail's idempotency
    key: stable across retries and replays, different for every e-mail."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


# ------------------------------------------------------------------ CSAT
class CsatInput(Message):
    """``{"ticket_id": "5001"}``: the requester and the customer are read from Zendesk
    when not given. Started by the ticket's SLA workflow when the ticket is solved."""

    ticket_id: str = Field(pattern=TICKET_ID_PATTERN, description="Zendesk ticket id")
    customer_id: str | None = Field(
        default=None, pattern=CUSTOMER_ID_PATTERN, description="CRM company id"
    )
    requester_id: str | None = Field(default=None, description="Zendesk user id")
    solved_at: datetime | None = Field(
        default=None, description="When the ticket was solved (default: now)"
    )
    playbook: str = Field(
        default="surveys",
        pattern=PLAYBOOK_PATTERN,
        description="Playbook file playbooks/<playbook>.yaml",
    )


class CsatAnswered(Message):
    """``{"score": 4}`` (1-5). Sent by ``GET /survey/csat`` with the link's survey id."""

    score: int = Field(ge=1, le=5)
    survey_id: str | None = Field(default=None, pattern=SURVEY_ID_PATTERN)
    comment: str | None = Field(default=None, max_length=2000)
    event_id: str | None = None


class CancelSurvey(Message):
    """Stop a survey that has not been answered (e.g. the ticket was reopened)."""

    reason: str | None = None


def csat_label(score: int) -> str:
    return {
        1: "very dissatisfied",
        2: "dissatisfied",
        3: "neutral",
        4: "satisfied",
        5: "very satisfied",
    }.get(score, "unknown")


class CsatRecipientRequest(BaseModel):
    ticket_id: str
    customer_id: str | None = None
    requester_id: str | None = None


class CsatRecipient(BaseModel):
    """Who gets the CSAT e-mail. A CRM contact id when the requester is a CRM contact;
    only otherwise the requester's address (then it is in the workflow history)."""

    ticket_status: str
    customer_id: str | None = None
    contact_id: str | None = None
    email: str | None = None
    skip_reason: str | None = None
    """Why no survey can go (no requester address, no CRM company)."""


# ------------------------------------------------------------------ NPS
class NpsInput(Message):
    """``{"customer_id": "1003"}``: asks every contact of the company once a quarter."""

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN, description="CRM company id")
    playbook: str = Field(
        default="surveys",
        pattern=PLAYBOOK_PATTERN,
        description="Playbook file playbooks/<playbook>.yaml",
    )
    ask_this_quarter: bool = Field(
        default=True,
        description="Started after this quarter's send day: ask at once (contacts the CRM "
        "shows as asked this quarter are skipped). False: wait for the next quarter",
    )
    carry_over: CarryOver = None


class NpsAnswered(Message):
    """``{"contact_id": "2003", "score": 9}`` (0-10). Sent by ``GET /survey/nps``."""

    contact_id: str = Field(pattern=CONTACT_ID_PATTERN)
    score: int = Field(ge=0, le=10)
    survey_id: str | None = Field(default=None, pattern=SURVEY_ID_PATTERN)
    quarter: str | None = Field(default=None, pattern=QUARTER_PATTERN)
    comment: str | None = Field(default=None, max_length=2000)
    event_id: str | None = None


class NpsCategory(StrEnum):
    DETRACTOR = "detractor"
    PASSIVE = "passive"
    PROMOTER = "promoter"


def nps_category(score: int, detractor_max: int = 6, promoter_min: int = 9) -> NpsCategory:
    if score <= detractor_max:
        return NpsCategory.DETRACTOR
    if score >= promoter_min:
        return NpsCategory.PROMOTER
    return NpsCategory.PASSIVE


def net_promoter_score(
    scores: list[int], detractor_max: int = 6, promoter_min: int = 9
) -> float | None:
    """% promoters - % detractors (-100 … 100); None without answers."""
    if not scores:
        return None
    cats = [nps_category(s, detractor_max, promoter_min) for s in scores]
    promoters = cats.count(NpsCategory.PROMOTER)
    detractors = cats.count(NpsCategory.DETRACTOR)
    return round((promoters - detractors) * 100 / len(scores), 1)


class NpsContactsRequest(BaseModel):
    customer_id: str
    limit: int = 50


class NpsContactRef(BaseModel):
    """A contact to ask: ids and dates only, never the address (history)."""

    contact_id: str
    last_asked: date | None = None
    """``cshub_nps_last_asked`` on the CRM contact."""
    email_opt_out: bool = False


# ------------------------------------------------------------------ quarters
def quarter_of(day: date) -> str:
    """``2026-Q4`` for any day of October-December 2026."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_at(at: datetime, tz: str | None) -> str:
    """The quarter ``at`` falls in, in the customer's zone."""
    return quarter_of(local_date(at, tz))


def quarter_first_day(quarter: str) -> date:
    year, q = quarter.split("-Q")
    return date(int(year), (int(q) - 1) * 3 + 1, 1)


def next_quarter(quarter: str) -> str:
    first = quarter_first_day(quarter)
    month = first.month + 3
    return quarter_of(date(first.year + (month > 12), (month - 1) % 12 + 1, 1))


def nps_send_time(quarter: str, send_day: int, tz: str | None, window: SendWindow) -> datetime:
    """When the quarter's survey goes out: its ``send_day`` at the send hour, local."""
    day = quarter_first_day(quarter) + timedelta(days=send_day - 1)
    return local_send_time(day, tz, window)


# ------------------------------------------------------------------ NPS state
class NpsSurveySent(BaseModel):
    """One survey e-mail: its links carry ``survey_id``; answers count until ``expires_at``."""

    survey_id: str
    contact_id: str
    quarter: str
    sent_at: datetime
    expires_at: datetime
    answered: bool = False


class NpsState(BaseModel):
    """What NpsSurveyWorkflow keeps, and carries across continue-as-new."""

    plan: SurveysPlan
    started_at: datetime
    timezone: str = "UTC"
    quarter: str
    """The quarter this run asks in."""
    asked_at: datetime | None = None
    """This quarter's survey went out (None: still to come)."""
    asked: list[str] = Field(default_factory=list)
    """Contact ids asked this quarter."""
    skipped: dict[str, str] = Field(default_factory=dict)
    """Contact id → why not asked this quarter (already asked, unsubscribed, failed)."""
    surveys: list[NpsSurveySent] = Field(default_factory=list)
    """Survey e-mails whose links may still be answered."""
    answers: list[NpsAnswer] = Field(default_factory=list)
    seen_event_ids: list[str] = Field(default_factory=list)
    cancelled: bool = False
    actions: list[ActionRecord] = Field(default_factory=list)
    steering: SteeringState = Field(default_factory=SteeringState)
    """Pause / skip / cancel requests (the steering signals)."""


class NpsProgress(BaseModel):
    """The ``progress`` query: the status plus what a person needs to follow it."""

    customer_id: str
    quarter: str | None = None
    timezone: str = "UTC"
    next_survey_at: datetime | None = None
    asked: list[str] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict)
    open_surveys: int = 0
    answers: list[NpsAnswer] = Field(default_factory=list)
    company_nps: float | None = Field(
        default=None, description="This quarter's NPS over the company's contacts"
    )
    actions: list[ActionRecord] = Field(default_factory=list)
    steering: SteeringStatus = Field(default_factory=SteeringStatus)


# ------------------------------------------------------------------ CSAT progress
class CsatProgress(BaseModel):
    """The ``progress`` query of CsatSurveyWorkflow: its status plus the why and when."""

    ticket_id: str
    customer_id: str | None = None
    status: str = "waiting"
    score: int | None = None
    survey_due_at: datetime | None = None
    sent_at: datetime | None = None
    expires_at: datetime | None = None
    answered_at: datetime | None = None
    reason: str | None = Field(
        default=None, description="Why it was skipped or ended early, when it was"
    )
    actions: list[ActionRecord] = Field(default_factory=list)
    steering: SteeringStatus = Field(default_factory=SteeringStatus)
