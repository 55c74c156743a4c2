"""Contact pressure: one policy for every automated customer e-mail, across workflows.

Every workflow e-mails the customer on its own schedule (onboarding, NPS, health
outreach, renewal, dunning ...); on a customer's first day they can all fall in the
same minute. This policy (``playbooks/contact_pressure.yaml``) decides, for one e-mail
about to be sent, from what the hub already sent the customer (the action store):

1. **Classes, in priority order** (``classes``): transactional and SLA e-mails are never
   held (they still count); lifecycle e-mails (the plan's welcome, tips, reminders, the
   usage-limit warning) are sent later when a cap is full; surveys and marketing-like
   nudges (celebrations, success stories, win-back) are dropped when a cap is full, and
   may not use the last ``reserve_for_lifecycle`` e-mail of the day.
2. **Welcome first**: while a customer's onboarding has not sent its welcome e-mail
   (``first_email``), nothing else but transactional/SLA mail goes out (sent later); a
   survey or notice (classes with ``first_contact_grace``) to a customer the hub never
   e-mailed waits ``first_contact_grace_minutes`` once, so an onboarding starting in the
   same minute (a new customer) sends its welcome first and the survey rule sees it. (The journey's own celebrations and
   nudges wait for its welcome in the workflow.)
3. **No surveys early**: no survey in the first ``no_surveys_days`` days of onboarding
   (dropped: the next survey cycle asks again).
4. **Caps per tier**: at most ``per_day`` automated e-mails in any 24 hours and
   ``per_week`` in any 7 days (rolling windows).

What is held back is recorded with the reason (the action store, so ``cshub timeline``
and the timeline API show it; the workflow's action list). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.tiers import Tier

HeldRule = Literal["never", "later", "drop"]
Action = Literal["send", "later", "drop"]
DAY = timedelta(days=1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Caps(_Strict):
    per_day: int = Field(ge=1, description="automated e-mails in any 24 hours")
    per_week: int = Field(ge=1, description="automated e-mails in any 7 days")

    @model_validator(mode="after")
    def _week_holds_a_day(self) -> Caps:
        if self.per_week < self.per_day:
            raise ValueError("per_week must be at least per_day")
        return self


class EmailClass(_Strict):
    name: str
    templates: list[str] = Field(default_factory=list)
    when_capped: HeldRule = Field(
        description="never: not held by caps (still counted); later: sent once the caps "
        "allow; drop: not sent"
    )
    survey: bool = False
    """Subject to the no-surveys-in-early-onboarding rule."""
    first_contact_grace: bool = False
    """To a customer the hub never e-mailed: wait ``first_contact_grace_minutes`` once (an
    onboarding starting in the same minute sends its welcome first)."""


class ContactPressurePolicy(_Strict):
    """``playbooks/contact_pressure.yaml``."""

    caps: dict[Tier, Caps]
    default_caps: Caps
    classes: list[EmailClass] = Field(min_length=1)
    """In priority order, highest first; an unlisted template is in ``default_class``."""
    default_class: str = "lifecycle"
    first_email: str = "welcome"
    onboarding_days: int = Field(default=30, ge=0)
    """How long a customer counts as new (welcome first, no surveys) after onboarding starts."""
    no_surveys_days: int = Field(default=30, ge=0)
    first_contact_grace_minutes: int = Field(default=10, ge=0)
    reserve_for_lifecycle: int = Field(default=1, ge=0)
    """E-mails of the day that dropped classes (surveys, nudges) may not use."""
    max_hold_days: int = Field(default=7, ge=1)
    """A held e-mail not sent after this long is dropped (its moment has passed)."""

    @model_validator(mode="after")
    def _classes_are_consistent(self) -> ContactPressurePolicy:
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise ValueError(f"class names repeat: {names}")
        if self.default_class not in names:
            raise ValueError(f"default_class {self.default_class!r} is not one of {names}")
        seen: dict[str, str] = {}
        for c in self.classes:
            for t in c.templates:
                if t in seen:
                    raise ValueError(f"template {t!r} is in both {seen[t]} and {c.name}")
                seen[t] = c.name
        return self

    def class_of(self, template: str) -> EmailClass:
        for c in self.classes:
            if template in c.templates:
                return c
        return next(c for c in self.classes if c.name == self.default_class)

    def caps_for(self, tier: Tier | None) -> Caps:
        return self.caps.get(tier, self.default_caps) if tier is not None else self.default_caps

    def templates_used(self) -> dict[str, set[str]]:
        emails = {t for c in self.classes for t in c.templates} | {self.first_email}
        return {"email": emails, "slack": set()}


@dataclass(frozen=True)
class SentEmail:
    """An automated e-mail one of the customer's contacts received (the action store)."""

    at: datetime
    template: str
    counts: bool = True
    """Counts toward this contact's caps (False: an e-mail to another contact of the
    customer, which still counts as the customer's welcome or first contact)."""


