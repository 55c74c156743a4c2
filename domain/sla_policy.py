"""The support SLA playbook (``playbooks/sla.yaml``): targets by severity and plan tier,
business-hours calendars, the escalation ladder and the acknowledgement comment.

Seeds 001/002: severity critical / high / medium / low has first response 15 min / 1 h /
4 h / 24 h, resolution 4 h / 8 h / 24 h / 72 h and status updates every 30 min / 2 h /
4 h / none; the plan tier adds a first-response target (Starter 24 h, Professional 4 h,
Agency 2 h, Enterprise 1 h, only Enterprise 24/7). **The stricter of severity and tier
wins**, and every clock counts business time in the tier's calendar. A breach escalates
one level: support specialist → senior support → engineering → engineering director.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.business_time import BusinessCalendar
from domain.playbook_model import PlaybookModel
from domain.support_records import Severity
from domain.tiers import Tier

ZendeskPriority = Literal["low", "normal", "high", "urgent"]
"""Zendesk's ticket priorities, lowest first."""
PausingStatus = Literal["pending", "hold"]
"""Zendesk statuses that mean the ticket waits on someone else than support."""

SLACK_CHANNEL_PATTERN = r"^[CGD][A-Z0-9]{2,}$"
MENTION_PATTERN = r"^(?:[UW][A-Z0-9]{2,31}|@[a-z0-9][a-z0-9._-]{0,79})$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9_:-]{0,79}$"
ACK_PLACEHOLDERS = frozenset({"response_target"})
"""What the workflow fills in an acknowledgement comment (no names: ids only in history)."""
_MAX_MINUTES = 60 * 24 * 90


class SeverityTargets(PlaybookModel):
    """One severity's targets, in business minutes."""

    first_response: int = Field(
        gt=0, le=_MAX_MINUTES, description="Minutes to the first public agent reply"
    )
    resolution: int = Field(
        gt=0, le=_MAX_MINUTES, description="Minutes to solved (paused while pending / on hold)"
    )
    status_update_every: int | None = Field(
        default=None, gt=0, le=_MAX_MINUTES, description="Minutes between updates; null: none"
    )

    @model_validator(mode="after")
    def _resolution_after_response(self) -> SeverityTargets:
        if self.resolution < self.first_response:
            raise ValueError(
                f"resolution ({self.resolution} min) must not be shorter than first_response "
                f"({self.first_response} min)"
            )
        return self


class TierTargets(PlaybookModel):
    """A plan tier's promise: a first-response target and the hours it is counted in."""

    first_response: int = Field(
        gt=0, le=_MAX_MINUTES, description="Minutes to the first public agent reply"
    )
    calendar: str = Field(min_length=1, description="A name from `calendars`")


class EscalationLevel(PlaybookModel):
    """One rung of the ladder. Level 0 is where every ticket starts (nothing is done to
    reach it); a breach moves the ticket to the next level, which raises its Zendesk
    priority (never lowers it), tags it, adds an internal note, optionally moves it to a
    Zendesk group, and tells ``mention`` in ``slack_channel``."""

    name: str = Field(min_length=1, max_length=60)
    who: str = Field(min_length=1, max_length=120, description="Who is told, in words")
    zendesk_priority: ZendeskPriority | None = Field(
        default=None, description="Raise the ticket to this priority; null: leave it"
    )
    tag: str | None = Field(
        default=None, pattern=TAG_PATTERN, description="Zendesk tag marking this escalation"
    )
    slack_channel: str | None = Field(
        default=None,
        pattern=SLACK_CHANNEL_PATTERN,
        description="Slack channel id for the breach message; null: the CSM alerts channel",
    )
    mention: str | None = Field(
        default=None,
        pattern=MENTION_PATTERN,
        description="Slack user id (U…) or @group handle to mention; null: `who` in words",
    )
    group_id: int | None = Field(
        default=None, gt=0, description="Zendesk group to move the ticket to; null: stay"
    )


class AutoAck(PlaybookModel):
    """A public comment on each new ticket. Off by default: Zendesk counts an automatic
    public comment as the first agent reply, which would hide a slow real answer."""

    enabled: bool = False
    comment: str = Field(
        default=(
            "Thanks for reaching out! We have received your request and a support "
            "specialist is looking into it. You will hear back from us within "
            "{response_target}."
        ),
        min_length=1,
        max_length=2000,
    )

    @field_validator("comment")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        unknown = sorted(set(re.findall(r"\{([^{}]*)\}", value)) - ACK_PLACEHOLDERS)
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                f"only {', '.join('{' + p + '}' for p in sorted(ACK_PLACEHOLDERS))} is filled in"
            )
        return value


class EffectiveTargets(PlaybookModel):
    """The targets that apply to one ticket: the stricter of severity and tier."""

    severity: Severity
    tier: str = Field(description="The tier whose targets apply (the default when unknown)")
    first_response: timedelta
    first_response_set_by: Literal["severity", "tier"]
    resolution: timedelta
    status_update_every: timedelta | None
    calendar: BusinessCalendar


def _zendesk_priorities() -> dict[ZendeskPriority, Severity]:
    return {
        "urgent": Severity.CRITICAL,
        "high": Severity.HIGH,
        "normal": Severity.MEDIUM,
        "low": Severity.LOW,
    }


def _pausing_statuses() -> list[PausingStatus]:
    return ["pending", "hold"]


