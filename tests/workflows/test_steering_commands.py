"""Steering that cannot fail silently: a command whose payload does not fit is refused
where the sender sees it (an update's rejection names the field), or, sent as a signal,
recorded in the workflow (progress, current details), told to ops once, and the workflow
carries on unchanged; the history of all that replays without an error."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.onboarding import OnboardingInput
from domain.tiers import Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.replay.test_replay import replayer
from workflows.onboarding import OnboardingWorkflow

OPS = "C0OPS"


def ops_messages(box: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in box["slack_messages"] if m["channel"] == OPS]


async def details_of(handle: Any) -> str:
    meta = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return str(meta.current_details)


async def test_a_mistyped_pause_is_refused_by_the_update_and_recorded_from_the_signal(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    env = module_time_skipping_env
    workflow_id = f"onboarding-1003-{uuid.uuid4().hex[:6]}"
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1003", tier=Tier.STARTER),
            id=workflow_id,
            task_queue=worker.task_queue,
        )

        async def started() -> None:
            assert (await handle.query(OnboardingWorkflow.progress)).actions

        await eventually(started)
        # The UI's Send Update lists the commands, each saying what it does.
        meta = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        updates = {u.name: u.description for u in meta.definition.update_definitions}
        assert {"pause", "resume", "skip", "cancel", "milestone_reached"} <= set(updates)
        assert updates["pause"].startswith('{"reason": "..."}: hold every action')

        # The update path: refused at once, the message names the field and what pause takes.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("pause", {"reasn": "customer asked for a break"})
        message = str(refused.value.cause)
        assert 'unknown field "reasn"' in message and "pause takes: reason" in message, message
        with pytest.raises(WorkflowUpdateFailedError) as no_reason:
            await handle.execute_update("cancel", {})
        assert 'field "reason" is required' in str(no_reason.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await handle.execute_update("milestone_reached", {"milestone": "first_flow"})
        assert "unknown milestone 'first_flow'" in str(unknown.value.cause)
        assert (await handle.query(OnboardingWorkflow.progress)).steering.rejected == []
        assert ops_messages(await outbox(clean_sandbox)) == []  # the sender saw it

        # The signal path: recorded, shown in the details, one ops alert, not paused.
        await handle.signal("pause", {"reasn": "customer asked for a break"})

        async def rejected() -> Any:
            progress = await handle.query(OnboardingWorkflow.progress)
            assert progress.steering.rejected, progress.steering
            assert len(ops_messages(await outbox(clean_sandbox))) == 1
            return progress

        progress = await eventually(rejected)
        (rec,) = progress.steering.rejected
        assert rec.command == "pause" and 'unknown field "reasn"' in rec.why
        assert rec.payload == '{"reasn": "customer asked for a break"}'
        assert progress.status.value == "active" and not progress.steering.paused
        details = await details_of(handle)
        assert "last command rejected" in details and 'unknown field "reasn"' in details, details
        (alert,) = ops_messages(await outbox(clean_sandbox))
        assert alert["text"].startswith(f":warning: Command rejected: {workflow_id}")
        assert "reasn" in alert["text"] and "NOT applied" in alert["blocks"][1]["text"]["text"]

        # The journey keeps going: the day-1 to day-3 steps are sent.
        emails_before = len((await outbox(clean_sandbox))["emails"])
        await env.sleep(timedelta(days=4))

        async def went_on() -> None:
            box = await outbox(clean_sandbox)
            assert len(box["emails"]) > emails_before
            assert len(ops_messages(box)) == 1  # still exactly one

        await eventually(went_on)

        # The same pause, well typed, through the update: applied and answered.
        answer = await handle.execute_update("pause", {"reason": "customer asked for a break"})
        assert answer.startswith("paused"), answer
        assert (await handle.query(OnboardingWorkflow.progress)).steering.paused
        history = await handle.fetch_history()
        await handle.terminate("test done")

    # Replaying the history (the rejected signal, its alert, the updates) raises nothing.
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_a_signal_with_a_bad_payload_is_recorded_on_any_steerable_workflow(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    """The shared handlers (renewal here): a skip whose step is not text, a cancel that is
    not an object; the first is refused by the update and recorded from the signal."""
    from domain.renewal import RenewalInput
    from workflows.renewal import RenewalWorkflow

    env = module_time_skipping_env
    # A year ahead of the (shared, skipped) test clock; the date moves a month later.
    renews = (await env.get_current_time()).date() + timedelta(days=365)
    moved_to = (renews + timedelta(days=31)).isoformat()
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            RenewalWorkflow.run,
            RenewalInput(customer_id="1003", renewal_date=renews),
            id=f"renewal-1003-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("skip", {"step": 7})
        assert 'field "step": Input should be a valid string' in str(refused.value.cause)
        # The workflow's own commands are updates too (validated, answered) ...
        with pytest.raises(WorkflowUpdateFailedError) as bad_date:
            await handle.execute_update("renewal_date_changed", {"renewal_date": "soon"})
        assert 'field "renewal_date"' in str(bad_date.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as typo:
            await handle.execute_update("renewd", {})
        assert "no command 'renewd' in this workflow (it takes: pause, resume, skip, " in str(
            typo.value.cause
        )
        moved = await handle.execute_update("renewal_date_changed", {"renewal_date": moved_to})
        assert moved.startswith("renewal_date_changed accepted"), moved
        # ... and their signals are tolerant like the steering ones.
        await handle.signal("cancel", "customer churned")
        await handle.signal("renewed", {"term_months": "twelve"})

        async def recorded() -> Any:
            progress = await handle.query(RenewalWorkflow.progress)
            assert len(progress.steering.rejected) == 2
            return progress

        progress = await eventually(recorded)
        first, second = progress.steering.rejected
        assert first.why.startswith("cancel takes a JSON object")
        assert second.command == "renewed" and 'field "term_months"' in second.why
        assert progress.steering.cancel_reason is None
        assert progress.renewal_date.isoformat() == moved_to
        assert progress.status.value == "counting_down"
        history = await handle.fetch_history()
        await handle.terminate("test done")
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_the_temporal_cli_shows_the_rejection_and_the_answer(
    dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """What an ops person types (docs/cs-ops/temporal-ui.md, "Steering a running workflow"):
    ``temporal workflow update execute`` prints why a mistyped pause is refused, and the
    steering state for a good one."""
    import asyncio

    from cshub.binaries import temporal_cli

    env = dev_server_env
    workflow_id = f"onboarding-1004-cli-{uuid.uuid4().hex[:6]}"

    async def update(payload: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            str(temporal_cli()),
            "workflow", "update", "execute",
            "--address", env.client.service_client.config.target_host,
            "--workflow-id", workflow_id,
            "--name", "pause",
            "--input", payload,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        return proc.returncode or 0, out.decode() + err.decode()

    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1004", tier=Tier.STARTER),
            id=workflow_id,
            task_queue=worker.task_queue,
        )
        try:

            async def started() -> None:
                assert (await handle.query(OnboardingWorkflow.progress)).actions

            await eventually(started)
            code, said = await update('{"reasn": "customer asked for a break"}')
            assert code != 0, said
            assert 'pause: unknown field "reasn" (pause takes: reason)' in said, said
            assert "type: CommandRejected, retryable: false" in said, said
            code, said = await update('{"reason": "customer asked for a break"}')
            assert code == 0, said
            assert "paused" in said and "customer asked for a break" in said, said
        finally:
            await handle.terminate("test done")


async def test_commands_are_read_the_same_with_payload_encryption(
    dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """The raw payload a command handler decodes has been through the codec: with
    encryption on, a mistyped signal is recorded and a good update applied as without."""
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.client import Client

    from runtime.codec import data_converter
    from runtime.encryption_keys import new_key_entry
    from wiring.connectors import build_connectors
    from worker import create_worker

    settings = hub_settings.model_copy(
        update={
            "temporal_task_queue": f"enc-{uuid.uuid4().hex[:8]}",
            "worker_max_concurrent_activities": 8,
            "cshub_encryption_keys": Settings(
                cshub_encryption_keys=new_key_entry("k1")
            ).cshub_encryption_keys,
        }
    )
    plain = dev_server_env.client
    encrypting = await Client.connect(
        plain.service_client.config.target_host,
        namespace=plain.namespace,
        data_converter=data_converter(settings),
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        worker = create_worker(encrypting, settings, build_connectors(settings), executor=pool)
        async with worker:
            handle = await encrypting.start_workflow(
                OnboardingWorkflow.run,
                OnboardingInput(customer_id="1006", tier=Tier.PROFESSIONAL),
                id=f"onboarding-1006-enc-{uuid.uuid4().hex[:6]}",
                task_queue=settings.temporal_task_queue,
            )
            try:

                async def started() -> None:
                    assert (await handle.query(OnboardingWorkflow.progress)).actions

                await eventually(started)
                await handle.signal("pause", {"reasn": "x"})

                async def rejected() -> None:
                    p = await handle.query(OnboardingWorkflow.progress)
                    assert (
                        p.steering.rejected
                        and 'unknown field "reasn"' in p.steering.rejected[0].why
                    )

                await eventually(rejected)
                answer = await handle.execute_update("pause", {"reason": "encrypted"})
                assert answer.startswith("paused") and "encrypted" in answer, answer
            finally:
                await handle.terminate("test done")
