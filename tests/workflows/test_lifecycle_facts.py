"""The lifecycle facts the executive report reads, written by the hub's own workflows on
the time-skipping server against the sandbox HubSpot: an onboarding reaching its first
value and run to completion,
a renewal won with a new ARR and one churned leave the company properties behind, and
``cshub report executive --json`` over those companies shows retention, revenue
retention, renewal, expansion, time to first value and onboarding completion instead of "no data"."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from connectors.hubspot import HubSpotCrm
from cshub.cli import app
from domain import executive_report as er
from domain.onboarding import MilestoneReached, OnboardingInput, OnboardingStatus
from domain.renewal import Churned, RenewalOutcome, RenewalStatus, Renewed
from domain.tiers import Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import running_worker
from tests.workflows.campaign_helpers import skip_to_local_hour, stop, wait_for
from tests.workflows.test_renewal import begun, latest, start, wait_for_term
from workflows.onboarding import OnboardingWorkflow
from workflows.renewal import RenewalWorkflow

ONBOARDED, RENEWING, CHURNING = "1005", "1004", "1003"


async def props(sandbox: SandboxHandle, company: str) -> dict[str, str]:
    """The company's lifecycle properties that are set, as HubSpot's API returns them."""
    async with httpx.AsyncClient(base_url=sandbox.http_url, timeout=10) as http:
        resp = await http.get(
            f"/crm/v3/objects/companies/{company}",
            params={"properties": ",".join(er.COMPANY_PROPERTIES)},
            headers={"Authorization": "Bearer sandbox"},
        )
    resp.raise_for_status()
    got: dict[str, str | None] = resp.json()["properties"]
    return {k: v for k in er.COMPANY_PROPERTIES if (v := got.get(k))}


async def test_workflows_write_the_facts_the_executive_report_reads(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    # A server of its own: the completed onboarding starts the customer's year plays,
    # which stay running with their timers and would hold a shared server's clock.
    env = module_time_skipping_env
    crm = HubSpotCrm(access_token="sandbox", base_url=clean_sandbox.http_url, timeout_s=5)
    page = await asyncio.to_thread(crm.list_companies, after=None, limit=100)
    blank = dict.fromkeys(er.COMPANY_PROPERTIES, "")
    await asyncio.to_thread(crm.batch_update_companies, {c.id: blank for c in page.companies})
    # What sales or billing put on the paying accounts: since when, and their ARR.
    for company, arr in ((RENEWING, "12000"), (CHURNING, "6000")):
        await asyncio.to_thread(
            crm.update_company, company, {er.CUSTOMER_SINCE: "2020-01-01", er.ARR: arr}
        )
    await skip_to_local_hour(env, CHURNING, 12)
    first_day = (await env.get_current_time()).date()
    winback = env.client.get_workflow_handle(f"winback-{CHURNING}")
    async with running_worker(env, hub_settings) as worker:
        onboarding = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id=ONBOARDED, tier=Tier.PROFESSIONAL),
            id=f"onboarding-{ONBOARDED}-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        await env.sleep(timedelta(days=2))
        await onboarding.signal(
            OnboardingWorkflow.milestone_reached,
            MilestoneReached(milestone="production_deployment"),  # its first value
        )
        onboarded = await onboarding.result()
        today = (await env.get_current_time()).date()
        await start(env, worker.task_queue, RENEWING, today + timedelta(days=10))
        await start(env, worker.task_queue, CHURNING, today + timedelta(days=40))
        renewing, churning = latest(env, RENEWING), latest(env, CHURNING)
        try:
            await env.sleep(timedelta(days=1))
            await renewing.signal(
                RenewalWorkflow.renewed, Renewed(arr=15000, event_id="evt_renewed")
            )
            await churning.signal(RenewalWorkflow.churned, Churned(reason="budget cut"))
            decided = (await env.get_current_time()).date().isoformat()
            churned = await churning.result()
            await wait_for(winback)
            await begun(winback)
            term2 = await wait_for_term(env, RENEWING, 2)
            last_day = (await env.get_current_time()).date()
        finally:
            await stop(renewing)
            await stop(churning)
            await stop(winback)

    assert onboarded.status is OnboardingStatus.COMPLETED
    assert churned.outcome is RenewalOutcome.CHURNED
    assert term2.status is RenewalStatus.COUNTING_DOWN
    seen = {c: await props(clean_sandbox, c) for c in (ONBOARDED, RENEWING, CHURNING)}
    assert seen[ONBOARDED] == {
        er.CUSTOMER_SINCE: onboarded.started_at.date().isoformat(),  # unset before
        er.ONBOARDING_STARTED_AT: onboarded.started_at.date().isoformat(),
        er.ONBOARDING_COMPLETED_AT: onboarded.finished_at.date().isoformat(),
        er.DAYS_TO_FIRST_VALUE: "2.00",  # the milestone reached 2 days in
    }
    assert onboarded.started_at.date() == first_day
    assert seen[RENEWING] == {
        er.CUSTOMER_SINCE: "2020-01-01",
        er.RENEWAL_OUTCOME: "renewed",
        er.RENEWAL_DECIDED_AT: decided,
        er.ARR_BEFORE_RENEWAL: "12000.00",  # the ARR when the term's countdown started
        er.ARR: "15000.00",
    }
    assert seen[CHURNING] == {
        er.CUSTOMER_SINCE: "2020-01-01",
        er.CHURNED_AT: decided,
        er.RENEWAL_OUTCOME: "churned",
        er.RENEWAL_DECIDED_AT: decided,
        er.ARR_BEFORE_RENEWAL: "6000.00",
        er.ARR: "6000",
    }

    env_vars = {
        "CSHUB_ENV": "sandbox",
        "HUBSPOT_BASE_URL": clean_sandbox.http_url,
        "ZENDESK_BASE_NETLOC": clean_sandbox.http_url.removeprefix("http://"),
        "ZENDESK_SCHEME": "http",
    }
    since, until = first_day.isoformat(), (last_day + timedelta(days=1)).isoformat()
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["report", "executive", "--since", since, "--until", until, "--json"],
        env=env_vars,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    figures = {v["key"]: v["value"] for v in body["portfolio"]["values"]}
    # Customers at the start: 1003 and 1004 (1005 became one in the period); 1003 churned.
    assert figures["retention"] == 50.0
    assert figures["churn_monthly"] is not None and figures["churn_monthly"] > 0
    assert figures["renewal_rate"] == 50.0  # 1004 renewed, 1003 churned
    assert figures["expansion_rate"] == 50.0  # 1004: 12000 -> 15000
    assert figures["grr"] == 66.7  # min(15000, 12000) / (12000 + 6000)
    assert figures["nrr"] == 83.3  # 15000 / 18000
    assert figures["onboarding_completion"] == 100.0  # 1005, completed on day 90
    assert figures["time_to_first_value"] == 2.0
