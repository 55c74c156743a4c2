"""Customer e-mails and CSM alerts: render a template for one customer and send it.

Async activities: SMTP and Slack are async clients. The CRM look-ups they need are
blocking SDK calls, so they run on a worker thread (``asyncio.to_thread``), never on
the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.action_log import ActionRow, ActionStore
from activities.audit import activity_clock
from activities.consent import SuppressionList
from activities.crm import known_owner
from activities.customer_context import CustomerDetails, load_customer_details
from activities.errors import connector_errors
from activities.models import (
    ActionResult,
    CsmAlertRequest,
    CustomerEmailRequest,
    EmailRecipient,
    MessageContext,
)
from activities.slack_post import post_slack
from connectors.base import Chat, Company, Contact, Crm, Mailer, OutgoingEmail, Owner
from connectors.errors import PermanentConnectorError
from domain.alert_escalation import AlertsPlaybook
from domain.contact_pressure import (
    ContactPressurePolicy,
    PressureDecision,
    SentEmail,
    decide,
)
from domain.health_properties import ACCOUNT_EXECUTIVE
from domain.onboarding_survey import LINK_DAYS as SURVEY_LINK_DAYS
from domain.preferences import one_click_link, preference_link
from domain.send_window import SendWindow, out_of_quiet_hours, zone_known
from domain.survey_links import (
    EXIT_LINK_DAYS,
    TIMELINE_LINK_DAYS,
    csat_links,
    exit_survey_links,
    nps_links,
    onboarding_survey_link,
    timeline_link,
)
from domain.tiers import Tier
from domain.value_summary import PROPERTIES as VALUE_PROPERTIES
from domain.value_summary import ActionFact, build_value_summary
from playbooks.loader import load_playbook
from templates.renderer import render_email, render_slack

ONBOARDING_TYPE = "OnboardingWorkflow"


@dataclass(frozen=True)
class MessagingConfig:
    sender_name: str = "cshub"
    app_url: str = "https://app.example.com"
    unsubscribe_url: str = "https://app.example.com/email-preferences"
    survey_url: str = "https://app.example.com/survey"
    alerts_channel: str = "C0CSALERTS"
    ops_channel: str = "C0OPS"
    crm_company_url: str | None = None
    """e.g. ``https://app.hubspot.com/contacts/PORTAL/company/{id}``"""
    public_api_url: str = "http://127.0.0.1:8000"
    survey_link_secret: str | None = None
    suppression_file: Path | None = None
    team_locale: str = "en-US"
    """How Slack alerts write money, counts and dates (setting CSHUB_TEAM_LOCALE)."""


def _alerts_playbook() -> AlertsPlaybook:
    """``playbooks/alerts.yaml``, read at each alert: an edit applies to the next alert
    (its escalation window, where an escalation goes)."""
    return load_playbook("alerts", AlertsPlaybook)


def alert_timeline_url(config: MessagingConfig, customer_id: str) -> str | None:
    """An alert's *Open timeline* link: signed and expiring (``/timeline``), so a CSM
    opens it in a browser without the API's bearer token; none without a link secret."""
    if not config.survey_link_secret:
        return None
    expires = int((activity_clock() + timedelta(days=TIMELINE_LINK_DAYS)).timestamp())
    return timeline_link(config.public_api_url, config.survey_link_secret, customer_id, expires)


def _tier_of(details: CustomerDetails) -> Tier | None:
    value = details.company.tier
    try:
        return Tier(value) if value else None
    except ValueError:
        return None


def _journey_fields(ctx: MessageContext, company: Company) -> dict[str, Any]:
    return {
        # The journey's tier, else the CRM's (a health sweep's outreach carries none).
        "tier": ctx.tier.value if ctx.tier else (company.tier or None),
        "day": ctx.day,
        "phase_name": ctx.phase_name,
        "next_step": ctx.next_step,
        "milestone_title": ctx.milestone_title,
        "deadline_day": ctx.deadline_day,
        "nudge_message": ctx.nudge_message,
        "reason": ctx.reason,
        "summary": ctx.summary,
        "progress": ctx.progress.model_dump(),
        "extra": dict(ctx.extra),
    }


