"""``cshub send-test-event``: sign and post one realistic event to a running hub."""

from __future__ import annotations

import httpx

from runtime.settings import Settings
from webhooks import sample_events as samples
from webhooks.sample_events import SignedRequest

PRODUCT_KINDS = {
    "first-login": "first_login",
    "workflow-created": "workflow_created",
    "ai-request": "ai_request",
    "share": "share",
    "usage-threshold": "usage_threshold",
    "usage-snapshot": "usage_snapshot",
}
STRIPE_KINDS = {
    "invoice-paid": "invoice.paid",
    "invoice-payment-failed": "invoice.payment_failed",
    "subscription-updated": "customer.subscription.updated",
}
ZENDESK_KINDS = {
    "ticket-created": "ticket.created",
    "agent-replied": "ticket.comment_added",
    "ticket-pending": "ticket.status_changed",
    "ticket-solved": "ticket.status_changed",
    "ticket-reopened": "ticket.status_changed",
}
ZENDESK_STATUS = {
    "ticket-pending": ("pending", "open"),
    "ticket-solved": ("solved", "open"),
    "ticket-reopened": ("open", "solved"),
}


class TestEventError(Exception):
    """The request to build or send was wrong; the message says how."""


def _secret(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    if value is None:
        raise TestEventError(f"{name.upper()} is not set")
    return str(value.get_secret_value())


def _need(value: str | None, option: str, what: str) -> str:
    if not value:
        raise TestEventError(f"{what} needs {option}")
    return value


def build(
    settings: Settings,
    source: str,
    kind: str,
    *,
    base_url: str,
    customer: str | None,
    ticket: str | None,
    percent: float,
) -> SignedRequest:
    what = f"{source} {kind}"
    if source == "hubspot" and kind in ("deal-won", "deal-won-generic"):
        from connectors.errors import ConnectorError
        from connectors.hubspot import HubSpotCrm

        company = _need(customer, "--customer", what)
        crm = HubSpotCrm(
            access_token=_secret(settings, "hubspot_access_token"), base_url=settings.hubspot_url
        )
        try:
            deals = crm.deal_ids_for_company(company)
        except ConnectorError as exc:
            raise TestEventError(
                f"cannot read company {company}'s deals from the CRM at {settings.hubspot_url} "
                f"(HUBSPOT_BASE_URL, or CSHUB_SANDBOX_PORT for a `cshub dev` stack): {exc}"
            ) from None
        if not deals:
            raise TestEventError(f"hubspot company {company} has no deal to mark closed-won")
        public_url = settings.hubspot_webhook_url or f"{base_url}/webhooks/hubspot"
        event = (
            samples.hubspot_generic_event(object_id=deals[0])
            if kind == "deal-won-generic"
            else samples.hubspot_event(object_id=deals[0])
        )
        return samples.signed_hubspot(
            [event],
            secret=_secret(settings, "hubspot_client_secret"),
            public_url=public_url,
        )
    if source == "product" and kind == "usage-snapshot":
        event = samples.usage_snapshot_event(customer_id=_need(customer, "--customer", what))
        return samples.signed_product(event, secret=_secret(settings, "product_webhook_secret"))
    if source == "product" and kind in PRODUCT_KINDS:
        usage = kind == "usage-threshold"
        event = samples.product_event(
            customer_id=_need(customer, "--customer", what),
            type=PRODUCT_KINDS[kind],
            percent=percent if usage else None,
            limit_name="workflow_runs" if usage else None,
        )
        return samples.signed_product(event, secret=_secret(settings, "product_webhook_secret"))
    if source == "stripe" and kind in STRIPE_KINDS:
        event = samples.stripe_event(type=STRIPE_KINDS[kind], customer_id=customer)
        return samples.signed_stripe(event, secret=_secret(settings, "stripe_webhook_secret"))
    if source == "zendesk" and kind == "trigger-ticket-created":
        body = samples.zendesk_trigger_body(
            ticket_id=_need(ticket, "--ticket", what), organization_external_id=customer or ""
        )
        secret = _secret(settings, "zendesk_webhook_secret")
        return samples.signed_zendesk_trigger(body, secret=secret)
    if source == "zendesk" and kind in ZENDESK_KINDS:
        ticket_id = _need(ticket, "--ticket", what)
        if kind in ZENDESK_STATUS:
            event = samples.zendesk_status_changed(ticket_id, *ZENDESK_STATUS[kind])
        elif kind == "agent-replied":
            event = samples.zendesk_comment_added(ticket_id)
        else:
            event = samples.zendesk_event(ticket_id=ticket_id, type=ZENDESK_KINDS[kind])
        return samples.signed_zendesk(event, secret=_secret(settings, "zendesk_webhook_secret"))
    raise TestEventError(
        f"unknown event {what!r}; try: hubspot deal-won|deal-won-generic, product "
        f"{'|'.join(PRODUCT_KINDS)}, stripe {'|'.join(STRIPE_KINDS)}, zendesk "
        f"{'|'.join(ZENDESK_KINDS)}|trigger-ticket-created"
    )


def send(
    settings: Settings,
    source: str,
    kind: str,
    *,
    customer: str | None = None,
    ticket: str | None = None,
    percent: float = 87.0,
    url: str | None = None,
) -> tuple[int, str]:
    base = (url or f"http://{settings.cshub_api_host}:{settings.cshub_api_port}").rstrip("/")
    request = build(
        settings, source, kind, base_url=base, customer=customer, ticket=ticket, percent=percent
    )
    try:
        resp = httpx.post(
            base + request.path,
            content=request.body,
            headers={**request.headers, "Content-Type": "application/json"},
            timeout=15,
        )
    except httpx.HTTPError as err:
        where = "--url" if url else "CSHUB_API_HOST / CSHUB_API_PORT, or --url"
        raise TestEventError(f"could not reach the hub at {base} ({where}): {err}") from None
    return resp.status_code, resp.text
