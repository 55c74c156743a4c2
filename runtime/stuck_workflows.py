"""Ops alerts for stuck workflows: a workflow *task* that fails.

When workflow code raises something that is not a Temporal failure (a bug), or no longer
replays its history, the SDK does not fail the workflow: it fails the workflow task,
logs "Failed activation on workflow ..." and Temporal retries the task until the code is
fixed. The workflow is safe but stuck, and nothing in it can alert anyone. This logging
handler, installed by ``cshub worker`` and ``cshub dev``, turns the first such record of
each workflow run into one message in the ops channel (the Slack idempotency key makes
it one across retries, restarts and workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from connectors.base import Chat
from domain.ops_alerts import OpsAlert, clip_error, ops_alert_key
from templates.renderer import render_slack

SDK_LOGGER = "temporalio.worker._workflow_instance"
TASK_FAILURE = "WorkflowTaskFailure"
log = logging.getLogger("cshub.ops")


class StuckWorkflowAlerts(logging.Handler):
    def __init__(self, chat: Chat, channel: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(level=logging.WARNING)
        self._chat = chat
        self._channel = channel
        self._loop = loop
        self._seen: set[str] = set()
        self.posted: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "__temporal_error_identifier", None) != TASK_FAILURE:
            return
        details: dict[str, Any] = dict(getattr(record, "temporal_workflow", None) or {})
        workflow_id = str(details.get("workflow_id", "?"))
        run_id = str(details.get("run_id", "?"))
        key = ops_alert_key(workflow_id, run_id, "workflow-task")
        if key in self._seen:
            return
        self._seen.add(key)
        error = record.exc_info[1] if record.exc_info else None
        alert = OpsAlert(
            kind="workflow_task_failed",
            workflow_id=workflow_id,
            run_id=run_id,
            workflow_type=str(details.get("workflow_type", "?")),
            customer_id=None,
            error=clip_error(f"{type(error).__name__}: {error}" if error else record.getMessage()),
            idempotency_key=key,
        )
        # Activations run on the SDK's threads; the chat client lives on the worker's loop.
        asyncio.run_coroutine_threadsafe(self._post(alert), self._loop)

    async def _post(self, alert: OpsAlert) -> None:
        rendered = render_slack("ops_failure", alert.model_dump())
        try:
            await self._chat.post_message(
                channel=self._channel,
                text=rendered.text,
                blocks=rendered.blocks,
                idempotency_key=alert.idempotency_key,
            )
            self.posted.append(alert.idempotency_key)
        except Exception as exc:  # nothing left to tell but the log
            self._seen.discard(alert.idempotency_key)  # the next retry of the task tries again
            log.error("ops alert %s could not be posted: %s", alert.idempotency_key, exc)
        else:
            log.error(
                "ops alert: workflow task failing in %s: %s",
                alert.workflow_id,
                alert.error,
                extra={"workflow_id": alert.workflow_id},
            )


@contextlib.contextmanager
def alert_on_stuck_workflows(chat: Chat, channel: str) -> Iterator[StuckWorkflowAlerts]:
    """Install the handler on the SDK's workflow logger for the ``with`` block."""
    handler = StuckWorkflowAlerts(chat, channel, asyncio.get_running_loop())
    logger = logging.getLogger(SDK_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