class SlaPolicy(PlaybookModel):
    """``playbooks/sla.yaml``. Targets are minutes of business time; see the module doc."""

    name: str = "sla"
    version: int = Field(default=1, ge=1)
    description: str = ""
    severities: dict[Severity, SeverityTargets]
    priority_to_severity: dict[ZendeskPriority, Severity] = Field(
        default_factory=_zendesk_priorities
    )
    default_severity: Severity = Field(
        default=Severity.MEDIUM, description="For a ticket with no or an unknown priority"
    )
    calendars: dict[str, BusinessCalendar]
    tiers: dict[str, TierTargets]
    default_tier: str = Field(description="Applies when the customer's tier is unknown")
    warn_at_fraction: float = Field(
        default=0.75, gt=0, lt=1, description="Warn the CSM when this share of a target is used"
    )
    pause_resolution_on: list[PausingStatus] = Field(
        default_factory=_pausing_statuses,
        description="Zendesk statuses that pause the resolution clock (never the response one)",
    )
    escalation: list[EscalationLevel] = Field(min_length=2)
    auto_acknowledge: AutoAck = Field(default_factory=AutoAck)
    warning_template: str = Field(default="sla_warning", min_length=1)
    breach_template: str = Field(default="sla_breach", min_length=1)
    reopen_window_days: int = Field(
        default=4,
        ge=0,
        le=28,
        description="After solved, follow a reopen this long (Zendesk closes solved tickets "
        "after 4 days by default)",
    )
    start_csat_survey: bool = Field(default=True, description="Start the CSAT survey when solved")

    @field_validator("severities")
    @classmethod
    def _every_severity(
        cls, value: dict[Severity, SeverityTargets]
    ) -> dict[Severity, SeverityTargets]:
        missing = [s.value for s in Severity if s not in value]
        if missing:
            raise ValueError(f"every severity needs targets; missing {missing}")
        return value

    @field_validator("calendars")
    @classmethod
    def _calendar_names(cls, value: dict[str, BusinessCalendar]) -> dict[str, BusinessCalendar]:
        for key, cal in value.items():
            if cal.name != key:
                raise ValueError(f"{key}: name is {cal.name!r}; it must be {key!r}")
        return value

    @field_validator("tiers")
    @classmethod
    def _tiers_complete(
        cls, value: dict[str, TierTargets], info: ValidationInfo
    ) -> dict[str, TierTargets]:
        bad = sorted(k for k in value if k != k.strip().lower() or not k)
        if bad:
            raise ValueError(f"tier names are lowercase plan tier names, got {bad}")
        missing = [t.value for t in Tier if t.value not in value]
        if missing:
            raise ValueError(f"every plan tier needs targets; missing {missing}")
        calendars = info.data.get("calendars")
        if calendars is not None:  # else the calendars already failed
            for key, tier in value.items():
                if tier.calendar not in calendars:
                    raise ValueError(
                        f"{key}.calendar: {tier.calendar!r} is not one of the calendars "
                        f"{sorted(calendars)}"
                    )
        return value

    @field_validator("default_tier")
    @classmethod
    def _default_tier_known(cls, value: str, info: ValidationInfo) -> str:
        tiers = info.data.get("tiers")
        if tiers is not None and value not in tiers:
            raise ValueError(f"{value!r} is not one of the tiers {sorted(tiers)}")
        return value

    @field_validator("escalation")
    @classmethod
    def _ladder(cls, value: list[EscalationLevel]) -> list[EscalationLevel]:
        names = [level.name for level in value]
        if len(set(names)) != len(names):
            raise ValueError(f"level names repeat: {names}")
        rank = {p: i for i, p in enumerate(["low", "normal", "high", "urgent"])}
        highest = -1
        for i, level in enumerate(value[1:], start=1):
            if level.tag is None:
                raise ValueError(f"[{i}].tag: a level a ticket escalates to needs a tag")
            if level.zendesk_priority is not None:
                if rank[level.zendesk_priority] < highest:
                    raise ValueError(
                        f"[{i}].zendesk_priority: {level.zendesk_priority!r} is lower than an "
                        f"earlier level's; priorities only go up"
                    )
                highest = rank[level.zendesk_priority]
        tags = [level.tag for level in value if level.tag is not None]
        if len(set(tags)) != len(tags):
            raise ValueError(f"tags repeat: {tags}")
        return value


def severity_for_priority(policy: SlaPolicy, priority: str | None) -> Severity:
    """The severity of a Zendesk priority; ``default_severity`` when missing or unknown."""
    key = (priority or "").strip().lower()
    for name, severity in policy.priority_to_severity.items():
        if name == key:
            return severity
    return policy.default_severity


def effective_targets(policy: SlaPolicy, severity: Severity, tier: str | None) -> EffectiveTargets:
    """The targets of a ticket: first response is the stricter (shorter) of the
    severity's and the tier's; resolution and status updates come from the severity; the
    clocks run in the tier's calendar. An unknown or missing tier uses ``default_tier``."""
    key = (tier or "").strip().lower()
    tier_name = key if key in policy.tiers else policy.default_tier
    by_tier = policy.tiers[tier_name]
    by_severity = policy.severities[severity]
    tier_wins = by_tier.first_response < by_severity.first_response
    every = by_severity.status_update_every
    return EffectiveTargets(
        severity=severity,
        tier=tier_name,
        first_response=timedelta(minutes=min(by_tier.first_response, by_severity.first_response)),
        first_response_set_by="tier" if tier_wins else "severity",
        resolution=timedelta(minutes=by_severity.resolution),
        status_update_every=timedelta(minutes=every) if every is not None else None,
        calendar=policy.calendars[by_tier.calendar],
    )