@dataclass(frozen=True)
class PressureDecision:
    action: Action
    reason: str | None = None
    until: datetime | None = None
    """``later``: when to try again."""
    email_class: str = ""


def decide(
    policy: ContactPressurePolicy,
    *,
    template: str,
    tier: Tier | None,
    now: datetime,
    sent: Sequence[SentEmail],
    onboarding_started: datetime | None,
    held_since: datetime | None = None,
    day: timedelta = DAY,
    from_onboarding: bool = False,
) -> PressureDecision:
    """Send ``template`` now, later (``until``) or not at all, and why.

    ``sent``: the customer's automated e-mails actually sent, any order (at least the
    last 7 ``day``\\ s, and the welcome if there was one); ``onboarding_started``: when the
    customer's current onboarding began (None: not onboarding, or long ago);
    ``held_since``: when this same e-mail was first held (None: first attempt); ``day``:
    the length of a day (a demo journey runs days of seconds); ``from_onboarding``: the
    onboarding journey's own e-mail (the journey puts its welcome first itself, and a
    plan without a welcome must not wait for one)."""
    cls = policy.class_of(template)
    name = cls.name

    def later(until: datetime, reason: str) -> PressureDecision:
        if held_since is not None and until - held_since > policy.max_hold_days * day:
            return PressureDecision(
                "drop", f"{reason}; held {policy.max_hold_days} days already, dropped", None, name
            )
        return PressureDecision("later", reason, until, name)

    if cls.when_capped == "never" or template == policy.first_email:
        return PressureDecision("send", email_class=name)

    new_until = onboarding_started + policy.onboarding_days * day if onboarding_started else None
    onboarding = new_until is not None and now < new_until
    # 2. Welcome first.
    # Past the first day a welcome that has not come is not coming (a plan without one,
    # a journey that failed): nothing waits for it any longer.
    welcome_due = onboarding_started is not None and now < onboarding_started + day
    if onboarding and onboarding_started is not None and welcome_due and not from_onboarding:
        welcomed = any(
            s.template == policy.first_email and s.at >= onboarding_started for s in sent
        )
        if not welcomed:
            # Look again soon: a quarter of an hour, a few seconds in a demo's short days.
            recheck = min(policy.first_contact_grace_minutes * 60, day.total_seconds() / 96)
            return later(
                now + timedelta(seconds=max(5.0, recheck)),
                f"waits for the {policy.first_email} e-mail (it comes first)",
            )
    elif (
        cls.first_contact_grace
        and not sent
        and held_since is None
        and policy.first_contact_grace_minutes
    ):
        return later(
            now + timedelta(minutes=policy.first_contact_grace_minutes),
            f"first e-mail to this customer: waits {policy.first_contact_grace_minutes} "
            f"minutes for a starting onboarding's {policy.first_email} e-mail",
        )
    # 3. No surveys early in onboarding.
    if cls.survey and onboarding_started is not None:
        quiet_until = onboarding_started + policy.no_surveys_days * day
        if now < quiet_until:
            days_in = int((now - onboarding_started) / day)
            return PressureDecision(
                "drop",
                f"no surveys in the first {policy.no_surveys_days} days of onboarding "
                f"(day {days_in})",
                None,
                name,
            )
    # 4. Caps.
    caps = policy.caps_for(tier)
    in_day = sorted(s.at for s in sent if s.counts and now - day < s.at <= now)
    in_week = sorted(s.at for s in sent if s.counts and now - 7 * day < s.at <= now)
    reserve = policy.reserve_for_lifecycle if cls.when_capped == "drop" else 0
    day_cap = max(1, caps.per_day - reserve)
    week_cap = max(1, caps.per_week - reserve)
    tier_text = tier.value if tier is not None else "default"
    if len(in_day) >= day_cap or len(in_week) >= week_cap:
        over_day = len(in_day) >= day_cap
        count, cap, span = (
            (len(in_day), day_cap, "day") if over_day else (len(in_week), week_cap, "7 days")
        )
        reason = (
            f"contact pressure: {count} e-mail{'s' if count != 1 else ''} in the last {span} "
            f"(cap {cap} for {name} e-mails, {tier_text} tier)"
        )
        if cls.when_capped == "drop":
            return PressureDecision("drop", reason, None, name)
        # The window frees when its oldest e-mail leaves it.
        window = in_day if over_day else in_week
        span_td = day if over_day else 7 * day
        margin = max(timedelta(seconds=1), day / 1440)  # a minute; less in a demo's day
        free_at = window[len(window) - cap] + span_td + margin
        return later(max(free_at, now + margin), reason)
    return PressureDecision("send", email_class=name)
