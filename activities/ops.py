"""The ``alert_ops`` activity: tell ops in Slack that the hub stopped doing something.

Raised by :mod:`workflows.ops_alerts` (never by workflow code directly). The message
carries an idempotency key per failure, so a retried activity posts it once."""

from __future__ import annotations

import logging

from temporalio import activity

from activities.models import ActionResult
from activities.slack_post import post_slack
from connectors.base import Chat
from domain.ops_alerts import OpsAlert
from templates.renderer import render_slack

log = logging.getLogger("cshub.ops")


class OpsActivities:
    def __init__(self, chat: Chat, channel: str) -> None:
        self._chat = chat
        self._channel = channel

    @activity.defn(name="alert_ops")
    async def alert_ops(self, alert: OpsAlert) -> ActionResult:
        """Post ``alert`` to the ops channel (once per idempotency key) and log it."""
        if activity.info().attempt == 1:
            log.error(
                "ops alert: %s in %s (customer %s): %s",
                alert.kind,
                alert.workflow_id,
                alert.customer_id or "-",
                alert.error,
                extra={"workflow_id": alert.workflow_id, "customer_id": alert.customer_id},
            )
        rendered = render_slack("ops_failure", alert.model_dump())
        return await post_slack(self._chat, self._channel, rendered, alert.idempotency_key)