def _journey_start(row: ActionRow) -> datetime | None:
    """An onboarding row's journey start, from its key ``{workflow id}/{start}/{step}``."""
    parts = row.key.split("/")
    if len(parts) < 3:
        return None
    try:
        return datetime.strptime(parts[1], "%Y%m%dT%H%M%S").replace(tzinfo=row.first_at.tzinfo)
    except ValueError:
        return None


VALUE_SUMMARY_TEMPLATES = frozenset({"renewal_reminder"})
"""E-mails that carry a value summary built from the hub's own data (``value``)."""


class MessagingActivities:
    def __init__(
        self,
        crm: Crm,
        mailer: Mailer,
        chat: Chat,
        config: MessagingConfig,
        actions: ActionStore | None = None,
        pressure: ContactPressurePolicy | None = None,
    ) -> None:
        """``actions`` and ``pressure``: hold e-mails back by the contact-pressure policy,
        counting what the store says was sent (without a store, no policy applies)."""
        self._crm = crm
        self._mailer = mailer
        self._chat = chat
        self._config = config
        self._suppressions = SuppressionList(config.suppression_file)
        self._actions = actions
        self._pressure = pressure

    def _pressure_decision(
        self, req: CustomerEmailRequest, contact_id: str, tier: Tier | None, now: datetime
    ) -> tuple[PressureDecision, ActionRow | None] | None:
        """What the contact-pressure policy says of this e-mail to ``contact_id`` (None:
        no policy). The caps count what this contact received (and e-mails of unknown
        recipient); the welcome counts for the whole customer."""
        policy, store = self._pressure, self._actions
        if policy is None or store is None:
            return None
        day = timedelta(seconds=req.day_seconds or 86_400)
        span = max(policy.onboarding_days, policy.no_surveys_days, 7) + 1
        rows = store.for_customer(req.customer_id, since=now - span * day)
        this = store.get(req.idempotency_key)
        held_since = this.first_at if this is not None and this.outcome == "deferred" else None
        sent = [
            SentEmail(
                at=r.last_at,
                template=r.kind or "",
                # Caps: what this contact received (or a contact not recorded).
                counts=r.outcome == "done" and r.contact_id in (None, "", contact_id),
            )
            for r in rows
            if r.channel == "email"
            and r.key != req.idempotency_key
            and (
                r.outcome == "done"
                # The customer's welcome went nowhere (unsubscribed, failed): it no
                # longer holds the other e-mails back.
                or (r.kind == policy.first_email and r.outcome in ("suppressed", "failed"))
            )
        ]
        starts = [
            s
            for r in rows
            if r.workflow_type == ONBOARDING_TYPE and (s := _journey_start(r)) is not None
        ]
        decision = decide(
            policy,
            template=req.template,
            tier=tier,
            now=now,
            sent=sent,
            onboarding_started=max(starts) if starts else None,
            held_since=held_since,
            day=day,
            from_onboarding=activity.info().workflow_type == ONBOARDING_TYPE,
        )
        return decision, this

    async def _details(self, customer_id: str, *, with_contact: bool) -> CustomerDetails:
        with connector_errors():
            return await asyncio.to_thread(
                load_customer_details, self._crm, customer_id, with_contact=with_contact
            )

    async def _value_summary(self, customer_id: str, now: datetime) -> dict[str, Any]:
        """What the hub knows of the customer's term (``domain.value_summary``): the
        company's hub-written properties and the action log's rows of the last year."""
        with connector_errors():
            found = await asyncio.to_thread(
                self._crm.batch_read_companies, [customer_id], VALUE_PROPERTIES
            )
        properties = found[0].properties if found else {}
        rows: list[ActionRow] = []
        if self._actions is not None:
            rows = await asyncio.to_thread(
                self._actions.for_customer, customer_id, since=now - timedelta(days=366)
            )
        facts = [ActionFact.model_validate(r.model_dump()) for r in rows]
        summary = build_value_summary(properties, facts, now)
        return {**summary.model_dump(), "empty": summary.empty}

    async def _recipient(self, recipient: EmailRecipient) -> Contact:
        """The contact an e-mail with an explicit recipient goes to. An address that is
        no CRM contact gets a bare record: the suppression list still applies to it, the
        company's time zone and English are used."""
        with connector_errors():
            if recipient.contact_id:
                return await asyncio.to_thread(self._crm.get_contact, recipient.contact_id)
            if recipient.email:
                found = await asyncio.to_thread(self._crm.find_contact_by_email, recipient.email)
                return found or Contact(id="", email=recipient.email)
        raise ApplicationError(
            "the e-mail's recipient names neither a contact id nor an address",
            type="MissingRecipient",
            non_retryable=True,
        )

    @activity.defn(name="send_customer_email")
    async def send_customer_email(self, req: CustomerEmailRequest) -> ActionResult:
        """E-mail the customer's primary contact (or ``req.recipient``), at most once per
        idempotency key.

        The one place where every customer e-mail of the hub passes, so the rules live
        here: an unsubscribed contact is never e-mailed (the CSM is told in Slack
        instead); nothing goes out in the contact's quiet hours (the attempt is retried
        when they end); the contact's language picks the template, English otherwise.
        """
        details = await self._details(req.customer_id, with_contact=req.recipient is None)
        contact = details.contact
        if req.recipient is not None:
            contact = await self._recipient(req.recipient)
        if contact is None:
            raise ApplicationError(
                f"crm company {req.customer_id} ({details.company.name}) has no contact "
                f"to e-mail: associate a contact with the company",
                type="MissingRecipient",
                non_retryable=True,
            )
        reason = self._suppressions.reason_not_to_email(contact, req.template)
        if reason is not None:
            ctx = req.context.model_copy(
                update={"extra": {**req.context.extra, "template": req.template, "reason": reason}}
            )
            await self._alert(
                details,
                req.customer_id,
                "email_suppressed",
                ctx,
                f"{req.idempotency_key}:suppressed",
                activity.info().workflow_id or "",
            )
            return ActionResult(
                channel="email",
                summary=f"not sent ({reason}); CSM told in Slack",
                created=False,
                suppressed=True,
            )
        now = activity_clock()
        tier = Tier(req.context.tier) if req.context.tier else _tier_of(details)
        pressure = await asyncio.to_thread(
            self._pressure_decision, req, contact.id or contact.email, tier, now
        )
        held_before: ActionRow | None = None
        if pressure is not None:
            decision, held_before = pressure
            if decision.action == "later" and decision.until is not None:
                return ActionResult(
                    channel="email",
                    summary=f"held: {decision.reason}; sent later (not before "
                    f"{decision.until:%Y-%m-%d %H:%M} UTC)",
                    created=False,
                    held="later",
                    defer_until=decision.until,
                )
            if decision.action == "drop":
                return ActionResult(
                    channel="email",
                    summary=f"not sent: {decision.reason}",
                    created=False,
                    held="dropped",
                )
        tz = contact.timezone if zone_known(contact.timezone) else details.company.timezone
        window = req.send_window or SendWindow()
        now = activity.info().current_attempt_scheduled_time
        allowed = out_of_quiet_hours(now, tz, window)
        if allowed > now:
            raise ApplicationError(
                f"quiet hours in {tz or 'UTC'}: e-mail '{req.template}' deferred to "
                f"{allowed:%Y-%m-%d %H:%M} UTC",
                type="QuietHours",
                next_retry_delay=allowed - now,
            )
        unsubscribe = f"{self._config.unsubscribe_url}?" + urlencode(
            {"contact": contact.id} if contact.id else {"email": contact.email}
        )
        list_unsubscribe = {"List-Unsubscribe": f"<{unsubscribe}>"}
        secret = self._config.survey_link_secret
        if contact.id and secret:
            # The hub's own preference centre, and RFC 8058 one-click unsubscribe.
            base = self._config.public_api_url
            unsubscribe = preference_link(base, secret, contact.id)
            list_unsubscribe = {
                "List-Unsubscribe": f"<{one_click_link(base, secret, contact.id, req.template)}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        context: dict[str, Any] = {
            **_journey_fields(req.context, details.company),
            "company_name": details.company.name,
            "company": dict(details.company.properties),
            "contact_first_name": contact.first_name,
            "csm_name": details.csm.full_name if details.csm else None,
            "csm_email": details.csm.email if details.csm else None,
            "sender_name": self._config.sender_name,
            "unsubscribe_url": unsubscribe,
            "app_url": self._config.app_url,
            "survey_url": self._config.survey_url,
            "exit_survey_links": None,
            "csat_links": None,
            "nps_links": None,
        }
        if req.context.extra.get("exit_survey") and self._config.survey_link_secret:
            context["exit_survey_links"] = exit_survey_links(
                self._config.public_api_url,
                self._config.survey_link_secret,
                req.customer_id,
                campaign=hashlib.sha256(req.idempotency_key.encode()).hexdigest()[:16],
                # From the first attempt's schedule: a retry renders the same links.
                expires=int(
                    (activity.info().scheduled_time + timedelta(days=EXIT_LINK_DAYS)).timestamp()
                ),
            )
        context.update(self._score_links(req, contact))
        survey_day = req.context.extra.get("onboarding_survey_day")
        context["onboarding_survey_url"] = None
        if isinstance(survey_day, int) and self._config.survey_link_secret:
            context["onboarding_survey_url"] = onboarding_survey_link(
                self._config.public_api_url,
                self._config.survey_link_secret,
                req.customer_id,
                survey_day,
                # From the first attempt's schedule: a retry renders the same link.
                expires=int(
                    (activity.info().scheduled_time + timedelta(days=SURVEY_LINK_DAYS)).timestamp()
                ),
            )
        if req.template in VALUE_SUMMARY_TEMPLATES:
            context["value"] = await self._value_summary(req.customer_id, now)
        rendered = render_email(req.template, context, language=contact.language or "en")
        headers = {
            **list_unsubscribe,
            "Content-Language": rendered.language,
            "X-Cshub-Template": req.template,
            "X-Cshub-Customer-Id": req.customer_id,
            "X-Cshub-Journey-Day": str(req.context.day),
        }
        if req.recipient is not None and contact.id:
            headers["X-Cshub-Contact-Id"] = contact.id
        message = OutgoingEmail(
            to=contact.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            idempotency_key=req.idempotency_key,
            reply_to=details.csm.email if details.csm else None,
            headers=headers,
        )
        with connector_errors():
            receipt = await self._mailer.send(message)
        held_note = ""
        if held_before is not None and held_before.outcome == "deferred":
            held_note = f" (sent late; {held_before.summary.split('; sent later')[0]})"
        return ActionResult(
            channel="email",
            summary=rendered.subject + held_note,
            ref=receipt.message_id,
            contact_id=contact.id or None,
        )

    def _score_links(self, req: CustomerEmailRequest, contact: Contact) -> dict[str, Any]:
        """One signed link per score for a CSAT (``extra.csat_survey``) or NPS
        (``extra.nps_survey``) e-mail. The workflow passes the survey id and the expiry
        time; the secret stays here, out of workflow history."""
        secret = self._config.survey_link_secret
        base = self._config.public_api_url
        links: dict[str, Any] = {}
        csat = req.context.extra.get("csat_survey")
        if isinstance(csat, dict) and secret:
            links["csat_links"] = csat_links(
                base, secret, str(csat["ticket_id"]), str(csat["survey_id"]), int(csat["expires"])
            )
        nps = req.context.extra.get("nps_survey")
        if isinstance(nps, dict) and secret:
            links["nps_links"] = nps_links(
                base,
                secret,
                req.customer_id,
                str(nps.get("contact_id") or contact.id),
                str(nps["quarter"]),
                str(nps["survey_id"]),
                int(nps["expires"]),
            )
        return links

    @activity.defn(name="alert_csm")
    async def alert_csm(self, req: CsmAlertRequest) -> ActionResult:
        """Post an alert about the customer to the CSM alerts channel, mentioning the CSM."""
        details = await self._details(req.customer_id, with_contact=False)
        return await self._alert(
            details,
            req.customer_id,
            req.template,
            req.context,
            req.idempotency_key,
            req.workflow_id,
        )

    async def _account_executive(self, details: CustomerDetails) -> tuple[Owner | None, str | None]:
        """The company's account executive (``cshub_account_executive_id``) and their
        Slack id, when one is recorded and known to the CRM.

        A stale id (a user who left, a typo) must not block the company's alerts: it
        counts as no account executive (the alert mentions the CSM only) and is logged.
        An AE whose e-mail Slack cannot look up is named without a mention. Transient
        failures (rate limit, outage) still fail the attempt, to be retried."""
        ae_id = details.company.properties.get(ACCOUNT_EXECUTIVE)
        if not ae_id:
            return None, None
        company_id = details.company.id
        with connector_errors():
            ae = await asyncio.to_thread(known_owner, self._crm, ae_id)
        if ae is None:
            activity.logger.warning(
                "company %s: account executive %s (%s) is not a CRM user; alerting the CSM only",
                company_id,
                ae_id,
                ACCOUNT_EXECUTIVE,
            )
            return None, None
        if not ae.email:
            return ae, None
        slack_id: str | None = None
        with connector_errors():
            try:
                slack_id = await self._chat.lookup_user_id(ae.email)
            except PermanentConnectorError as exc:
                activity.logger.warning(
                    "company %s: account executive %s not looked up in Slack, "
                    "named without a mention: %s",
                    company_id,
                    ae_id,
                    exc,
                )
        return ae, slack_id

    async def _manager(
        self, playbook: AlertsPlaybook, details: CustomerDetails
    ) -> tuple[str, str] | None:
        """(e-mail, Slack user id) of the CSM's manager an escalation goes to, or None
        (escalations to the team channel, no manager listed, or unknown to Slack)."""
        email = playbook.manager_of(details.csm.email if details.csm else None)
        if email is None:
            return None
        with connector_errors():
            slack_id = await self._chat.lookup_user_id(email)
        if slack_id is None:
            activity.logger.warning(
                "manager %s of CSM %s is not a Slack user: escalating to the team channel",
                email,
                details.csm.email if details.csm else "-",
            )
            return None
        return email, slack_id

    async def _alert(
        self,
        details: CustomerDetails,
        customer_id: str,
        template: str,
        ctx: MessageContext,
        idempotency_key: str,
        workflow_id: str,
    ) -> ActionResult:
        csm_slack_id = None
        if details.csm:
            with connector_errors():
                csm_slack_id = await self._chat.lookup_user_id(details.csm.email)
        playbook = _alerts_playbook()
        channel, manager = self._config.alerts_channel, None
        if template == playbook.escalation_template:
            manager = await self._manager(playbook, details)
            if manager is not None and playbook.manager_delivery == "dm":
                channel = manager[1]  # a user id: a direct message
        ae, ae_slack_id = await self._account_executive(details)
        crm_url = (
            self._config.crm_company_url.format(id=customer_id)
            if self._config.crm_company_url
            else None
        )
        rendered = render_slack(
            template,
            {
                **_journey_fields(ctx, details.company),
                "company_name": details.company.name,
                "customer_id": customer_id,
                "csm_name": details.csm.full_name if details.csm else None,
                "csm_slack_id": csm_slack_id,
                "ae_name": ae.full_name if ae else None,
                "ae_slack_id": ae_slack_id,
                "workflow_id": workflow_id,
                "crm_url": crm_url,
                "timeline_url": alert_timeline_url(self._config, customer_id),
                "manager_name": manager[0] if manager else None,
                "manager_slack_id": manager[1] if manager else None,
            },
            locale=self._config.team_locale,
        )
        result = await post_slack(self._chat, channel, rendered, idempotency_key)
        window = playbook.window_hours(template)
        if window is not None and result.ref:
            result = result.model_copy(update={"escalate_after_hours": window})
        return result
