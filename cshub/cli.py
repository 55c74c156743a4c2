"""The ``cshub`` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from domain.churn import RiskFactor
from domain.tiers import Tier
from domain.winback import ExitReason
from runtime.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from temporalio.client import WorkflowHandle

    from cshub.simulate import SimulatedAction
    from domain.experiment_stats import ExperimentReport
    from domain.health_sweep import SweepProgress

app = typer.Typer(
    help="cshub: customer-success automation on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
playbooks_app = typer.Typer(help="Check the playbook files.", no_args_is_help=True)
simulate_app = typer.Typer(help="Dry-run a playbook on simulated time.", no_args_is_help=True)
onboarding_app = typer.Typer(help="Start or inspect onboarding journeys.", no_args_is_help=True)
report_app = typer.Typer(help="Reports from what the workflows recorded.", no_args_is_help=True)
app.add_typer(playbooks_app, name="playbooks")
app.add_typer(simulate_app, name="simulate")
app.add_typer(onboarding_app, name="onboarding")
app.add_typer(report_app, name="report")
health_app = typer.Typer(help="Health scores: explain one, sweep now.", no_args_is_help=True)
schedules_app = typer.Typer(help="The hub's Temporal Schedules.", no_args_is_help=True)
app.add_typer(health_app, name="health")
app.add_typer(schedules_app, name="schedules")
webhooks_app = typer.Typer(
    help="Deliveries the hub did not act on: list them, replay one.", no_args_is_help=True
)
app.add_typer(webhooks_app, name="webhooks")


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=2)


def _unavailable(exc: Exception) -> typer.Exit:
    """A system the command reads (Temporal, the CRM, the helpdesk) did not answer: say
    so on stderr, exit 1 (2 is for what the user asked wrongly)."""
    typer.echo(str(exc), err=True)
    return typer.Exit(code=1)


R = TypeVar("R")


def _write_chart(write: Callable[[R, Path], Path], report: R, path: Path) -> Path:
    try:
        return write(report, path)
    except OSError as exc:
        raise _fail(f"cannot write the chart to {path}: {exc}") from None


JsonArrayFlag = Annotated[bool, typer.Option("--json", help="Print a JSON array")]
ReportJsonFlag = Annotated[bool, typer.Option("--json", help="Print the report as JSON")]
PeriodEnd = Annotated[
    str | None, typer.Option(help="Period end, excluded (same forms; default: now)")
]


class CommandError(Exception):
    """A command could not do its job; the message names what it tried and the variable
    that sets it (printed without a traceback, exit code 1)."""


if TYPE_CHECKING:
    from temporalio.client import Client

    from runtime.settings import Settings


async def _connect(settings: Settings) -> Client:
    """Connect to Temporal, or say where it was looked for and how to change that."""
    from runtime.temporal_client import connect

    try:
        return await connect(settings)
    except RuntimeError as exc:
        raise CommandError(
            f"cannot reach Temporal at {settings.temporal_address} (TEMPORAL_ADDRESS, or "
            f"CSHUB_TEMPORAL_PORT for a `cshub dev` stack; namespace "
            f"{settings.temporal_namespace}): {exc}"
        ) from None


@app.command()
def dev() -> None:
    """Run the whole hub locally: Temporal dev server + UI, worker, emulators, demo data."""
    from cshub.dev import DevSettings, run_dev

    try:
        asyncio.run(run_dev(DevSettings()))
    except SettingsError as exc:
        raise _fail(str(exc)) from None


@app.command()
def worker() -> None:
    """Run the production worker against the configured Temporal and services."""
    from worker import run_worker

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"cshub worker: {settings.temporal_address} namespace={settings.temporal_namespace} "
        f"task queue={settings.temporal_task_queue} ({settings.cshub_env.value})"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(settings))


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (CSHUB_API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (CSHUB_API_PORT, default 8000)")] = None,
) -> None:
    """Run the webhook ingress (HubSpot, Stripe, Zendesk, product events)."""
    from cshub.api import run_api

    try:
        settings = load_settings()
        settings.require_webhook_secrets()
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    from webhooks.server import run

    with contextlib.suppress(KeyboardInterrupt):
        run(run_api(settings, host=host, port=port))  # on uvloop


@app.command()
def forwarder(
    once: Annotated[
        bool, typer.Option("--once", help="Forward what is pending now, then exit")
    ] = False,
) -> None:
    """Forward the deliveries the API stored to their workflows (CRM look-ups, Temporal),
    in arrival order per workflow id. Several may run beside the API's own loop
    (CSHUB_FORWARDER=embedded) or instead of it (off)."""
    from cshub.forwarder import run_forwarder

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    from webhooks.server import run

    with contextlib.suppress(KeyboardInterrupt):
        run(run_forwarder(settings, once=once))  # on uvloop


@app.command("send-test-event")
def send_test_event(
    source: Annotated[str, typer.Argument(help="hubspot | product | stripe | zendesk")],
    kind: Annotated[
        str,
        typer.Argument(
            help="hubspot: deal-won, deal-won-generic (HubSpot's generic format); product: "
            "first-login, workflow-created, ai-request, share, usage-threshold; stripe: "
            "invoice-paid, invoice-payment-failed, subscription-updated; zendesk: "
            "ticket-created, agent-replied, ticket-pending, ticket-solved, ticket-reopened, "
            "trigger-ticket-created (a trigger's body, POST /webhooks/zendesk/trigger)"
        ),
    ],
    customer: Annotated[str | None, typer.Option(help="Customer (CRM company) id")] = None,
    ticket: Annotated[str | None, typer.Option(help="Zendesk ticket id")] = None,
    percent: Annotated[float, typer.Option(help="usage-threshold: % of the limit")] = 87.0,
    url: Annotated[
        str | None, typer.Option(help="Hub API base URL (default http://CSHUB_API_HOST:PORT)")
    ] = None,
) -> None:
    """Sign a realistic event with the configured secret and post it to a running hub."""
    from cshub.send_test_event import TestEventError, send

    try:
        settings = load_settings()
        status, body = send(
            settings, source, kind, customer=customer, ticket=ticket, percent=percent, url=url
        )
    except (SettingsError, TestEventError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"HTTP {status}\n{body}")
    if status >= 300:
        raise typer.Exit(code=1)


@playbooks_app.command("validate")
def playbooks_validate(
    directory: Annotated[
        Path | None, typer.Argument(help="Playbooks folder (default: the installed one)")
    ] = None,
    on: Annotated[
        datetime | None,
        typer.Option(
            "--on",
            formats=["%Y-%m-%d"],
            help="Validate as of this day (default: today): SLA calendars need holiday "
            "data for the 12 months after it",
        ),
    ] = None,
) -> None:
    """Validate every playbook file; list each error with its file and field."""
    from playbooks.loader import validate_all

    files, problems = validate_all(directory, today=on.date() if on else None)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        raise typer.Exit(code=1)
    typer.echo(f"{len(files)} playbook file(s) valid: {', '.join(f.name for f in files)}")


@simulate_app.command("onboarding")
def simulate_onboarding(
    tier: Annotated[Tier, typer.Option(help="Plan tier to simulate")],
    days: Annotated[
        int | None, typer.Option(min=0, help="Simulated days (default: the whole plan)")
    ] = None,
    plan: Annotated[str | None, typer.Option(help="Plan file to use instead of the tier's")] = None,
    as_json: JsonArrayFlag = False,
    event: Annotated[
        list[str] | None,
        typer.Option(
            help="A product event on a plan day, DAY:TYPE or DAY:usage_threshold:PERCENT "
            "(repeatable), e.g. 0:workflow_created 0:usage_threshold:87",
        ),
    ] = None,
) -> None:
    """Print every action the onboarding plan would take, without touching a customer
    (e-mails held back by the contact-pressure policy say so, with the reason)."""
    from cshub.simulate import parse_product_event
    from cshub.simulate import simulate_onboarding as run

    try:
        events = [parse_product_event(text, n) for n, text in enumerate(event or [])]
    except ValueError as exc:
        raise _fail(f"--event: {exc}") from None
    actions = _simulate(lambda: run(tier, days, plan, events), as_json)
    if as_json:
        typer.echo(json.dumps([a.model_dump() for a in actions], indent=2))
        return
    _print_actions(actions, as_json=False)


def _print_actions(actions: Sequence[SimulatedAction], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([a.model_dump() for a in actions], indent=2))
        return
    from domain.text_table import table_lines

    rows = [("day", "channel", "template", "summary")]
    rows += [(str(a.day), a.channel, a.template or "-", a.summary) for a in actions]
    for line in table_lines(rows, (True, False, False, False)):
        typer.echo(line)
    typer.echo(f"{len(actions)} actions")


def _simulate(
    run: Callable[[], Coroutine[Any, Any, list[SimulatedAction]]], as_json: bool
) -> list[SimulatedAction]:
    """Run a simulation, with the simulated days as a progress bar on a terminal."""
    from cshub.simulate import SIMULATION_PROGRESS
    from cshub.terminal import progress

    with progress(enabled=not as_json) as show:
        token = SIMULATION_PROGRESS.set(show)
        try:
            return asyncio.run(run())
        finally:
            SIMULATION_PROGRESS.reset(token)


_DAYS_HELP = "Simulated days (default: until the workflow ends)"


@simulate_app.command("journey")
def simulate_journey(
    tier: Annotated[Tier, typer.Option(help="Plan tier to simulate")],
    days: Annotated[
        int, typer.Option(min=1, max=365, help="Simulated days from the journey's day 0")
    ] = 365,
    as_json: JsonArrayFlag = False,
) -> None:
    """Print a customer's first year: onboarding (days 0-90), the post-onboarding plays
    (business reviews, success plan, upgrade and advocacy checks: playbooks/year/) and the
    renewal countdown to day 365."""
    from cshub.simulate import simulate_journey as run

    _print_actions(asyncio.run(run(tier, days)), as_json)


@simulate_app.command("dunning")
def simulate_dunning(
    paid_on_day: Annotated[
        float | None, typer.Option(min=0, help="The customer pays on this day")
    ] = None,
    days: Annotated[int | None, typer.Option(min=0, help=_DAYS_HELP)] = None,
    as_json: JsonArrayFlag = False,
) -> None:
    """Print what the dunning sequence would do after a failed payment."""
    from cshub.simulate import simulate_dunning as run

    _print_actions(_simulate(lambda: run(paid_on_day, days), as_json), as_json)


@simulate_app.command("churn")
def simulate_churn(
    risk: Annotated[
        list[RiskFactor] | None, typer.Option(help="Risk factor (repeat for several)")
    ] = None,
    score: Annotated[
        float | None, typer.Option(min=0, max=100, help="Health score at the start")
    ] = None,
    recover_on_day: Annotated[
        float | None, typer.Option(min=0, help="Health recovers (score 85) on this day")
    ] = None,
    days: Annotated[int | None, typer.Option(min=0, help=_DAYS_HELP)] = None,
    as_json: JsonArrayFlag = False,
) -> None:
    """Print what a churn-prevention campaign would do for these risk factors."""
    from cshub.simulate import simulate_churn as run

    risks = [r.value for r in risk or []]
    _print_actions(_simulate(lambda: run(risks, score, recover_on_day, days), as_json), as_json)


@simulate_app.command("winback")
def simulate_winback(
    answer_on_day: Annotated[
        float | None, typer.Option(min=0, help="The exit survey is answered on this day")
    ] = None,
    reason: Annotated[
        ExitReason, typer.Option(help="Exit reason of the answer")
    ] = ExitReason.TOO_EXPENSIVE,
    days: Annotated[int | None, typer.Option(min=0, help=_DAYS_HELP)] = None,
    as_json: JsonArrayFlag = False,
) -> None:
    """Print what the win-back campaign would do after a customer churned."""
    from cshub.simulate import simulate_winback as run

    _print_actions(_simulate(lambda: run(answer_on_day, reason.value, days), as_json), as_json)


@simulate_app.command("renewal")
def simulate_renewal(
    renewal_in_days: Annotated[
        int, typer.Option(min=0, max=3650, help="The renewal date is this many days away")
    ],
    days: Annotated[
        int | None,
        typer.Option(min=0, help="Simulated days (default: until the overdue escalation)"),
    ] = None,
    move_to_days: Annotated[
        int | None,
        typer.Option(min=0, max=3650, help="The date moves to this many days from the start"),
    ] = None,
    move_on_day: Annotated[
        float | None, typer.Option(min=0, help="... on this day (with --move-to-days)")
    ] = None,
    renew_on_day: Annotated[
        float | None, typer.Option(min=0, help="The customer renews on this day")
    ] = None,
    as_json: JsonArrayFlag = False,
) -> None:
    """Print what the renewal countdown would do: reminders, a moved date, a renewal."""
    from cshub.simulate import simulate_renewal as run

    if (move_to_days is None) != (move_on_day is None):
        raise _fail("--move-to-days and --move-on-day go together")
    _print_actions(
        _simulate(
            lambda: run(renewal_in_days, days, move_to_days, move_on_day, renew_on_day), as_json
        ),
        as_json,
    )


@onboarding_app.command("start")
def onboarding_start(
    customer_id: Annotated[str, typer.Argument(help="CRM company id")],
    tier: Annotated[Tier | None, typer.Option(help="Tier (default: read from the CRM)")] = None,
    plan: Annotated[str | None, typer.Option(help="Plan file override")] = None,
) -> None:
    """Start a customer's onboarding (or join the one already running)."""
    from cshub.starters import start_onboarding_told
    from domain.onboarding import OnboardingInput

    async def go() -> str:
        settings = load_settings()
        client = await _connect(settings)
        return await start_onboarding_told(
            client,
            settings.temporal_task_queue,
            OnboardingInput(customer_id=customer_id, tier=tier, plan=plan),
        )

    try:
        typer.echo(f"onboarding: {asyncio.run(go())}")
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:
        raise _fail(f"invalid input: {exc}") from None


