"""The start examples of docs/cs-ops/temporal-ui.md work as written: each workflow type is
started through the `temporal` CLI with its documented input, and `temporal workflow list --query` with the
hub's search attributes finds it (real worker, dev server, emulators)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path
from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cshub.binaries import temporal_cli
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import running_worker

UI_PAGE = Path(__file__).resolve().parent.parent / "docs" / "cs-ops" / "temporal-ui.md"
TICKET_CUSTOMERS = {"5002": "1003"}  # Grace Kim at Northwind Analytics (demo data)
NOT_TAGGED_AT_ONCE = {
    "CsatSurveyWorkflow",  # knows its customer once the survey is due (hours after solve)
    "HealthSweepWorkflow",  # the portfolio, not a customer
    "HealthDigestWorkflow",
}


def start_examples() -> list[tuple[str, str, dict[str, Any]]]:
    text = UI_PAGE.read_text(encoding="utf-8")
    block = text[text.index("<!-- start-examples") : text.index("<!-- end-examples -->")]
    rows = re.findall(r"^\| `(\w+)` \| `([^`]+)` \| `(\{.*?\})` \|", block, re.M)
    return [(wf_type, wf_id, json.loads(inp)) for wf_type, wf_id, inp in rows]


async def temporal(env: WorkflowEnvironment, *args: str) -> str:
    target = env.client.service_client.config.target_host
    proc = await asyncio.create_subprocess_exec(
        str(temporal_cli()),
        *args,
        "--address",
        target,
        "--namespace",
        "default",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, f"temporal {' '.join(args)}: {err.decode()}"
    return out.decode()


async def listed(env: WorkflowEnvironment, query: str) -> list[dict[str, Any]]:
    out = await temporal(env, "workflow", "list", "--query", query, "-o", "json")
    found: list[dict[str, Any]] = json.loads(out) if out.strip() else []
    return found


def test_the_docs_list_every_startable_workflow_type() -> None:
    from workflows.registry import WORKFLOWS

    started_by_the_sweep = {"HealthSweepPageWorkflow", "HealthOutreachWorkflow"}
    started_by_the_sweep |= {"CustomerReplyWorkflow", "ResumeLaterWorkflow"}  # by the API
    # By the API too (issue 26): a call logged from a Slack modal, a reply HubSpot logged.
    started_by_the_sweep |= {"LogCallWorkflow", "CrmEmailReplyWorkflow"}
    # The exit survey's second page (issue 24): its UI example is in
    # docs/executive-report.md while README.md is being cut down (issue 22c).
    started_by_the_sweep |= {"ExitDetailsWorkflow", "OnboardingSurveyWorkflow"}
    # By the onboarding journey when it completes; its start example ({"customer_id":
    # "1001", "start_day": 150}) is in docs/whole-year.md (README is being cut down).
    started_by_the_sweep |= {"CustomerYearWorkflow"}
    names = {getattr(w, "__temporal_workflow_definition").name for w in WORKFLOWS}
    assert {t for t, _, _ in start_examples()} == names - started_by_the_sweep


async def test_each_documented_example_starts_and_is_found_by_its_search_attributes(
    dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env = dev_server_env
    examples = start_examples()
    assert len(examples) >= 11
    async with running_worker(env, hub_settings) as worker:
        suffix = worker.task_queue.removeprefix("test-")
        ids = {}
        for wf_type, wf_id, inp in examples:
            ids[wf_type] = f"{wf_id}-{suffix}"  # this run's own ids on the shared server
            await temporal(
                env,
                "workflow",
                "start",
                "--task-queue",
                worker.task_queue,
                "--type",
                wf_type,
                "--workflow-id",
                ids[wf_type],
                "--input",
                json.dumps(inp),
            )
        try:
            for wf_type, _, inp in examples:
                wid = ids[wf_type]
                customer = inp.get("customer_id") or TICKET_CUSTOMERS.get(inp.get("ticket_id", ""))
                if wf_type in NOT_TAGGED_AT_ONCE or customer is None:
                    query = f"WorkflowId = '{wid}'"
                else:
                    query = f"WorkflowId = '{wid}' AND CustomerId = '{customer}'"
                for _ in range(100):
                    found = await listed(env, query)
                    if found:
                        break
                    await asyncio.sleep(0.2)
                assert found, f"{wf_type}: nothing for {query}"
                assert found[0]["type"]["name"] == wf_type
            # The UI's favourite filter: the at-risk customers of one CSM.
            churn = await listed(
                env,
                f"WorkflowId = '{ids['ChurnPreventionWorkflow']}' AND "
                "CsmOwner = 'marcus.chen@cshub.example' AND LifecycleStage = 'at_risk' "
                "AND CompanyName = 'Helios Logistics' AND Tier = 'professional'",
            )
            assert churn, "churn-1005 not found by CSM, stage, company and tier"
            for _ in range(50):
                renewal = await listed(
                    env,
                    f"WorkflowId = '{ids['RenewalWorkflow']}' AND "
                    "RenewalDate >= '2027-03-01T00:00:00Z' AND RenewalDate < '2027-03-02T00:00:00Z'",
                )
                if renewal:
                    break
                await asyncio.sleep(0.2)
            attrs = (
                await env.client.get_workflow_handle(ids["RenewalWorkflow"]).describe()
            ).typed_search_attributes
            assert renewal, f"renewal not found by RenewalDate; it has {attrs}"
            # What the UI shows as the workflow's current details: who, then the state.
            churn_handle = env.client.get_workflow_handle(ids["ChurnPreventionWorkflow"])
            meta = await churn_handle.query(
                "__temporal_workflow_metadata", result_type=WorkflowMetadata
            )
            assert meta.current_details.startswith(
                "Helios Logistics · professional · CSM marcus.chen@cshub.example\n\n"
                "**Churn prevention** · day 0"
            ), meta.current_details
        finally:
            for wid in ids.values():
                handle = env.client.get_workflow_handle(wid)
                with contextlib.suppress(RPCError):  # already finished
                    await handle.terminate("test done")
