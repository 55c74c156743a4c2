"""The routing table: which workflow each event type reaches, and how.

Read it as: *event type* → *workflow type*, *workflow id*, *signal* (or a plain start),
*start input*. Every route is a signal-with-start or an idempotent start on a workflow id
derived from the business key, so a redelivered event lands on the same execution.
Event types not listed here are recorded and answered 202 "ignored".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from domain.events import CustomerEvent
from domain.onboarding import OnboardingInput, ProductEvent
from domain.tiers import ProductEventType, Tier
from webhooks.normalize import HUBSPOT_DEAL_CLOSED_WON
from workflows.onboarding import onboarding_workflow_id


@dataclass(frozen=True)
class Route:
    workflow: str
    """Workflow type name."""
    workflow_id: Callable[[str], str]
    """From the customer id."""
    start_input: Callable[[CustomerEvent], BaseModel]
    signal: str | None = None
    signal_arg: Callable[[CustomerEvent], BaseModel] | None = None


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


ONBOARDING = "OnboardingWorkflow"

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
}


def route_for(event_type: str) -> Route | None:
    return ROUTES.get(event_type)