@onboarding_app.command("progress")
def onboarding_progress(customer_id: Annotated[str, typer.Argument(help="CRM company id")]) -> None:
    """Print the journey's progress (the `progress` query) as JSON."""
    from domain.onboarding import onboarding_workflow_id
    from workflows.onboarding import OnboardingWorkflow

    async def go() -> str:
        settings = load_settings()
        client = await _connect(settings)
        handle = client.get_workflow_handle_for(
            OnboardingWorkflow.run, onboarding_workflow_id(customer_id)
        )
        progress = await handle.query(OnboardingWorkflow.progress)
        return progress.model_dump_json(indent=2)

    try:
        typer.echo(asyncio.run(go()))
    except SettingsError as exc:
        raise _fail(str(exc)) from None


@report_app.command("support")
def report_support(
    since: Annotated[
        str, typer.Option(help="Period start: 30d, 12h, 2w ago, or an ISO date / date-time")
    ] = "30d",
    until: PeriodEnd = None,
    where: Annotated[
        str | None,
        typer.Option(
            help="Extra visibility filter ANDed to the queries, e.g. \"TaskQueue = 'cshub'\""
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON")] = False,
) -> None:
    """Support metrics of a period (first response, resolution, SLA compliance, CSAT,
    NPS, load) next to their targets, read from the support workflows in Temporal."""
    from datetime import UTC, datetime

    from cshub.report import InvalidFilter, ReportError, render_table, support_report_for
    from cshub.terminal import progress
    from domain.periods import parse_period

    try:
        settings = load_settings()
        start, end = parse_period(since, until, datetime.now(UTC))
        with progress(enabled=not as_json) as show:
            metrics = asyncio.run(support_report_for(settings, start, end, where, show))
    except (SettingsError, ValueError, InvalidFilter) as exc:
        raise _fail(str(exc)) from None
    except ReportError as exc:  # Temporal unreachable or refusing
        raise _unavailable(exc) from None
    typer.echo(metrics.model_dump_json(indent=2) if as_json else render_table(metrics))


@report_app.command("referrals")
def report_referrals(
    as_json: ReportJsonFlag = False,
) -> None:
    """Who referred whom (recorded by the post-onboarding plays' ``referral`` signal), the
    contract value and the commission owed (seed 002: 30 %), totalled per referrer."""
    from connectors.errors import ConnectorError
    from cshub.referrals import referral_report, render_referrals
    from wiring.connectors import build_connectors

    try:
        settings = load_settings()
        report = referral_report(build_connectors(settings).crm)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    except ConnectorError as exc:
        typer.echo(f"the CRM at {settings.hubspot_url} did not answer: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(report.model_dump_json(indent=2) if as_json else render_referrals(report))


@report_app.command("health")
def report_health(
    chart: Annotated[
        Path, typer.Option(help="Where to write the PNG chart of the distribution")
    ] = Path("health-report.png"),
    as_json: ReportJsonFlag = False,
) -> None:
    """Portfolio health as the last sweep recorded it on the CRM companies: companies per
    category and tier, average score and trend, each CSM's book, the at-risk list (worst
    first); writes a PNG bar chart."""
    from cshub.health_report import HealthReportError, health_report_for, write_chart
    from cshub.terminal import progress
    from domain.health_report import render_text

    try:
        settings = load_settings()
        with progress(enabled=not as_json) as show:
            report = health_report_for(settings, show)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    except HealthReportError as exc:  # the CRM unreachable or refusing
        raise _unavailable(exc) from None
    written = _write_chart(write_chart, report, chart)
    if as_json:
        typer.echo(json.dumps({**report.model_dump(mode="json"), "chart": str(written)}, indent=2))
    else:
        typer.echo(f"{render_text(report)}\n\nchart: {written}")


@report_app.command("executive")
def report_executive(
    since: Annotated[
        str, typer.Option(help="Period start: 90d, 12w ago, or an ISO date / date-time")
    ] = "90d",
    until: PeriodEnd = None,
    png: Annotated[
        Path | None, typer.Option("--png", help="Also write a one-page PNG chart here")
    ] = None,
    as_json: ReportJsonFlag = False,
) -> None:
    """The seeds' customer-success KPIs of a period (retention, revenue retention, churn,
    renewal and expansion, time to first value, onboarding completion, first-contact
    resolution, escalations, CSAT, SLA compliance, NPS), overall, per tier and per CSM,
    next to their targets and sources; read from the CRM and the helpdesk."""
    from datetime import UTC
    from datetime import datetime as dt

    from cshub.executive_report import ExecutiveReportError, executive_report_for, write_chart
    from cshub.terminal import progress
    from domain.executive_report import render_text
    from domain.periods import parse_period

    try:
        settings = load_settings()
        start, end = parse_period(since, until, dt.now(UTC))
        with progress(enabled=not as_json) as show:
            report = executive_report_for(settings, start, end, show)
    except (SettingsError, ValueError) as exc:
        raise _fail(str(exc)) from None
    except ExecutiveReportError as exc:
        raise _unavailable(exc) from None
    written = None
    if png is not None:
        written = _write_chart(write_chart, report, png)
    if as_json:
        body = report.model_dump(mode="json")
        typer.echo(json.dumps({**body, "chart": str(written) if written else None}, indent=2))
    else:
        typer.echo(render_text(report) + (f"\n\nchart: {written}" if written else ""))


experiment_app = typer.Typer(
    help="Plan experiments (A/B tests with hold-outs).", no_args_is_help=True
)
app.add_typer(experiment_app, name="experiment")


@report_app.command("experiment")
def report_experiment(
    name: Annotated[str, typer.Argument(help="Experiment (playbooks/experiments/<name>.yaml)")],
    as_json: ReportJsonFlag = False,
    png: Annotated[
        Path | None, typer.Option("--png", help="Also write a PNG chart of the arms' rates")
    ] = None,
    where: Annotated[
        str | None,
        typer.Option(
            help="Extra visibility filter ANDed to the query, e.g. \"TaskQueue = 'cshub'\""
        ),
    ] = None,
) -> None:
    """Per arm: customers, outcome rate with its interval, difference against the
    control with interval and p-value; the sample-ratio check, guardrails and a verdict.
    Read from the journeys in Temporal (a worker answers their progress query)."""
    from cshub.experiments import ExperimentReportError, experiment_report, render_text, write_chart
    from playbooks.loader import PlaybookError, load_experiment
    from runtime.temporal_client import connect

    try:
        experiment = load_experiment(name)
    except PlaybookError as exc:
        raise _fail(str(exc)) from None

    async def go() -> ExperimentReport:
        settings = load_settings()
        client = await connect(settings)
        return await experiment_report(client, experiment, extra_filter=where)

    try:
        report = asyncio.run(go())
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    except ExperimentReportError as exc:
        raise _unavailable(exc) from None
    except RuntimeError as exc:  # Temporal unreachable at connect
        typer.echo(f"Temporal did not answer: {exc}", err=True)
        raise typer.Exit(code=1) from None
    data = report.model_dump(mode="json")
    if png is not None:
        data["chart"] = str(_write_chart(write_chart, report, png))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(render_text(report) + (f"\n\nchart: {data['chart']}" if png else ""))


@experiment_app.command("size")
def experiment_size(
    baseline: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Control's expected rate, e.g. 0.3")
    ],
    effect: Annotated[float, typer.Option(help="Smallest difference worth detecting, e.g. 0.05")],
    alpha: Annotated[float, typer.Option(min=0.0, max=0.5, help="Two-sided alpha")] = 0.05,
    power: Annotated[float, typer.Option(min=0.5, max=0.999, help="Power")] = 0.8,
    arms: Annotated[int, typer.Option(min=2, help="Arms compared (equal shares)")] = 2,
    holdout_share: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of a hold-out arm, e.g. 0.1")
    ] = 0.0,
    customers: Annotated[
        int | None,
        typer.Option(min=2, help="Also: the minimum detectable effect with this many per arm"),
    ] = None,
) -> None:
    """Customers per arm to detect an effect (and, with --customers, the smallest effect a
    given size can detect)."""
    from cshub.experiments import size_text
    from domain.experiment_stats import minimum_detectable_effect

    try:
        text = size_text(
            baseline, effect, alpha=alpha, power=power, arms=arms, holdout_share=holdout_share
        )
        if customers is not None:
            mde = minimum_detectable_effect(baseline, customers, alpha=alpha, power=power)
            text += (
                f"\n  with {customers} per arm: minimum detectable effect {100 * mde:+.1f} pts "
                f"({100 * baseline:.1f}% -> {100 * (baseline + mde):.1f}%)"
            )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(text)


@simulate_app.command("experiment")
def simulate_experiment(
    file: Annotated[Path, typer.Argument(help="Experiment file (YAML)")],
    customers: Annotated[int, typer.Option(min=1, max=10_000_000, help="Customers to generate")],
    effect: Annotated[
        float, typer.Option(help="True difference of each variant against the control")
    ],
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result)")] = 0,
    baseline: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Control's true rate (default: outcome.baseline)"),
    ] = None,
    holdout_effect: Annotated[
        float, typer.Option(help="True difference of the hold-out against the control")
    ] = 0.0,
    as_json: ReportJsonFlag = False,
) -> None:
    """Generate customers, assign them with the experiment's hash, draw outcomes with a
    known effect and print the report: see the size you need before touching a customer."""
    from cshub.experiments import render_text, simulate
    from playbooks.loader import PlaybookError, parse_experiment_file

    try:
        experiment = parse_experiment_file(file)
        report = simulate(
            experiment,
            customers=customers,
            effect=effect,
            seed=seed,
            baseline=baseline,
            holdout_effect=holdout_effect,
        )
    except PlaybookError as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(report.model_dump_json(indent=2) if as_json else render_text(report))


