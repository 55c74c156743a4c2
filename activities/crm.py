"""CRM side effects and look-ups. Plain ``def`` activities: the HubSpot SDK blocks, so
these run on the worker's thread pool."""

from __future__ import annotations

from temporalio import activity

from activities.errors import connector_errors
from activities.models import (
    ActionResult,
    CompanyUpdateRequest,
    CrmNoteRequest,
    CsmTaskRequest,
    CustomerProfile,
    CustomerRef,
)
from connectors.base import Company, Crm, Owner
from connectors.errors import NotFoundError, PermanentConnectorError
from domain.executive_report import ARR, CUSTOMER_SINCE, parse_day
from domain.health_properties import ACCOUNT_EXECUTIVE
from domain.health_report import parse_number
from domain.tiers import Tier
from templates.formatting import money


def known_owner(crm: Crm, owner_id: str) -> Owner | None:
    """The CRM user with this id, or None when the CRM does not know it: 404 (a user who
    left, a stale id), or 400 (a value that is no owner id at all, e.g. a name typed into
    the property). Any other failure (auth, rate limit, outage) propagates."""
    try:
        return crm.get_owner(owner_id)
    except NotFoundError:
        return None
    except PermanentConnectorError as exc:
        if exc.status == 400:
            return None
        raise


class CrmActivities:
    def __init__(self, crm: Crm, team_locale: str = "en-US") -> None:
        self._crm = crm
        self._locale = team_locale
        """How notes write money (setting CSHUB_TEAM_LOCALE, like the Slack alerts)."""

    @activity.defn(name="create_csm_task")
    def create_csm_task(self, req: CsmTaskRequest) -> ActionResult:
        """A task for the company's owner (the CSM) or its account executive, created at
        most once per key.

        An account executive id the CRM does not know (a user who left) would make the
        CRM refuse the task (400, invalid ``hubspot_owner_id``) on every attempt: the task
        goes to the CSM instead, with a warning in the worker log."""
        with connector_errors():
            company = self._crm.get_company(req.customer_id)
            owner_id = company.owner_id
            if req.assign_to == "account_executive":
                owner_id = self._account_executive_id(req.customer_id, company) or owner_id
            ref = self._crm.create_task(
                company_id=req.customer_id,
                subject=req.subject,
                body=req.body,
                due_at=req.due_at,
                owner_id=owner_id,
                priority=req.priority,
                idempotency_key=req.idempotency_key,
                attachment_ids=req.attachment_ids,
            )
        return ActionResult(
            channel="crm_task", summary=req.subject, created=ref.created, ref=ref.id
        )

    def _account_executive_id(self, customer_id: str, company: Company) -> str | None:
        """The company's account executive id, when one is set and the CRM knows it."""
        ae_id = company.properties.get(ACCOUNT_EXECUTIVE)
        if not ae_id:
            return None
        if known_owner(self._crm, ae_id) is None:
            activity.logger.warning(
                "company %s: account executive %s (%s) is not a CRM user; "
                "the task goes to the CSM (owner %s)",
                customer_id,
                ae_id,
                ACCOUNT_EXECUTIVE,
                company.owner_id or "none",
            )
            return None
        return ae_id

    @activity.defn(name="add_crm_note")
    def add_crm_note(self, req: CrmNoteRequest) -> ActionResult:
        body = req.body
        if req.amount_due_minor is not None and req.currency:
            amount = money(req.amount_due_minor, req.currency, self._locale.replace("-", "_"))
            body = f"{body.rstrip()}\nInvoice amount: {amount}"
        with connector_errors():
            ref = self._crm.create_note(
                company_id=req.customer_id,
                body=body,
                timestamp=req.timestamp,
                idempotency_key=req.idempotency_key,
            )
        first_line = req.body.splitlines()[0] if req.body else ""
        return ActionResult(channel="crm_note", summary=first_line, created=ref.created, ref=ref.id)

    @activity.defn(name="get_customer_tier")
    def get_customer_tier(self, req: CustomerRef) -> Tier | None:
        """The tier recorded on the CRM company (property ``cshub_tier``), if valid."""
        with connector_errors():
            company = self._crm.get_company(req.customer_id)
        try:
            return Tier(company.tier) if company.tier else None
        except ValueError:
            return None

    @activity.defn(name="get_customer_profile")
    def get_customer_profile(self, req: CustomerRef) -> CustomerProfile:
        """Time zone, tier, company name and CSM: what a workflow needs to plan sends and
        to be found in the UI; nothing about the customer's contacts."""
        with connector_errors():
            company = self._crm.get_company(req.customer_id)
        try:
            tier = Tier(company.tier) if company.tier else None
        except ValueError:
            tier = None
        with connector_errors():
            csm = known_owner(self._crm, company.owner_id) if company.owner_id else None
        return CustomerProfile(
            customer_id=req.customer_id,
            timezone=company.timezone or "UTC",
            tier=tier,
            company_name=company.name,
            csm_email=csm.email if csm else None,
            csm_name=csm.full_name if csm else None,
            customer_since=parse_day(company.properties.get(CUSTOMER_SINCE)),
            arr=parse_number(company.properties.get(ARR)),
        )

    @activity.defn(name="update_company")
    def update_company(self, req: CompanyUpdateRequest) -> ActionResult:
        """Write properties on the CRM company (the same values twice is harmless)."""
        with connector_errors():
            self._crm.update_company(req.customer_id, req.properties)
        summary = ", ".join(f"{k}={v}" for k, v in sorted(req.properties.items()))
        return ActionResult(channel="crm_update", summary=f"company updated: {summary}")
