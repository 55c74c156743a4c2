"""Dry runs: the real workflow code on the time-skipping test server, with recording
connectors instead of HubSpot/Slack/SMTP, so ops can see what a playbook will do."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from activities.action_log import SqliteActionStore
from connectors.recording import (
    ActionLog,
    RecordingChat,
    RecordingCrm,
    RecordingHelpdesk,
    RecordingMailer,
)
from cshub.binaries import temporal_test_server
from cshub.search_attributes import ensure_search_attributes
from cshub.terminal import ProgressFn
from domain.journeys import ActionRecord
from domain.onboarding import OnboardingInput, ProductEvent
from domain.tiers import ProductEventType, Tier
from playbooks.loader import load_onboarding_plan
from runtime.settings import Settings
from wiring.connectors import Connectors
from worker import create_worker
from workflows.onboarding import OnboardingWorkflow


class SimulatedAction(BaseModel):
    day: int
    channel: str
    template: str | None
    summary: str
    step: str
    outcome: str


def _quiet_runtime() -> Runtime:
    """The test server lacks some capabilities the SDK core warns about: not news here."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


def recording_connectors() -> Connectors:
    log = ActionLog()
    return Connectors(
        crm=RecordingCrm(log),
        helpdesk=RecordingHelpdesk(log),
        chat=RecordingChat(log),
        mailer=RecordingMailer(log),
    )


SIMULATION_PROGRESS: ContextVar[ProgressFn | None] = ContextVar("SIMULATION_PROGRESS", default=None)
"""Set by the CLI on a terminal: told the simulated days as they pass (a long period,
years of renewals, takes a while even with time skipping)."""


async def _watch_simulated_days(env: WorkflowEnvironment, days: int) -> None:
    show = SIMULATION_PROGRESS.get()
    if show is None:
        return
    start = await env.get_current_time()
    while True:
        elapsed = (await env.get_current_time() - start).days
        show("simulated days", min(elapsed, days), days)
        await asyncio.sleep(0.25)


SLEEP_CHUNK = timedelta(days=30)


async def _skip(env: WorkflowEnvironment, delta: timedelta) -> None:
    """Skip ``delta`` of simulated time a month at a time: each skip is one request to the
    test server, answered once every timer in it has fired and its workflow task run, so
    a year of plays in one request can outlast the request's timeout on a busy machine."""
    while delta > timedelta(0):
        step = min(delta, SLEEP_CHUNK)
        await env.sleep(step)
        delta -= step


async def simulate_timeline(
    run: Any,
    inp: BaseModel,
    *,
    days: int,
    id_prefix: str,
    signals: Sequence[tuple[float, str, BaseModel | None]] = (),
    until_complete: bool = False,
    last_day: int | None = None,
) -> list[SimulatedAction]:
    """Run a workflow on simulated time for ``days`` days and return every action it took.

    ``run`` is the workflow's run method; ``signals`` are ``(day, signal name, payload)``
    sent on those days (e.g. "paid on day 5"). With ``until_complete`` the run goes to
    the workflow's own end instead; ``last_day``: the last day number shown (default
    ``days``: a workflow whose day 0 is not its start numbers its own days). The workflow must answer a ``progress`` query with
    an ``actions`` list (see workflows.common)."""
    settings = Settings(
        temporal_task_queue=f"simulate-{uuid.uuid4().hex[:8]}", worker_max_concurrent_activities=8
    )
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
        runtime=_quiet_runtime(),
    )
    await ensure_search_attributes(env.client)
    watcher = asyncio.ensure_future(_watch_simulated_days(env, days))
    # A store of its own: the contact-pressure policy counts what the simulation sent.
    scratch = tempfile.TemporaryDirectory(prefix="cshub-simulate-")
    store = SqliteActionStore(f"{scratch.name}/actions.db")
    try:
        with ThreadPoolExecutor(max_workers=8) as executor:
            worker = create_worker(
                env.client, settings, recording_connectors(), executor=executor, actions=store
            )
            async with worker:
                started = await env.client.start_workflow(
                    run,
                    inp,
                    id=f"{id_prefix}-simulated-{uuid.uuid4().hex[:8]}",
                    task_queue=settings.temporal_task_queue,
                )
                # By id only: signals, the query and the end follow the latest run of a
                # workflow that continued-as-new (e.g. a renewal's next term).
                handle = env.client.get_workflow_handle(started.id)
                elapsed = 0.0
                for day, name, payload in sorted(signals, key=lambda s: s[0]):
                    if day > elapsed:
                        await _skip(env, timedelta(days=day - elapsed))
                        elapsed = day
                    if payload is None:
                        await handle.signal(name)
                    else:
                        await handle.signal(name, payload)
                if until_complete:
                    # The handle from start_workflow: only its result() lets the test
                    # server skip time (a handle by id would wait in real time); it
                    # follows continue-as-new runs too.
                    await started.result()
                else:
                    # Stop just before the next day starts so day N's steps are included.
                    await _skip(env, timedelta(days=days + 1 - elapsed) - timedelta(seconds=1))
                progress = await handle.query("progress")
                desc = await handle.describe()
                if desc.status is WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("simulation window ended")
    finally:
        watcher.cancel()
        await env.shutdown()
        store.close()
        scratch.cleanup()
    actions = progress["actions"] if isinstance(progress, dict) else progress.actions
    out = []
    for a in actions:
        rec = ActionRecord.model_validate(a) if isinstance(a, dict) else a
        if rec.channel != "journey" and (until_complete or rec.day <= (last_day or days)):
            out.append(
                SimulatedAction(
                    day=rec.day,
                    channel=rec.channel,
                    template=rec.template,
                    summary=rec.summary,
                    step=rec.step,
                    outcome=rec.outcome,
                )
            )
    return out


