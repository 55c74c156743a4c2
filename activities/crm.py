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
from connectors.base import Crm
from domain.health_properties import ACCOUNT_EXECUTIVE
from domain.tiers import Tier


class CrmActivities:
    def __init__(self, crm: Crm) -> None:
        self._crm = crm

    @activity.defn(name="create_csm_task")
    def create_csm_task(self, req: CsmTaskRequest) -> ActionResult:
        """A task for the company's owner (the CSM) or its account executive, created at
        most once per key."""
        with connector_errors():
            company = self._crm.get_company(req.customer_id)
            owner_id = company.owner_id
            if req.assign_to == "account_executive":
                owner_id = company.properties.get(ACCOUNT_EXECUTIVE) or owner_id
            ref = self._crm.create_task(
                company_id=req.customer_id,
                subject=req.subject,
                body=req.body,
                due_at=req.due_at,
                owner_id=owner_id,
                priority=req.priority,
                idempotency_key=req.idempotency_key,
            )
        return ActionResult(
            channel="crm_task", summary=req.subject, created=ref.created, ref=ref.id
        )

    @activity.defn(name="add_crm_note")
    def add_crm_note(self, req: CrmNoteRequest) -> ActionResult:
        with connector_errors():
            ref = self._crm.create_note(
                company_id=req.customer_id,
                body=req.body,
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
        """Time zone and tier: what a workflow needs to plan sends, and nothing personal."""
        with connector_errors():
            company = self._crm.get_company(req.customer_id)
        try:
            tier = Tier(company.tier) if company.tier else None
        except ValueError:
            tier = None
        return CustomerProfile(
            customer_id=req.customer_id, timezone=company.timezone or "UTC", tier=tier
        )

    @activity.defn(name="update_company")
    def update_company(self, req: CompanyUpdateRequest) -> ActionResult:
        """Write properties on the CRM company (the same values twice is harmless)."""
        with connector_errors():
            self._crm.update_company(req.customer_id, req.properties)
        summary = ", ".join(f"{k}={v}" for k, v in sorted(req.properties.items()))
        return ActionResult(channel="crm_update", summary=f"company updated: {summary}")