@health_app.command("explain")
def health_explain(customer_id: Annotated[str, typer.Argument(help="CRM company id")]) -> None:
    """Score, category, model version, each dimension's inputs, weight and contribution,
    and what changed since the last recorded score."""
    from activities.health_explain import CustomerNotFound, explain_customer
    from connectors.errors import ConnectorError
    from playbooks.loader import PlaybookError
    from wiring.connectors import build_connectors

    try:
        settings = load_settings()
        crm = build_connectors(settings).crm
        typer.echo(explain_customer(crm, customer_id), nl=False)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    except (CustomerNotFound, PlaybookError) as exc:
        raise _fail(str(exc)) from None
    except ConnectorError as exc:
        typer.echo(
            f"the CRM at {settings.hubspot_url} (HUBSPOT_BASE_URL, or CSHUB_SANDBOX_PORT for "
            f"a `cshub dev` stack) did not answer: {exc}",
            err=True,
        )
        raise typer.Exit(code=1) from None


@health_app.command("sweep")
def health_sweep(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Score and count only: no writes, no outreach")
    ] = False,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="Score and record, fire no trigger (the first sweep of a portfolio)",
        ),
    ] = False,
    wait: Annotated[bool, typer.Option(help="Wait for the sweep and print its totals")] = True,
) -> None:
    """Run a health sweep now (workflow id `health-sweep`; joins one already running;
    the schedule's sweeps have their own ids)."""
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

    from domain.health_sweep import (
        HEALTH_SWEEP_DRY_RUN_ID,
        HEALTH_SWEEP_WORKFLOW_ID,
        HealthSweepInput,
        SweepProgress,
    )

    async def go() -> str:
        settings = load_settings()
        client = await _connect(settings)
        handle = await client.start_workflow(
            "HealthSweepWorkflow",
            HealthSweepInput(
                dry_run=dry_run,
                baseline=baseline,
                max_calls_per_10s=settings.health_sweep_max_calls_per_10s,
            ),
            # A dry run never joins a real sweep (nor a real sweep a dry run).
            id=HEALTH_SWEEP_DRY_RUN_ID if dry_run else HEALTH_SWEEP_WORKFLOW_ID,
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary="health sweep (started by hand)" + (" · dry run" if dry_run else ""),
            result_type=SweepProgress,
        )
        if not wait:
            return f"health sweep running: {handle.id} (run {handle.result_run_id})"
        result: SweepProgress = await _with_sweep_progress(handle)
        c = result.counts
        cats = ", ".join(f"{k} {v}" for k, v in sorted(c.by_category.items())) or "-"
        fired = ", ".join(f"{k} {v}" for k, v in sorted(c.fired.items())) or "none"
        return (
            f"{'DRY RUN: ' if result.dry_run else ''}{c.scored} companies scored in "
            f"{result.pages_done} pages ({cats}; low confidence {c.low_confidence}); "
            f"triggers: {fired}; outreach workflows {c.outreach_started}; churn prevention "
            f"started {c.churn_started}, told {c.churn_signalled}"
        )

    try:
        typer.echo(asyncio.run(go()))
    except SettingsError as exc:
        raise _fail(str(exc)) from None