async def simulate_onboarding(
    tier: Tier,
    days: int | None = None,
    plan: str | None = None,
    events: Sequence[tuple[float, ProductEvent]] = (),
) -> list[SimulatedAction]:
    """Run one journey for ``days`` plan days (default: the whole plan); ``events``:
    product events on those days (e.g. a first workflow and usage at 87 % on day 0)."""
    total_days = load_onboarding_plan(plan or tier.value).duration_days
    run_days = total_days if days is None else days
    return await simulate_timeline(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id="simulated", tier=tier, plan=plan),
        days=run_days,
        id_prefix="onboarding",
        signals=[(day, "product_event", ev) for day, ev in events],
        until_complete=run_days >= total_days,
    )


def parse_product_event(text: str, n: int) -> tuple[float, ProductEvent]:
    """``DAY:TYPE[:PERCENT]`` (``0:workflow_created``, ``0:usage_threshold:87``)."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"{text!r}: expected DAY:TYPE or DAY:usage_threshold:PERCENT")
    day = float(parts[0])
    kind = ProductEventType(parts[1])
    percent = float(parts[2]) if len(parts) == 3 else None
    return day, ProductEvent(type=kind, percent=percent, event_id=f"simulated-{n}")


# ---------------------------------------------------------------- lifecycle campaigns
SIMULATED_CUSTOMER = "simulated"


async def simulate_dunning(
    paid_on_day: float | None = None, days: int | None = None
) -> list[SimulatedAction]:
    """A dunning sequence: unpaid to its final failure, or paid on ``paid_on_day``."""
    from domain.dunning import DunningInput, DunningPlan, PaymentSucceeded
    from playbooks.loader import load_playbook
    from workflows.dunning import DunningWorkflow

    total = load_playbook("dunning", DunningPlan).final_failure.day
    signals: list[tuple[float, str, BaseModel | None]] = []
    if paid_on_day is not None:
        signals.append((paid_on_day, "payment_succeeded", PaymentSucceeded()))
    return await simulate_timeline(
        DunningWorkflow.run,
        DunningInput(customer_id=SIMULATED_CUSTOMER, invoice_id="in_simulated"),
        days=total if days is None else days,
        id_prefix="dunning",
        signals=signals,
        until_complete=days is None,
    )


async def simulate_churn(
    risks: Sequence[str],
    score: float | None = None,
    recover_on_day: float | None = None,
    days: int | None = None,
) -> list[SimulatedAction]:
    """A churn-prevention campaign; ``recover_on_day`` sends a health score of 85 then."""
    from domain.churn import ChurnPlan, ChurnPreventionInput, HealthUpdated, RiskFactor
    from playbooks.loader import load_playbook
    from workflows.churn import ChurnPreventionWorkflow

    plan = load_playbook("churn", ChurnPlan)
    signals: list[tuple[float, str, BaseModel | None]] = []
    if recover_on_day is not None:
        signals.append((recover_on_day, "health_updated", HealthUpdated(score=85)))
    return await simulate_timeline(
        ChurnPreventionWorkflow.run,
        ChurnPreventionInput(
            customer_id=SIMULATED_CUSTOMER,
            risk_factors=[RiskFactor(r) for r in risks],
            health_score=score,
        ),
        days=plan.max_duration_days if days is None else days,
        id_prefix="churn",
        signals=signals,
        until_complete=days is None,
    )


async def simulate_winback(
    answer_on_day: float | None = None, reason: str = "too_expensive", days: int | None = None
) -> list[SimulatedAction]:
    """A win-back campaign; ``answer_on_day`` answers the exit survey with ``reason``."""
    from domain.winback import ExitReason, SurveyAnswer, WinBackInput, WinBackPlan
    from playbooks.loader import load_playbook
    from workflows.winback import WinBackWorkflow

    plan = load_playbook("winback", WinBackPlan)
    signals: list[tuple[float, str, BaseModel | None]] = []
    if answer_on_day is not None:
        signals.append((answer_on_day, "survey_answered", SurveyAnswer(reason=ExitReason(reason))))
    return await simulate_timeline(
        WinBackWorkflow.run,
        WinBackInput(customer_id=SIMULATED_CUSTOMER),
        days=plan.duration_days if days is None else days,
        id_prefix="winback",
        signals=signals,
        until_complete=days is None,
    )


async def simulate_renewal(
    renewal_in_days: int,
    days: int | None = None,
    move_to_days: int | None = None,
    move_on_day: float | None = None,
    renew_on_day: float | None = None,
) -> list[SimulatedAction]:
    """A renewal countdown to a date ``renewal_in_days`` from now. Optionally the date
    moves to ``move_to_days`` from the start on ``move_on_day`` (a billing update), and
    the customer renews on ``renew_on_day`` (the next term's countdown starts). Default
    window: until the escalation after the (last) date, had no outcome come in."""
    from datetime import UTC, datetime

    from domain.renewal import RenewalDateChanged, RenewalInput, Renewed
    from domain.renewal_plan import RenewalPlan
    from playbooks.loader import load_playbook
    from workflows.renewal import RenewalWorkflow

    plan = load_playbook("renewal", RenewalPlan)
    today = datetime.now(UTC).date()
    signals: list[tuple[float, str, BaseModel | None]] = []
    if move_to_days is not None:
        signals.append(
            (
                move_on_day or 0.0,
                "renewal_date_changed",
                RenewalDateChanged(renewal_date=today + timedelta(days=move_to_days)),
            )
        )
    if renew_on_day is not None:
        signals.append((renew_on_day, "renewed", Renewed()))
    last_date = max(renewal_in_days, move_to_days or 0)
    return await simulate_timeline(
        RenewalWorkflow.run,
        RenewalInput(
            customer_id=SIMULATED_CUSTOMER,
            renewal_date=today + timedelta(days=renewal_in_days),
        ),
        days=last_date + plan.escalation.grace_days if days is None else days,
        id_prefix="renewal",
        signals=signals,
    )


# ---------------------------------------------------------------- the whole first year
JOURNEY_TERM_DAYS = 365
"""The first term: the renewal date is this many days after the journey's day 0."""


async def simulate_year_plays(tier: Tier, days: int = JOURNEY_TERM_DAYS) -> list[SimulatedAction]:
    """The post-onboarding plays (``playbooks/year/<tier>.yaml``) from the day onboarding
    ends to day ``days`` of the journey, on a customer the CRM knows nothing about (no
    health score, no NPS: upgrade and advocacy checks are shown, not acted on)."""
    from domain.customer_year import CustomerYearInput
    from playbooks.loader import load_year_plan
    from workflows.customer_year import CustomerYearWorkflow

    start = load_year_plan(tier.value).starts_on_day
    if days <= start:
        return []
    return await simulate_timeline(
        CustomerYearWorkflow.run,
        CustomerYearInput(customer_id=SIMULATED_CUSTOMER, tier=tier, start_day=start),
        days=days - start,
        id_prefix="customer-year",
        last_day=days,
    )


async def simulate_journey(tier: Tier, days: int = JOURNEY_TERM_DAYS) -> list[SimulatedAction]:
    """A customer's first ``days`` days: the tier's onboarding plan from day 0, the
    post-onboarding plays after it (reviews, success plan, upgrade and advocacy checks)
    and the renewal countdown to the end of the first term (day 365), each run by its real
    workflow on simulated time, merged by day (onboarding, then the plays, then the
    renewal on a shared day)."""
    plan_days = load_onboarding_plan(tier.value).duration_days
    onboarding = await simulate_onboarding(tier, min(days, plan_days))
    plays = await simulate_year_plays(tier, days)
    renewal = [
        a
        for a in await simulate_renewal(JOURNEY_TERM_DAYS, days=min(days, JOURNEY_TERM_DAYS))
        if a.day <= days
    ]
    indexed = [(a.day, 0, i, a) for i, a in enumerate(onboarding)]
    indexed += [(a.day, 1, i, a) for i, a in enumerate(plays)]
    indexed += [(a.day, 2, i, a) for i, a in enumerate(renewal)]
    return [a for *_, a in sorted(indexed, key=lambda t: t[:3])]
