"""Post a rendered Slack message once per idempotency key and report it as an action."""

from __future__ import annotations

from activities.errors import connector_errors
from activities.models import ActionResult
from connectors.base import Chat
from templates.renderer import RenderedSlack, mrkdwn_plain


async def post_slack(
    chat: Chat, channel: str, rendered: RenderedSlack, idempotency_key: str
) -> ActionResult:
    with connector_errors():
        ref = await chat.post_message(
            channel=channel,
            text=rendered.text,
            blocks=rendered.blocks,
            idempotency_key=idempotency_key,
        )
    return ActionResult(
        channel="slack",
        summary=mrkdwn_plain(rendered.text),  # Slack's escapes are for Slack only
        created=ref.created,
        ref=f"{ref.channel}/{ref.ts}",
    )