async def _with_sweep_progress(handle: WorkflowHandle[Any, SweepProgress]) -> SweepProgress:
    """The sweep's result; meanwhile, on a terminal, its ``progress`` query every second
    (pages and companies scored so far)."""
    from cshub.terminal import progress
    from domain.health_sweep import SweepProgress

    result = asyncio.ensure_future(handle.result())
    with progress() as show:
        while not result.done():
            with contextlib.suppress(Exception):  # no answer during a continue-as-new
                now = await handle.query("progress", result_type=SweepProgress)
                show(f"companies scored ({now.pages_done} pages)", now.counts.scored, None)
            await asyncio.wait([result], timeout=1.0)
    return await result


@webhooks_app.command("list")
def webhooks_list(
    outcome: Annotated[
        str | None,
        typer.Option(help="ignored, stale, invalid, customer_not_found or parked (default: all)"),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only deliveries in the last 30m, 12h, 1d, 2w ...")
    ] = None,
    unresolved: Annotated[
        bool, typer.Option("--unresolved", help="Hide those acted on since (replayed)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line")] = False,
) -> None:
    """The deliveries waiting to be forwarded (the backlog), then those the hub did not act
    on, newest first, with the reason."""
    from cshub.dead_letters import list_dead_letters, list_lines, list_pending_lines, read_backlog

    try:
        settings = load_settings()
        letters = list_dead_letters(settings, outcome, since, unresolved)
        backlog, pending = read_backlog(settings)
    except (SettingsError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        for p in pending:
            typer.echo(
                json.dumps(
                    {
                        "key": p.dedup_key,
                        "source": p.source,
                        "event_id": p.event_id,
                        "type": p.type,
                        "customer_id": p.customer_id,
                        "outcome": "pending",
                        "detail": p.last_error,
                        "attempts": p.attempts,
                        "received_at": p.received_at.isoformat(),
                        "next_attempt_at": p.next_at.isoformat(),
                    }
                )
            )
        for d in letters:
            typer.echo(
                json.dumps(
                    {
                        "key": d.dedup_key,
                        "source": d.source,
                        "event_id": d.event_id,
                        "type": d.type,
                        "customer_id": d.customer_id,
                        "outcome": d.outcome,
                        "detail": d.detail,
                        "deliveries": d.deliveries,
                        "received_at": d.received_at.isoformat(),
                        "last_at": d.last_at.isoformat(),
                        "resolved_at": d.resolved_at.isoformat() if d.resolved_at else None,
                        "resolution": d.resolution,
                        "encrypted": d.encrypted,
                    }
                )
            )
        return
    if outcome in (None, "pending"):
        for line in list_pending_lines(backlog, pending):
            typer.echo(line)
        typer.echo("")
    for line in list_lines(letters):
        typer.echo(line)


@webhooks_app.command("replay")
def webhooks_replay(
    event_id: Annotated[str, typer.Argument(help="The event id (or source:event id)")],
) -> None:
    """Route a kept delivery again with today's configuration, exactly once: one that
    reached its workflow (since) is a duplicate. Exit 0 when acted on or a duplicate."""
    from cshub.dead_letters import replay_dead_letter
    from webhooks.replay import ReplayError

    try:
        result = asyncio.run(replay_dead_letter(load_settings(), event_id))
    except (SettingsError, ReplayError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"{result.outcome.value}: {result.type or '-'} customer={result.customer_id or '-'} "
        f"workflow={result.workflow_id or '-'} {result.detail or ''}".rstrip()
    )
    if result.outcome.value not in ("accepted", "duplicate"):
        raise typer.Exit(code=1)


@app.command()
def setup() -> None:
    """Prepare a Temporal namespace for the hub, idempotently: register the search
    attributes and create or update the schedules. Run it once per cluster and after an
    upgrade; running it again changes only what differs."""
    from cshub.schedules import apply_schedules
    from cshub.search_attributes import SearchAttributeError, ensure_search_attributes

    async def go() -> list[str]:
        settings = load_settings()
        client = await _connect(settings)
        lines = [f"search attribute {x}" for x in await ensure_search_attributes(client)]
        return lines + [f"schedule {x}" for x in await apply_schedules(client, settings)]

    try:
        for line in asyncio.run(go()):
            typer.echo(line)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    except SearchAttributeError as exc:
        raise _fail(str(exc)) from None


@app.command()
def timeline(
    customer_id: Annotated[str, typer.Argument(help="CRM company id")],
    since: Annotated[
        str | None, typer.Option(help="Only since: 30d, 12h, 2w, or an ISO date / date-time")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many actions")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the actions as JSON")] = False,
) -> None:
    """Every automated action taken for a customer across all workflows, open or closed,
    newest first: when, what, which workflow and step, outcome (from CSHUB_ACTIONS_DB)."""
    from webhooks.timeline_routes import parse_since, read_timeline

    try:
        settings = load_settings()
        db = settings.cshub_actions_db
        if not settings.cshub_database_url and not db.is_file():
            raise _fail(  # reading never creates an empty store
                f"no action record at {db.resolve()} (CSHUB_ACTIONS_DB; default: the data "
                f"folder CSHUB_DATA_DIR={settings.cshub_data_dir}, where `cshub dev` and the "
                "worker keep it; or CSHUB_DATABASE_URL for PostgreSQL)"
            )
        rows = read_timeline(
            settings.cshub_database_url or db,
            customer_id,
            parse_since(since),
            limit,
        )
    except (SettingsError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"no automated actions recorded for customer {customer_id}")
    for r in rows:
        tries = f" after {r['attempts']} attempts" if r["attempts"] > 1 else ""
        what = f"{r['channel']} {r['kind']}" if r["kind"] else r["channel"]
        typer.echo(
            f"{r['last_at'][:19].replace('T', ' ')} UTC  {what:<28} {r['outcome']}{tries}  "
            f"{r['workflow_id']} / {r['step']}\n    {r['summary'][:120]}"
        )


