"""The demo data the sandbox starts with: its model, loader and cross-reference checks.

One YAML file (``demo_data.yaml`` beside this module by default) describes a small
customer portfolio in all three systems at once: CSMs (HubSpot owners who are also Slack
users), companies with their contacts and deal, the Zendesk side of the same customers,
and the Slack channels. Loading validates it completely, so a typo in the file fails at
start-up with a message naming the field instead of surfacing later as a 404.
"""

from __future__ import annotations

import zoneinfo
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.strict_yaml import load_yaml_file

DEFAULT_DATA_FILE = Path(__file__).with_name("demo_data.yaml")

Tier = Literal["community", "starter", "professional", "enterprise", "agency"]
TicketStatus = Literal["new", "open", "pending", "hold", "solved", "closed"]
TicketPriority = Literal["low", "normal", "high", "urgent"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OwnerSeed(_Model):
    """A CSM: a HubSpot owner and, through ``slack_user_id``, a Slack user."""

    id: str = Field(pattern=r"^\d+$")
    email: str
    first_name: str
    last_name: str
    slack_user_id: str = Field(pattern=r"^[UW][A-Z0-9]+$")
    title: str = "Customer Success Manager"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ContactSeed(_Model):
    id: str = Field(pattern=r"^\d+$")
    email: str
    first_name: str
    last_name: str
    job_title: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)


class DealSeed(_Model):
    id: str = Field(pattern=r"^\d+$")
    name: str
    stage: str = "closedwon"
    amount: int = Field(ge=0)
    close_date: date
    pipeline: str = "default"


class CompanySeed(_Model):
    """A customer: the company record plus its contacts (first = primary) and its deal."""

    id: str = Field(pattern=r"^\d+$")
    name: str
    domain: str
    tier: Tier
    owner_id: str
    timezone: str
    contacts: list[ContactSeed] = Field(min_length=1)
    deal: DealSeed
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class SlackChannelSeed(_Model):
    id: str = Field(pattern=r"^C[A-Z0-9]+$")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    purpose: str = ""


class SlackUserSeed(_Model):
    """A Slack user who is not a CSM (account executive, executive sponsor, ...)."""

    id: str = Field(pattern=r"^[UW][A-Z0-9]+$")
    email: str
    name: str
    title: str = ""


class SlackSeed(_Model):
    channels: list[SlackChannelSeed] = Field(min_length=1)
    users: list[SlackUserSeed] = Field(default_factory=list)


class ZendeskGroupSeed(_Model):
    id: int
    name: str


class ZendeskOrganizationSeed(_Model):
    id: int
    name: str
    external_id: str  # the HubSpot company id
    domain_names: list[str] = Field(default_factory=list)


class ZendeskUserSeed(_Model):
    id: int
    name: str
    email: str
    role: Literal["end-user", "agent", "admin"] = "end-user"
    organization_id: int | None = None
    default_group_id: int | None = None


class ZendeskCommentSeed(_Model):
    author_id: int
    body: str
    public: bool = True
    hours_ago: float = Field(ge=0)


class ZendeskTicketSeed(_Model):
    id: int
    subject: str
    status: TicketStatus = "open"
    priority: TicketPriority | None = "normal"
    type: Literal["problem", "incident", "question", "task"] | None = "question"
    requester_id: int
    assignee_id: int | None = None
    group_id: int | None = None
    tags: list[str] = Field(default_factory=list)
    comments: list[ZendeskCommentSeed] = Field(min_length=1)  # the first is the description


class ZendeskSeed(_Model):
    groups: list[ZendeskGroupSeed]
    organizations: list[ZendeskOrganizationSeed]
    users: list[ZendeskUserSeed]
    tickets: list[ZendeskTicketSeed]


class DemoData(_Model):
    owners: list[OwnerSeed] = Field(min_length=1)
    companies: list[CompanySeed] = Field(min_length=1)
    slack: SlackSeed
    zendesk: ZendeskSeed

    @model_validator(mode="after")
    def _references_resolve(self) -> DemoData:
        errors: list[str] = []
        owner_ids = {o.id for o in self.owners}
        hubspot_ids = [c.id for c in self.companies]
        for company in self.companies:
            hubspot_ids += [c.id for c in company.contacts] + [company.deal.id]
            if company.owner_id not in owner_ids:
                errors.append(f"company {company.id}: unknown owner_id {company.owner_id}")
        errors += _duplicates("HubSpot object id", hubspot_ids)
        errors += _duplicates("owner id", [o.id for o in self.owners])
        slack_ids = [o.slack_user_id for o in self.owners] + [u.id for u in self.slack.users]
        errors += _duplicates("Slack user id", slack_ids)
        errors += _duplicates("Slack channel id", [c.id for c in self.slack.channels])
        errors += _duplicates("Slack channel name", [c.name for c in self.slack.channels])
        errors += self._zendesk_errors({c.id for c in self.companies})
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def _zendesk_errors(self, company_ids: set[str]) -> list[str]:
        zd = self.zendesk
        errors: list[str] = []
        group_ids = {g.id for g in zd.groups}
        org_ids = {o.id for o in zd.organizations}
        users = {u.id: u for u in zd.users}
        errors += _duplicates("Zendesk group id", [g.id for g in zd.groups])
        errors += _duplicates("Zendesk organization id", [o.id for o in zd.organizations])
        errors += _duplicates("Zendesk user id", [u.id for u in zd.users])
        errors += _duplicates("Zendesk ticket id", [t.id for t in zd.tickets])
        for org in zd.organizations:
            if org.external_id not in company_ids:
                errors.append(f"organization {org.id}: external_id {org.external_id} is no company")
        for user in zd.users:
            if user.organization_id is not None and user.organization_id not in org_ids:
                errors.append(f"user {user.id}: unknown organization_id {user.organization_id}")
            if user.default_group_id is not None and user.default_group_id not in group_ids:
                errors.append(f"user {user.id}: unknown default_group_id {user.default_group_id}")
        for ticket in zd.tickets:
            where = f"ticket {ticket.id}"
            if ticket.requester_id not in users:
                errors.append(f"{where}: unknown requester_id {ticket.requester_id}")
            if ticket.assignee_id is not None and (
                ticket.assignee_id not in users or users[ticket.assignee_id].role == "end-user"
            ):
                errors.append(f"{where}: assignee_id {ticket.assignee_id} is no agent")
            if ticket.group_id is not None and ticket.group_id not in group_ids:
                errors.append(f"{where}: unknown group_id {ticket.group_id}")
            errors += [
                f"{where}: unknown comment author_id {c.author_id}"
                for c in ticket.comments
                if c.author_id not in users
            ]
        return errors

    def owner(self, owner_id: str) -> OwnerSeed:
        return next(o for o in self.owners if o.id == owner_id)


def _duplicates(what: str, values: list[str] | list[int]) -> list[str]:
    seen: set[str | int] = set()
    dupes: list[str] = []
    for value in values:
        if value in seen:
            dupes.append(f"duplicate {what} {value}")
        seen.add(value)
    return dupes


def load_demo_data(path: Path | None = None) -> DemoData:
    """Read and validate a demo data file (the bundled one when ``path`` is None).

    Raises ``pydantic.ValidationError`` (or ``ValueError`` for unreadable YAML) naming
    the offending entries.
    """
    source = path or DEFAULT_DATA_FILE
    raw = load_yaml_file(source)
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    return DemoData.model_validate(raw)
