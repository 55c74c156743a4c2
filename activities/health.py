"""The health sweep's CRM work: read one page of companies, score them, write the scores
back in one batch. A plain ``def`` activity (the HubSpot SDK blocks).

Two CRM calls per page (one list, one batch update of up to 100 companies). A 429 from
HubSpot becomes a retryable error carrying HubSpot's delay, so the page waits and goes
on; a retried page writes the same values (see :mod:`domain.health_outreach`).
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import connector_errors
from connectors.base import Crm
from domain import health_properties as hp
from domain.health_model import INPUT_PROPERTIES, HealthCategory
from domain.health_outreach import CHURN_OUTCOME, CREATED, TIER, Trigger, assess
from domain.health_sweep import (
    HealthPageRequest,
    HealthPageResult,
    HealthPlaybooks,
    PlaybooksData,
    SweepCounts,
)
from playbooks.loader import PlaybookError, load_health_models, load_outreach_plan

READ_PROPERTIES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *INPUT_PROPERTIES.values(),
            *hp.OUTPUT_PROPERTIES,
            *(hp.cooldown_property(t) for t in Trigger),
            *(hp.seen_property(b) for b in hp.BANDS),
            TIER,
            CREATED,
            CHURN_OUTCOME,
        ]
    )
)
"""Every company property a sweep reads."""


CRM_CALLS_PER_TRIGGER: dict[Trigger, int] = {
    Trigger.HEALTH_DECLINE: 6,  # alert: company, CSM, AE; task: company, search, create
    Trigger.CRITICAL: 8,  # churn prevention's start: profile, update, task, escalation
    Trigger.USAGE_LIMIT: 8,  # profile; alert 3; e-mail: company, contact, owner, opt-out
    Trigger.LOW_ADOPTION: 3,
    Trigger.CELEBRATION: 8,
    Trigger.EXPANSION: 4,
}
"""About how many CRM requests each trigger's outreach makes, for the sweep's pacing."""


@activity.defn(name="load_health_playbooks")
def load_health_playbooks() -> PlaybooksData:
    """The health models and outreach playbook, read once at the start of a sweep (as
    JSON data: see :data:`PlaybooksData`)."""
    try:
        loaded = HealthPlaybooks(models=load_health_models(), plan=load_outreach_plan())
        return loaded.model_dump(mode="json")
    except PlaybookError as exc:
        raise ApplicationError(str(exc), type="PlaybookError", non_retryable=True) from exc


class HealthActivities:
    def __init__(self, crm: Crm) -> None:
        self._crm = crm

    @activity.defn(name="score_health_page")
    def score_health_page(self, req: HealthPageRequest) -> HealthPageResult:
        playbooks = HealthPlaybooks.model_validate(req.playbooks)
        models, plan = playbooks.models, playbooks.plan
        with connector_errors():
            page = self._crm.list_companies(
                after=req.after, limit=req.page_size, properties=READ_PROPERTIES
            )
        counts = SweepCounts(companies=len(page.companies), crm_calls=1)
        updates: dict[str, dict[str, str]] = {}
        actionable = []
        for company in page.companies:
            props = dict(company.properties)
            props.setdefault(TIER, company.tier)
            model = models.for_tier(company.tier)
            health = assess(company.id, props, model, plan, req.sweep_at, quiet=req.baseline)
            if health is None:
                counts.stale += 1
                continue
            counts.scored += 1
            counts.low_confidence += health.low_confidence
            key = health.category.value
            counts.by_category[key] = counts.by_category.get(key, 0) + 1
            for fired in health.fired:
                counts.fired[fired.trigger.value] = counts.fired.get(fired.trigger.value, 0) + 1
                counts.outreach_crm_calls += CRM_CALLS_PER_TRIGGER[fired.trigger]
            updates[company.id] = health.properties
            tell_campaign = health.churn_campaign_active and health.changed
            if health.fired or (tell_campaign and health.category is not HealthCategory.UNKNOWN):
                actionable.append(health)
        if updates and not req.dry_run:
            activity.heartbeat(f"writing {len(updates)} scores")
            with connector_errors():
                self._crm.batch_update_companies(updates)
            counts.crm_calls += 1
        return HealthPageResult(next_after=page.next_after, counts=counts, actionable=actionable)
