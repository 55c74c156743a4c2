"""The health sweep's CRM work: read pages of companies, score them, write the scores
back one batch a page. A plain ``def`` activity (the HubSpot SDK blocks).

Two CRM calls per page (one list, one batch update of up to 100 companies). A 429 from
HubSpot becomes a retryable error carrying HubSpot's delay, so the activity waits and
goes on from its last heartbeat; a retried page writes the same values (see
:mod:`domain.health_outreach`).
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from pydantic import ValidationError
from temporalio import activity

from activities.errors import connector_errors, playbook_errors
from connectors.base import CompanyPage, Crm
from domain import health_properties as hp
from domain import risk_detectors as risk
from domain.churn_risk import FEATURES, RISK_PROPERTY, features, model_row
from domain.health_model import INPUT_PROPERTIES, HealthCategory
from domain.health_outreach import (
    CHURN_OUTCOME,
    CREATED,
    TIER,
    CompanyHealth,
    Trigger,
    assess,
)
from domain.health_sweep import (
    HealthPageRequest,
    HealthPageResult,
    HealthPlaybooks,
    PlaybooksData,
    SweepCounts,
)
from playbooks.loader import (
    load_detector_rules,
    load_health_models,
    load_outreach_plan,
)
from runtime.risk_history import RiskHistory, Snapshot
from runtime.risk_model import LoadedModel, load_current_cached

READ_PROPERTIES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *INPUT_PROPERTIES.values(),
            *hp.OUTPUT_PROPERTIES,
            *(hp.cooldown_property(t) for t in Trigger),
            hp.ALERTS_SNOOZED_UNTIL,
            *(hp.seen_property(b) for b in hp.BANDS),
            TIER,
            CREATED,
            CHURN_OUTCOME,
            RISK_PROPERTY,
            *risk.read_properties(),
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

CRM_CALLS_PER_RISK = 4
"""About how many CRM requests a warning sign brings (a churn campaign's start or answer)."""


@activity.defn(name="load_health_playbooks")
def load_health_playbooks() -> PlaybooksData:
    """The health models and outreach playbook, read once at the start of a sweep (as
    JSON data: see :data:`PlaybooksData`)."""
    with playbook_errors():
        loaded = HealthPlaybooks(
            models=load_health_models(),
            plan=load_outreach_plan(),
            detectors=load_detector_rules(),
        )
        return loaded.model_dump(mode="json")


MAX_ACTIONABLE = 200
"""A run of pages stops after the page that brings this many companies waiting for
outreach: they travel in the activity's result (Temporal payloads stay well under 2 MB)."""


class _Pacer:
    """Spaces CRM requests ``10 s / calls_per_10s`` apart, across threads (the lookahead
    list call and the batch write share one budget)."""

    def __init__(self, calls_per_10s: float | None) -> None:
        self._interval = 10.0 / calls_per_10s if calls_per_10s else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait_turn(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            at = max(self._next, now)
            self._next = at + self._interval
        if at > now:
            time.sleep(at - now)


class HealthActivities:
    def __init__(self, crm: Crm, history: RiskHistory | None = None) -> None:
        self._crm = crm
        self._history = history

    def _scoring(self, playbooks: HealthPlaybooks) -> ChurnScoring | None:
        """The churn-risk model for this activity: None in sweeps started before the
        model existed (no ``churn_risk`` in their detectors playbook)."""
        rule = playbooks.detectors.churn_risk if playbooks.detectors is not None else None
        if rule is None:
            return None
        model = load_current_cached()
        deciding = False
        if model is not None and self._history is not None:
            counts = self._history.outcome_counts()
            deciding = min(counts["churned"], counts["renewed"]) >= rule.min_outcomes
        return ChurnScoring(model=model, history=self._history, deciding=deciding)

    @activity.defn(name="score_health_page")
    def score_health_page(self, req: HealthPageRequest) -> HealthPageResult:
        """Read, score and write ``req.pages`` pages in a row from ``req.after``.

        While one page is written the next is read (its cursor is known once the
        page is scored), both requests paced to ``req.max_calls_per_10s``. After each
        page written, the progress so far is the heartbeat; a retry (a 429, a timeout)
        goes on from the last one, or starts over: a page written again gets the same
        values.
        """
        playbooks = HealthPlaybooks.model_validate(req.playbooks)
        properties = READ_PROPERTIES
        scoring = self._scoring(playbooks)
        if playbooks.detectors is not None:
            extra = risk.read_properties(playbooks.detectors)
            if scoring is not None and scoring.model is not None:
                extra += model_properties(scoring.model)
            properties = tuple(dict.fromkeys([*READ_PROPERTIES, *extra]))
        done = _resumed(req)
        pacer = _Pacer(req.max_calls_per_10s)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-list") as lookahead:
            reading: Future[CompanyPage] = lookahead.submit(
                self._list_page, pacer, done.next_after, req.page_size, properties
            )
            while True:
                activity.heartbeat(done.model_dump(mode="json"))
                page = reading.result()
                done.counts.crm_calls += 1
                updates = _score_page(page, playbooks, req, done, scoring)
                done.pages += 1
                done.next_after = page.next_after
                go_on = (
                    page.next_after is not None
                    and done.pages < req.pages
                    and len(done.actionable) < MAX_ACTIONABLE
                )
                if go_on:
                    reading = lookahead.submit(
                        self._list_page, pacer, page.next_after, req.page_size, properties
                    )
                if updates and not req.dry_run:
                    pacer.wait_turn()
                    with connector_errors():
                        self._crm.batch_update_companies(updates)
                    done.counts.crm_calls += 1
                if not go_on:
                    return done

    def _list_page(
        self, pacer: _Pacer, after: str | None, page_size: int, properties: tuple[str, ...]
    ) -> CompanyPage:
        pacer.wait_turn()
        with connector_errors():
            return self._crm.list_companies(after=after, limit=page_size, properties=properties)


_PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


def model_properties(model: LoadedModel) -> list[str]:
    """The model's columns that can be CRM properties and are not the hub's own features
    (a model trained on a CSV export names the export's columns)."""
    own = set(FEATURES)
    return [
        c
        for c in (*model.card.numeric, *model.card.categorical)
        if c not in own and _PROPERTY_NAME.match(c)
    ]


def _resumed(req: HealthPageRequest) -> HealthPageResult:
    """Where a retried activity left off (its last heartbeat), or the start."""
    fresh = HealthPageResult(next_after=req.after, counts=SweepCounts(), pages=0)
    details = activity.info().heartbeat_details
    if not details or not isinstance(details[-1], dict):
        return fresh
    try:
        return HealthPageResult.model_validate(details[-1])
    except ValidationError:
        return fresh


@dataclass
class ChurnScoring:
    """The churn-risk model for one activity: the current model (None: none trained), the
    history store (None: nothing recorded), and whether the model takes part in
    decisions (enough outcomes recorded, see ``playbooks/risk/detectors.yaml``)."""

    model: LoadedModel | None
    history: RiskHistory | None
    deciding: bool


def _score_page(
    page: CompanyPage,
    playbooks: HealthPlaybooks,
    req: HealthPageRequest,
    done: HealthPageResult,
    scoring: ChurnScoring | None = None,
) -> dict[str, dict[str, str]]:
    """Score every company of ``page`` into ``done``; the properties to write back."""
    models, plan, counts = playbooks.models, playbooks.plan, done.counts
    counts.companies += len(page.companies)
    updates: dict[str, dict[str, str]] = {}
    scored: list[tuple[dict[str, str | None], CompanyHealth, risk.RiskVerdict | None]] = []
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
        verdict = None
        if playbooks.detectors is not None:
            verdict = risk.evaluate(props, playbooks.detectors, req.sweep_at, quiet=req.baseline)
        scored.append((props, health, verdict))
    if scoring is not None and scored:
        _churn_risk(scored, playbooks, req, scoring)
    for _props, health, verdict in scored:
        if verdict is not None:
            health.properties.update(verdict.properties)
            health.risks = verdict.raised
            for raised in verdict.raised:
                name = raised.detector.value
                counts.risks[name] = counts.risks.get(name, 0) + 1
                counts.outreach_crm_calls += CRM_CALLS_PER_RISK
        updates[health.customer_id] = health.properties
        tell_campaign = health.churn_campaign_active and health.changed
        if (
            health.fired
            or health.risks
            or (tell_campaign and health.category is not HealthCategory.UNKNOWN)
        ):
            done.actionable.append(health)
    return updates


def _churn_risk(
    scored: list[tuple[dict[str, str | None], CompanyHealth, risk.RiskVerdict | None]],
    playbooks: HealthPlaybooks,
    req: HealthPageRequest,
    scoring: ChurnScoring,
) -> None:
    """Score the page's companies with the current model in one batch (next to their
    health), record each row in the history, and let a high estimate raise its sign
    (only when the model is deciding)."""
    own = [features(props, h, v, req.sweep_at) for props, h, v in scored]
    percents: list[float | None] = [None] * len(scored)
    name = None
    if scoring.model is not None:
        name = scoring.model.card.model
        rows = [model_row(props, f) for (props, _, _), f in zip(scored, own, strict=True)]
        percents = [round(p * 100, 1) for p in scoring.model.predict(rows)]
    rule = playbooks.detectors.churn_risk if playbooks.detectors is not None else None
    for (props, health, verdict), pct in zip(scored, percents, strict=True):
        if pct is None:
            continue
        health.churn_risk = pct
        health.properties[RISK_PROPERTY] = f"{pct:.1f}"
        if verdict is not None and rule is not None:
            risk.evaluate_churn_risk(
                verdict,
                props,
                rule,
                pct,
                req.sweep_at,
                quiet=req.baseline,
                deciding=scoring.deciding,
            )
    if scoring.history is not None and not req.dry_run:
        scoring.history.record_snapshots(
            Snapshot(h.customer_id, req.sweep_at, f, pct, name)
            for (_, h, _), f, pct in zip(scored, own, percents, strict=True)
        )
