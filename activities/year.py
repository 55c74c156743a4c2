"""The post-onboarding plays' CRM reads and writes: the year playbook, the account's
signals (health, NPS, usage, upgrade readiness, tier), the review pack, a referral.
Plain ``def`` activities (the HubSpot SDK blocks); reads only, except ``record_referral``,
which writes the same values however often it runs."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import connector_errors, playbook_errors
from activities.health import READ_PROPERTIES
from activities.health_explain import explain_company
from activities.models import ActionResult, CustomerRef, LoadPlanRequest
from activities.review_chart import review_chart_png
from connectors.base import Company, Crm
from domain import health_properties as hp
from domain.health_model import INPUT_PROPERTIES
from domain.health_outreach import parse_category, parse_number, usage_figure_of
from domain.review_pack import PACK_PROPERTIES, USAGE_LIMITS, pack_figures, review_pack_text
from domain.tiers import Tier
from domain.year_plan import AccountSignals, YearPlan, commission_minor
from playbooks.loader import (
    load_detector_rules,
    load_health_models,
    load_year_plan,
)

CHART_FOLDER = "/cshub/review-packs"
"""Where review-pack charts go in the CRM's file manager."""
PACK_READ = tuple(dict.fromkeys([*READ_PROPERTIES, *PACK_PROPERTIES]))

REFERRED_BY = "cshub_referred_by"
"""On the referred company: the customer id of who referred it."""
REFERRAL_VALUE = "cshub_referral_value_minor"
REFERRAL_COMMISSION = "cshub_referral_commission_minor"
REFERRAL_CURRENCY = "cshub_referral_currency"
REFERRAL_PROPERTIES = (REFERRED_BY, REFERRAL_VALUE, REFERRAL_COMMISSION, REFERRAL_CURRENCY)


@activity.defn(name="load_year_plan")
def load_year_plan_activity(req: LoadPlanRequest) -> YearPlan:
    with playbook_errors():
        return load_year_plan(req.plan)


class ReviewPackRequest(BaseModel):
    customer_id: str
    pack_key: str | None = None
    """Deterministic name of the chart file (the workflow's idempotency key): a retried
    activity replaces the same file."""
    title: str
    day: int
    agenda: list[str] = Field(default_factory=list)
    goals: list[str] = Field(default_factory=list)
    milestones_reached: list[str] = Field(default_factory=list)
    milestones_missed: list[str] = Field(default_factory=list)


class ReviewPack(BaseModel):
    text: str
    chart_file_id: str | None = None
    chart_url: str | None = None


class ReferralRequest(BaseModel):
    referrer_id: str
    referred_id: str
    value_minor: int = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    commission_percent: float = Field(gt=0, le=100)


def signals_of(company: Company) -> AccountSignals:
    props = company.properties
    usage = [f for f in (usage_figure_of(props, n) for n in USAGE_LIMITS) if f is not None]
    fullest = max(usage, key=lambda f: f.percent) if usage else None
    tier = company.tier
    return AccountSignals(
        tier=Tier(tier) if tier in {t.value for t in Tier} else None,
        health_score=parse_number(props.get(hp.SCORE)),
        health_category=parse_category(props.get(hp.CATEGORY)),
        health_label=props.get(hp.CATEGORY_LABEL) or None,
        nps=parse_number(props.get(INPUT_PROPERTIES["nps"])),
        usage_name=fullest.limit_name if fullest else None,
        usage_percent=fullest.percent if fullest else None,
        upgrade_readiness=props.get(INPUT_PROPERTIES["upgrade_readiness"]) or None,
    )


class YearActivities:
    def __init__(self, crm: Crm) -> None:
        self._crm = crm

    def _company(self, customer_id: str, properties: Sequence[str]) -> Company:
        with connector_errors():
            found = self._crm.batch_read_companies([customer_id], properties)
        if not found:
            raise ApplicationError(
                f"no CRM company with id {customer_id}", type="NotFound", non_retryable=True
            )
        return found[0]

    @activity.defn(name="read_account_signals")
    def read_account_signals(self, req: CustomerRef) -> AccountSignals:
        """Health category and score (as the last sweep recorded them), latest NPS answer,
        the fuller usage limit, the upgrade-readiness rating and the tier, from the CRM."""
        return signals_of(self._company(req.customer_id, READ_PROPERTIES))

    @activity.defn(name="build_review_pack")
    def build_review_pack(self, req: ReviewPackRequest) -> ReviewPack:
        """The pack's text, from the company's properties now; the health part is the
        explanation ``cshub health explain`` prints."""
        company = self._company(req.customer_id, PACK_READ)
        explanation = explain_company(company, load_health_models(), load_detector_rules())
        chart = None
        if req.pack_key is not None:
            png = review_chart_png(pack_figures(company.properties), f"{company.name}: {req.title}")
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", req.pack_key).strip("-") + ".png"
            with connector_errors():
                chart = self._crm.upload_file(name=name, content=png, folder=CHART_FOLDER)
        return ReviewPack(
            chart_file_id=chart.id if chart else None,
            chart_url=chart.url if chart else None,
            text=review_pack_text(
                title=req.title,
                day=req.day,
                agenda=req.agenda,
                props=company.properties,
                health_explanation=explanation,
                milestones_reached=req.milestones_reached,
                milestones_missed=req.milestones_missed,
                goals=req.goals,
                chart_url=chart.url if chart else None,
            ),
        )

    @activity.defn(name="record_referral")
    def record_referral(self, req: ReferralRequest) -> ActionResult:
        """The referred company remembers who referred it, the contract value and the
        commission owed (``cshub report referrals`` lists them)."""
        commission = commission_minor(req.value_minor, req.commission_percent)
        with connector_errors():
            self._crm.update_company(
                req.referred_id,
                {
                    REFERRED_BY: req.referrer_id,
                    REFERRAL_VALUE: str(req.value_minor),
                    REFERRAL_COMMISSION: str(commission),
                    REFERRAL_CURRENCY: req.currency,
                },
            )
        return ActionResult(
            channel="crm_update",
            summary=(
                f"referral: {req.referrer_id} referred {req.referred_id}; commission "
                f"{commission / 100:.2f} {req.currency} ({req.commission_percent:g} % of "
                f"{req.value_minor / 100:.2f})"
            ),
        )
