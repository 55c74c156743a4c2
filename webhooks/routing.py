"""The routing table: which workflow each event type reaches, and how.

Read it as: *event type* → *workflow type*, *workflow id*, *signal* (or a plain start),
*start input*. Every route is a signal-with-start or an idempotent start on a workflow id
derived from the business key, so a redelivered event lands on the same execution.
Event types not listed here are recorded and answered 202 "ignored".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel

from domain.customer_text import CustomerTextInput, TextSource, text_workflow_id
from domain.dunning import DunningInput, PaymentFailed, PaymentSucceeded, dunning_workflow_id
from domain.events import CustomerEvent
from domain.inbound_mail import (
    CUSTOMER_REPLY,
    CrmEmailEvent,
    CustomerReplyInput,
    crm_email_workflow_id,
    customer_reply_workflow_id,
)
from domain.onboarding import OnboardingInput, ProductEvent, onboarding_workflow_id
from domain.onboarding_survey import (
    OnboardingSurveyAnswers,
    onboarding_survey_key,
    onboarding_survey_workflow_id,
)
from domain.renewal import (
    AutoRenewed,
    Churned,
    RenewalDateChanged,
    RenewalInput,
    renewal_workflow_id,
)
from domain.surveys import CsatAnswered, NpsAnswered, csat_workflow_id, nps_workflow_id
from domain.ticket_sla import (
    AgentReplied,
    TicketPriorityChanged,
    TicketSlaInput,
    TicketStatusChanged,
    ticket_sla_workflow_id,
)
from domain.tiers import ProductEventType, Tier
from domain.usage import UsageFigures, UsageSnapshot, UsageSnapshotInput, usage_workflow_id
from domain.winback import (
    ExitDetailsInput,
    ExitReason,
    SurveyAnswer,
    WouldReturn,
    exit_details_workflow_id,
    winback_workflow_id,
)
from webhooks.exit_details import EXIT_DETAILS
from webhooks.normalize import (
    CUSTOMER_COMMENT,
    HUBSPOT_DEAL_CLOSED_WON,
    STRIPE_SUBSCRIPTION_RENEWED,
)
from webhooks.onboarding_survey import ONBOARDING_SURVEY_ANSWER
from webhooks.payloads import USAGE_SNAPSHOT
from webhooks.survey_comments import SURVEY_COMMENT


def _customer_key(ev: CustomerEvent) -> str | None:
    return ev.customer_id


def _ticket_key(ev: CustomerEvent) -> str | None:
    ticket_id = ev.data.get("ticket_id")
    return str(ticket_id) if ticket_id else None


@dataclass(frozen=True)
class Route:
    workflow: str
    """Workflow type name."""
    workflow_id: Callable[[str], str]
    """From the routing key (the customer id, or what ``key`` returns)."""
    start_input: Callable[[CustomerEvent], BaseModel] | None
    """None: only signal a running workflow (ignored when none runs)."""
    signal: str | None = None
    signal_arg: Callable[[CustomerEvent], BaseModel] | None = None
    key: Callable[[CustomerEvent], str | None] = _customer_key
    """The business key the workflow id is made from (default: the customer id)."""
    applies: Callable[[CustomerEvent], str | None] | None = None
    """Returns why the event does not concern the workflow (then ignored), or None."""
    parks: bool = False
    """The workflow may park (it cannot act: e.g. its ticket cannot be read); the ingress
    then answers the events it takes ``parked`` (memo ``cshub_parked``)."""
    recurring: bool = False
    """A customer goes through it again and again (a new dunning after the last one was
    paid, a new countdown after a churn): a closed workflow with the id may be started
    anew. Otherwise a completed one is never restarted by a late or repeated event."""


def _onboarding_from_deal(ev: CustomerEvent) -> OnboardingInput:
    tier = str(ev.data.get("tier") or "")
    valid = tier in {t.value for t in Tier}
    # No tier on the deal: the workflow reads the company's cshub_tier.
    return OnboardingInput(customer_id=str(ev.customer_id), tier=Tier(tier) if valid else None)


def _onboarding_for_customer(ev: CustomerEvent) -> OnboardingInput:
    return OnboardingInput(customer_id=str(ev.customer_id))


def _product_signal(ev: CustomerEvent) -> ProductEvent:
    return ProductEvent(
        type=ProductEventType(ev.type.removeprefix("product.")),
        event_id=ev.dedup_key,
        count=int(ev.data.get("count") or 1),
        percent=ev.data.get("percent"),
        limit_name=ev.data.get("limit_name"),
        occurred_at=ev.occurred_at,
    )


def _usage_input(ev: CustomerEvent) -> UsageSnapshotInput:
    return UsageSnapshotInput(customer_id=str(ev.customer_id))


def _usage_snapshot(ev: CustomerEvent) -> UsageSnapshot:
    """Raises ValueError (the event is invalid) when the figures are missing or wrong."""
    return UsageSnapshot(
        occurred_at=ev.occurred_at,
        figures=UsageFigures.model_validate(ev.data.get("usage") or {}),
        event_id=ev.dedup_key,
    )


def _renewal_date(ev: CustomerEvent) -> date:
    value = ev.data.get("renewal_date")
    if not value:
        raise ValueError("the subscription has no current_period_end")
    return date.fromisoformat(str(value))


def _renewal_input(ev: CustomerEvent) -> RenewalInput:
    return RenewalInput(customer_id=str(ev.customer_id), renewal_date=_renewal_date(ev))


def _renewal_date_changed(ev: CustomerEvent) -> RenewalDateChanged:
    return RenewalDateChanged(renewal_date=_renewal_date(ev), event_id=ev.dedup_key)


def _auto_renewed(ev: CustomerEvent) -> AutoRenewed:
    return AutoRenewed(next_renewal_date=_renewal_date(ev), event_id=ev.dedup_key)


def _subscription_churned(ev: CustomerEvent) -> Churned:
    return Churned(reason="subscription cancelled in Stripe", event_id=ev.dedup_key)


def _dunning_input(ev: CustomerEvent) -> DunningInput:
    currency = ev.data.get("currency")
    return DunningInput(
        customer_id=str(ev.customer_id),
        invoice_id=ev.data.get("invoice_id"),
        amount_due_cents=ev.data.get("amount_due_cents"),
        currency=str(currency) if currency and len(str(currency)) == 3 else None,
    )


def _payment_failed(ev: CustomerEvent) -> PaymentFailed:
    attempts = ev.data.get("attempt_count")
    return PaymentFailed(
        invoice_id=ev.data.get("invoice_id"),
        attempt_count=attempts if isinstance(attempts, int) else None,
        event_id=ev.dedup_key,
    )


def _payment_succeeded(ev: CustomerEvent) -> PaymentSucceeded:
    return PaymentSucceeded(invoice_id=ev.data.get("invoice_id"), event_id=ev.dedup_key)


def _survey_answer(ev: CustomerEvent) -> SurveyAnswer:
    return SurveyAnswer(reason=ExitReason(str(ev.data["reason"])), event_id=ev.dedup_key)


def _ticket_sla_input(ev: CustomerEvent) -> TicketSlaInput:
    return TicketSlaInput(ticket_id=str(ev.data["ticket_id"]))


def _agent_replied(ev: CustomerEvent) -> AgentReplied:
    return AgentReplied(at=ev.occurred_at, event_id=ev.dedup_key)


def _not_a_public_agent_reply(ev: CustomerEvent) -> str | None:
    if not ev.data.get("comment_public"):
        return "a private comment: the first-response clock waits for a public reply"
    if not ev.data.get("author_is_staff"):
        return "a comment by the requester, not an agent"
    return None


def _status_changed(ev: CustomerEvent) -> TicketStatusChanged:
    status = ev.data.get("status")
    if not status:
        raise ValueError("the status change names no status (event.current)")
    return TicketStatusChanged(status=str(status), at=ev.occurred_at, event_id=ev.dedup_key)


def _priority_changed(ev: CustomerEvent) -> TicketPriorityChanged:
    priority = ev.data.get("priority")
    return TicketPriorityChanged(
        priority=str(priority) if priority else None, at=ev.occurred_at, event_id=ev.dedup_key
    )


def _ticket_route(
    signal: str | None = None,
    arg: Callable[[CustomerEvent], BaseModel] | None = None,
    applies: Callable[[CustomerEvent], str | None] | None = None,
) -> Route:
    """Every Zendesk ticket event lands on ``ticket-sla-{ticket id}``, started if needed
    (a ticket older than the hub gets its clocks on its first event)."""
    return Route(
        TICKET_SLA,
        ticket_sla_workflow_id,
        _ticket_sla_input,
        signal,
        arg,
        key=_ticket_key,
        applies=applies,
        parks=True,
    )


def _csat_ticket_key(ev: CustomerEvent) -> str | None:
    ticket_id = ev.data.get("ticket_id")
    return str(ticket_id) if ticket_id else None


def _csat_answer(ev: CustomerEvent) -> CsatAnswered:
    return CsatAnswered(
        score=int(ev.data["score"]), survey_id=ev.data.get("survey_id"), event_id=ev.dedup_key
    )


def _nps_answer(ev: CustomerEvent) -> NpsAnswered:
    return NpsAnswered(
        contact_id=str(ev.data["contact_id"]),
        score=int(ev.data["score"]),
        survey_id=ev.data.get("survey_id"),
        quarter=ev.data.get("quarter"),
        event_id=ev.dedup_key,
    )


def _reply_key(ev: CustomerEvent) -> str | None:
    return ev.event_id if ev.customer_id else None


def _customer_reply(ev: CustomerEvent) -> CustomerReplyInput:
    data = ev.data
    return CustomerReplyInput(
        customer_id=str(ev.customer_id),
        play_workflow_id=data.get("play_workflow_id") or None,
        answered_template=data.get("answered_template") or None,
        subject=str(data.get("subject") or ""),
        quote=str(data.get("quote") or ""),
        received_at=ev.occurred_at,
        source=str(data.get("source") or "inbound_email"),
        sentiment=data.get("sentiment") or None,
        sentiment_score=data.get("sentiment_score"),
        signals=[str(x) for x in data.get("signals") or []],
    )


def _crm_email_key(ev: CustomerEvent) -> str | None:
    return str(ev.data.get("object_id") or "") or None


def _crm_email(ev: CustomerEvent) -> CrmEmailEvent:
    return CrmEmailEvent(email_id=str(ev.data["object_id"]))


def _text_input(ev: CustomerEvent) -> CustomerTextInput:
    return CustomerTextInput(
        source=TextSource(str(ev.data.get("source") or "")),
        text=str(ev.data.get("text") or ""),
        event_id=ev.dedup_key,
        customer_id=ev.customer_id,
        ticket_id=ev.data.get("ticket_id"),
        score=ev.data.get("score"),
    )


def _exit_details(ev: CustomerEvent) -> ExitDetailsInput:
    return ExitDetailsInput(
        customer_id=ev.customer_id or "",
        campaign=str(ev.data.get("campaign") or ""),
        reason=ExitReason(str(ev.data.get("reason") or "")),
        would_return=WouldReturn(str(ev.data.get("would_return") or "")),
        comment=ev.data.get("comment"),
    )


def _onboarding_survey(ev: CustomerEvent) -> OnboardingSurveyAnswers:
    return OnboardingSurveyAnswers.model_validate({**ev.data, "customer_id": ev.customer_id})


def _survey_day_key(ev: CustomerEvent) -> str | None:
    """``<customer>-d<day>`` (the workflow id's tail): one run per customer and survey."""
    day = ev.data.get("day")
    return onboarding_survey_key(ev.customer_id, day) if ev.customer_id and day else None


def _campaign_key(ev: CustomerEvent) -> str | None:
    campaign = ev.data.get("campaign")
    return str(campaign) if campaign else None


def _dedup_key(ev: CustomerEvent) -> str | None:
    return ev.dedup_key


def _ticket_text_input(ev: CustomerEvent) -> CustomerTextInput:
    return CustomerTextInput(
        source=TextSource.TICKET,
        text=str(ev.data.get("comment_body") or ""),
        event_id=ev.dedup_key,
        customer_id=ev.customer_id,
        ticket_id=ev.data.get("ticket_id"),
    )


def _an_empty_comment(ev: CustomerEvent) -> str | None:
    return None if ev.data.get("comment_body") else "an empty comment: nothing to read"


EXIT_SURVEY_ANSWER = "survey.exit_answer"
CSAT_ANSWER = "survey.csat_answer"
NPS_ANSWER = "survey.nps_answer"
TICKET_SLA = "TicketSlaWorkflow"
ONBOARDING = "OnboardingWorkflow"
RENEWAL = "RenewalWorkflow"
DUNNING = "DunningWorkflow"
USAGE = "UsageSnapshotWorkflow"
PRODUCT_USAGE_SNAPSHOT = f"product.{USAGE_SNAPSHOT}"

_SUBSCRIPTION_CHANGED = Route(
    RENEWAL,
    renewal_workflow_id,
    _renewal_input,
    "renewal_date_changed",
    _renewal_date_changed,
    recurring=True,
)
"""A subscription created or updated: its period end is the renewal date."""

ROUTES: dict[str, Route] = {
    # HubSpot deal moved to closed-won: the customer's onboarding starts (or is joined).
    HUBSPOT_DEAL_CLOSED_WON: Route(ONBOARDING, onboarding_workflow_id, _onboarding_from_deal),
    # Product usage: signal the customer's onboarding, starting it if the product saw the
    # customer before the CRM did (events can arrive in any order).
    **{
        f"product.{t.value}": Route(
            ONBOARDING,
            onboarding_workflow_id,
            _onboarding_for_customer,
            signal="product_event",
            signal_arg=_product_signal,
        )
        for t in ProductEventType
    },
    # Usage snapshots: the product's current figures, written on the CRM company for the
    # health score, one snapshot at a time per customer. The workflow ends when idle, so
    # the next snapshot starts it anew (recurring).
    PRODUCT_USAGE_SNAPSHOT: Route(
        USAGE, usage_workflow_id, _usage_input, "snapshot", _usage_snapshot, recurring=True
    ),
    # Stripe subscriptions drive the renewal countdown (started on first sight).
    "stripe.customer.subscription.created": _SUBSCRIPTION_CHANGED,
    "stripe.customer.subscription.updated": _SUBSCRIPTION_CHANGED,
    STRIPE_SUBSCRIPTION_RENEWED: Route(
        RENEWAL, renewal_workflow_id, _renewal_input, "auto_renewed", _auto_renewed, recurring=True
    ),
    "stripe.customer.subscription.deleted": Route(
        RENEWAL, renewal_workflow_id, None, "churned", _subscription_churned
    ),
    # Failed payments start (or feed) dunning; a paid invoice stops a running one.
    "stripe.invoice.payment_failed": Route(
        DUNNING,
        dunning_workflow_id,
        _dunning_input,
        "payment_failed",
        _payment_failed,
        recurring=True,
    ),
    "stripe.invoice.paid": Route(
        DUNNING, dunning_workflow_id, None, "payment_succeeded", _payment_succeeded
    ),
    # Zendesk tickets run on their SLA clock.
    "zendesk.ticket.created": _ticket_route(),
    "zendesk.ticket.comment_added": _ticket_route(
        "agent_replied", _agent_replied, _not_a_public_agent_reply
    ),
    # What the requester writes on a ticket: read once (risk intelligence).
    f"zendesk.{CUSTOMER_COMMENT}": Route(
        "CustomerTextWorkflow",
        text_workflow_id,
        _ticket_text_input,
        key=_dedup_key,
        applies=_an_empty_comment,
    ),
    "zendesk.ticket.status_changed": _ticket_route("status_changed", _status_changed),
    "zendesk.ticket.priority_changed": _ticket_route("priority_changed", _priority_changed),
    # A click on an exit-survey link reaches the customer's win-back campaign.
    EXIT_SURVEY_ANSWER: Route(
        "WinBackWorkflow", winback_workflow_id, None, "survey_answered", _survey_answer
    ),
    # A click on a CSAT link reaches the ticket's survey, an NPS click the customer's cycle
    # (signal only: a survey that ended takes no more answers).
    CSAT_ANSWER: Route(
        "CsatSurveyWorkflow",
        csat_workflow_id,
        None,
        "csat_answered",
        _csat_answer,
        key=_csat_ticket_key,
    ),
    NPS_ANSWER: Route("NpsSurveyWorkflow", nps_workflow_id, None, "nps_answered", _nps_answer),
    # A person's reply to a hub e-mail: the play that sent it is paused, the CSM told
    # (out-of-office and bounces have no route: recorded and ignored).
    CUSTOMER_REPLY: Route(
        "CustomerReplyWorkflow", customer_reply_workflow_id, _customer_reply, key=_reply_key
    ),
    # An e-mail HubSpot logged (generic webhook, object type 0-49): read from the CRM by
    # its own workflow; a contact's reply after a hub e-mail is then a customer reply.
    "hubspot.email.creation": Route(
        "CrmEmailReplyWorkflow", crm_email_workflow_id, _crm_email, key=_crm_email_key
    ),
    # A comment from the box under a survey's thank-you page: read once by its own
    # workflow (risk intelligence), alerted to the CSM when alarming.
    SURVEY_COMMENT: Route("CustomerTextWorkflow", text_workflow_id, _text_input, key=_dedup_key),
    # The exit survey's second page (would they come back, what could we have done
    # better): recorded by its own short workflow, one per exit-survey e-mail.
    EXIT_DETAILS: Route(
        "ExitDetailsWorkflow", exit_details_workflow_id, _exit_details, key=_campaign_key
    ),
    # The onboarding survey's answers (day 7/30/90): recorded by their own short
    # workflow, one per customer and survey (the day-90 one comes after the journey).
    ONBOARDING_SURVEY_ANSWER: Route(
        "OnboardingSurveyWorkflow",
        onboarding_survey_workflow_id,
        _onboarding_survey,
        key=_survey_day_key,
    ),
}


def route_for(event_type: str) -> Route | None:
    return ROUTES.get(event_type)
