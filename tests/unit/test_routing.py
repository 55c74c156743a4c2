"""The routing table's pure parts: for every event type, which workflow it reaches, on
which id, started with what and signalled with what, built from the normalised event
(including the fields a sender may leave out or get wrong). No Temporal, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from domain.dunning import DunningInput, PaymentFailed, PaymentSucceeded
from domain.events import CustomerEvent, EventSource
from domain.onboarding import OnboardingInput, ProductEvent
from domain.renewal import AutoRenewed, Churned, RenewalDateChanged, RenewalInput
from domain.surveys import CsatAnswered, NpsAnswered
from domain.ticket_sla import (
    AgentReplied,
    TicketPriorityChanged,
    TicketSlaInput,
    TicketStatusChanged,
    ticket_sla_workflow_id,
)
from domain.tiers import ProductEventType, Tier
from domain.usage import UsageFigures, UsageSnapshot, UsageSnapshotInput
from domain.winback import ExitReason, SurveyAnswer
from webhooks.routing import ROUTES, Route, _ticket_route, route_for

NOW = datetime(2026, 3, 8, 9, 30, tzinfo=UTC)


def ev(
    type_: str, data: dict[str, Any] | None = None, customer: str | None = "1003"
) -> CustomerEvent:
    return CustomerEvent(
        event_id="e1",
        source=EventSource(type_.split(".")[0]),
        type=type_,
        customer_id=customer,
        occurred_at=NOW,
        data=data or {},
    )


# (event type, data, workflow, workflow id, start input, signal, signal argument, recurring)
CASES: list[tuple[str, dict[str, Any], str, str, BaseModel | None, str | None, BaseModel | None, bool]] = [
    ("hubspot.deal.closed_won", {"tier": "professional"}, "OnboardingWorkflow",
     "onboarding-1003", OnboardingInput(customer_id="1003", tier=Tier.PROFESSIONAL), None, None,
     False),
    ("hubspot.deal.closed_won", {}, "OnboardingWorkflow", "onboarding-1003",
     OnboardingInput(customer_id="1003"), None, None, False),
    ("hubspot.deal.closed_won", {"tier": "gold"}, "OnboardingWorkflow", "onboarding-1003",
     OnboardingInput(customer_id="1003"), None, None, False),
    ("product.workflow_created", {"count": 3}, "OnboardingWorkflow", "onboarding-1003",
     OnboardingInput(customer_id="1003"), "product_event",
     ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id="product:e1", count=3,
                  occurred_at=NOW), False),
    ("product.first_login", {}, "OnboardingWorkflow", "onboarding-1003",
     OnboardingInput(customer_id="1003"), "product_event",
     ProductEvent(type=ProductEventType.FIRST_LOGIN, event_id="product:e1", count=1,
                  occurred_at=NOW), False),
    ("product.usage_threshold", {"percent": 85.5, "limit_name": "workflows"},
     "OnboardingWorkflow", "onboarding-1003", OnboardingInput(customer_id="1003"),
     "product_event",
     ProductEvent(type=ProductEventType.USAGE_THRESHOLD, event_id="product:e1", percent=85.5,
                  limit_name="workflows", occurred_at=NOW), False),
    ("product.usage_snapshot", {"usage": {"active_users": 5, "licensed_seats": 9}},
     "UsageSnapshotWorkflow", "usage-1003", UsageSnapshotInput(customer_id="1003"), "snapshot",
     UsageSnapshot(occurred_at=NOW, figures=UsageFigures(active_users=5, licensed_seats=9),
                   event_id="product:e1"), True),
    ("stripe.customer.subscription.created", {"renewal_date": "2027-03-01"}, "RenewalWorkflow",
     "renewal-1003", RenewalInput(customer_id="1003", renewal_date=date(2027, 3, 1)),
     "renewal_date_changed",
     RenewalDateChanged(renewal_date=date(2027, 3, 1), event_id="stripe:e1"), True),
    ("stripe.customer.subscription.updated", {"renewal_date": "2027-04-01"}, "RenewalWorkflow",
     "renewal-1003", RenewalInput(customer_id="1003", renewal_date=date(2027, 4, 1)),
     "renewal_date_changed",
     RenewalDateChanged(renewal_date=date(2027, 4, 1), event_id="stripe:e1"), True),
    ("stripe.customer.subscription.renewed", {"renewal_date": "2028-03-01"}, "RenewalWorkflow",
     "renewal-1003", RenewalInput(customer_id="1003", renewal_date=date(2028, 3, 1)),
     "auto_renewed", AutoRenewed(next_renewal_date=date(2028, 3, 1), event_id="stripe:e1"),
     True),
    ("stripe.customer.subscription.deleted", {}, "RenewalWorkflow", "renewal-1003", None,
     "churned", Churned(reason="subscription cancelled in Stripe", event_id="stripe:e1"), False),
    ("stripe.invoice.payment_failed",
     {"invoice_id": "in_1", "amount_due_cents": 4900, "currency": "usd", "attempt_count": 2},
     "DunningWorkflow", "dunning-1003",
     DunningInput(customer_id="1003", invoice_id="in_1", amount_due_cents=4900, currency="usd"),
     "payment_failed", PaymentFailed(invoice_id="in_1", attempt_count=2, event_id="stripe:e1"),
     True),
    ("stripe.invoice.payment_failed", {"currency": "us", "attempt_count": "2"},
     "DunningWorkflow", "dunning-1003", DunningInput(customer_id="1003"),
     "payment_failed", PaymentFailed(event_id="stripe:e1"), True),
    ("stripe.invoice.paid", {"invoice_id": "in_1"}, "DunningWorkflow", "dunning-1003", None,
     "payment_succeeded", PaymentSucceeded(invoice_id="in_1", event_id="stripe:e1"), False),
    ("zendesk.ticket.created", {"ticket_id": 5001}, "TicketSlaWorkflow", "ticket-sla-5001",
     TicketSlaInput(ticket_id="5001"), None, None, False),
    ("zendesk.ticket.comment_added",
     {"ticket_id": "5001", "comment_public": True, "author_is_staff": True},
     "TicketSlaWorkflow", "ticket-sla-5001", TicketSlaInput(ticket_id="5001"), "agent_replied",
     AgentReplied(at=NOW, event_id="zendesk:e1"), False),
    ("zendesk.ticket.status_changed", {"ticket_id": "5001", "status": "solved"},
     "TicketSlaWorkflow", "ticket-sla-5001", TicketSlaInput(ticket_id="5001"), "status_changed",
     TicketStatusChanged(status="solved", at=NOW, event_id="zendesk:e1"), False),
    ("zendesk.ticket.priority_changed", {"ticket_id": "5001", "priority": "urgent"},
     "TicketSlaWorkflow", "ticket-sla-5001", TicketSlaInput(ticket_id="5001"),
     "priority_changed",
     TicketPriorityChanged(priority="urgent", at=NOW, event_id="zendesk:e1"), False),
    ("zendesk.ticket.priority_changed", {"ticket_id": "5001", "priority": ""},
     "TicketSlaWorkflow", "ticket-sla-5001", TicketSlaInput(ticket_id="5001"),
     "priority_changed", TicketPriorityChanged(at=NOW, event_id="zendesk:e1"), False),
    ("survey.exit_answer", {"reason": "too_expensive"}, "WinBackWorkflow", "winback-1003", None,
     "survey_answered", SurveyAnswer(reason=ExitReason.TOO_EXPENSIVE, event_id="survey:e1"),
     False),
    ("survey.csat_answer", {"ticket_id": 5001, "score": "4", "survey_id": "0123456789abcdef"},
     "CsatSurveyWorkflow", "csat-5001", None, "csat_answered",
     CsatAnswered(score=4, survey_id="0123456789abcdef", event_id="survey:e1"), False),
    ("survey.nps_answer",
     {"contact_id": 2003, "score": "9", "survey_id": "0123456789abcdef", "quarter": "2026-Q1"},
     "NpsSurveyWorkflow", "nps-1003", None, "nps_answered",
     NpsAnswered(contact_id="2003", score=9, survey_id="0123456789abcdef", quarter="2026-Q1",
                 event_id="survey:e1"), False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("type_", "data", "workflow", "workflow_id", "start", "signal", "arg", "recurring"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_routes(
    type_: str,
    data: dict[str, Any],
    workflow: str,
    workflow_id: str,
    start: BaseModel | None,
    signal: str | None,
    arg: BaseModel | None,
    recurring: bool,
) -> None:
    event = ev(type_, data)
    route = route_for(type_)
    assert route is not None
    assert route.workflow == workflow
    key = route.key(event)
    assert key is not None and route.workflow_id(key) == workflow_id
    assert (route.start_input(event) if route.start_input else None) == start
    assert route.signal == signal
    assert (route.signal_arg(event) if route.signal_arg else None) == arg
    assert route.recurring is recurring
    assert route.parks is type_.startswith("zendesk.")  # only a ticket can be unreadable
    if route.applies is not None:
        assert route.applies(event) is None


def test_every_product_event_type_reaches_onboarding() -> None:
    for t in ProductEventType:
        route = route_for(f"product.{t.value}")
        assert route is not None and route.signal == "product_event"
        data = {"percent": 90} if t is ProductEventType.USAGE_THRESHOLD else {}
        assert route.signal_arg is not None
        signal = route.signal_arg(ev(f"product.{t.value}", data))
        assert isinstance(signal, ProductEvent) and signal.type is t


def test_unknown_event_types_have_no_route() -> None:
    assert route_for("hubspot.deal.closed_lost") is None
    assert route_for("") is None
    assert "zendesk.ticket.created" in ROUTES


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"ticket_id": "5001", "comment_public": False, "author_is_staff": True},
         "a private comment: the first-response clock waits for a public reply"),
        ({"ticket_id": "5001", "author_is_staff": True},
         "a private comment: the first-response clock waits for a public reply"),
        ({"ticket_id": "5001", "comment_public": True, "author_is_staff": False},
         "a comment by the requester, not an agent"),
        ({"ticket_id": "5001", "comment_public": True},
         "a comment by the requester, not an agent"),
    ],
)  # fmt: skip
def test_only_a_public_agent_comment_answers_the_ticket(data: dict[str, Any], why: str) -> None:
    route = route_for("zendesk.ticket.comment_added")
    assert route is not None and route.applies is not None
    assert route.applies(ev("zendesk.ticket.comment_added", data)) == why


@pytest.mark.parametrize(
    ("type_", "data", "message"),
    [
        ("stripe.customer.subscription.created", {}, "^the subscription has no current_period_end$"),
        ("stripe.customer.subscription.updated", {"renewal_date": ""},
         "^the subscription has no current_period_end$"),
        ("stripe.customer.subscription.renewed", {"renewal_date": "2027-02-30"}, "day is out"),
        ("zendesk.ticket.status_changed", {"ticket_id": "5001"},
         "^the status change names no status \\(event.current\\)$"),
        ("product.usage_snapshot", {}, "give at least one of"),
        ("product.usage_snapshot", {"usage": {"active_users": "5"}}, "valid number"),
    ],
)  # fmt: skip
def test_an_event_missing_what_its_workflow_needs_is_invalid(
    type_: str, data: dict[str, Any], message: str
) -> None:
    route = route_for(type_)
    assert route is not None
    with pytest.raises(ValueError, match=message):
        if route.start_input is not None:
            route.start_input(ev(type_, data))
        assert route.signal_arg is not None
        route.signal_arg(ev(type_, data))


@pytest.mark.parametrize(
    "type_",
    ["zendesk.ticket.created", "zendesk.ticket.status_changed", "survey.csat_answer"],
)
def test_a_ticket_event_without_a_ticket_id_has_no_key(type_: str) -> None:
    route = route_for(type_)
    assert route is not None
    assert route.key(ev(type_, {"status": "open"})) is None
    assert route.key(ev(type_, {"ticket_id": 0})) is None
    assert route.key(ev(type_, {"ticket_id": 77})) == "77"


def test_a_ticket_route_lands_on_the_ticket_sla_workflow() -> None:
    def arg(e: CustomerEvent) -> BaseModel:
        return AgentReplied(event_id=e.dedup_key)

    def applies(e: CustomerEvent) -> str | None:
        return "no"

    route = _ticket_route("a_signal", arg, applies)
    assert isinstance(route, Route)
    assert (route.workflow, route.signal, route.signal_arg, route.applies) == (
        "TicketSlaWorkflow", "a_signal", arg, applies,
    )  # fmt: skip
    assert route.workflow_id is ticket_sla_workflow_id
    assert route.start_input is not None
    assert route.start_input(ev("zendesk.ticket.created", {"ticket_id": 8})) == TicketSlaInput(
        ticket_id="8"
    )
    assert route.key(ev("zendesk.ticket.created", {"ticket_id": 8}, customer=None)) == "8"
    assert route.recurring is False
    assert route.parks is True
    bare = _ticket_route()
    assert (bare.signal, bare.signal_arg, bare.applies) == (None, None, None)