@schedules_app.command("apply")
def schedules_apply() -> None:
    """Create or update the health sweep (daily) and health digest (weekly) schedules."""
    from cshub.schedules import apply_schedules

    async def go() -> list[str]:
        settings = load_settings()
        return await apply_schedules(await _connect(settings), settings)

    try:
        for line in asyncio.run(go()):
            typer.echo(line)
    except SettingsError as exc:
        raise _fail(str(exc)) from None


from cshub.risk_cli import ai_app, risk_app  # noqa: E402  (risk intelligence commands)

app.add_typer(ai_app, name="ai")
app.add_typer(risk_app, name="risk")


def main() -> None:
    code = _run()
    if _TEMPORAL_BRIDGE in sys.modules:
        # The Temporal SDK's Rust threads can outlive the interpreter's finalization and
        # abort the process after its work is done ("Fatal Python error:
        # PyGILState_Release", temporalio/sdk-python#300): leave without finalizing.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


_TEMPORAL_BRIDGE = "temporalio.bridge.temporal_sdk_bridge"


def _run() -> int:
    """Run the command; its exit code (errors printed without a traceback)."""
    from temporalio.service import RPCError

    try:
        app()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        typer.echo(str(exc.code), err=True)
        return 1
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        return 2
    except CommandError as exc:
        typer.echo(str(exc), err=True)
        return 1
    except RPCError as exc:  # Temporal answered, but no
        settings = load_settings()
        typer.echo(
            f"Temporal at {settings.temporal_address} (TEMPORAL_ADDRESS) answered "
            f"{exc.status.name}: {exc}",
            err=True,
        )
        return 1
    return 0
