"""Slack workspace state: users, channels (public and direct) and their message history.

The sandbox app is one bot user that is a member of every seeded channel. Posting to a
user id opens (or reuses) a direct-message channel ``D<rest of the user id>``, the way
Slack answers with a ``D...`` channel id for DMs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.clock import utcnow

JsonDict = dict[str, Any]

TEAM_ID = "T0SANDBOX"
TEAM_NAME = "cshub sandbox"
BOT_USER_ID = "U0CSHUBBOT"
BOT_ID = "B0CSHUB"
APP_ID = "A0CSHUB"


@dataclass(frozen=True)
class SlackUser:
    id: str
    email: str
    real_name: str
    title: str = ""
    is_bot: bool = False

    @property
    def handle(self) -> str:
        return self.email.split("@", 1)[0]

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.handle,
            "real_name": self.real_name,
            "deleted": False,
            "is_bot": self.is_bot,
            "is_admin": False,
            "tz": "UTC",
            "profile": {
                "email": self.email,
                "real_name": self.real_name,
                "display_name": self.real_name,
                "title": self.title,
            },
        }


@dataclass
class SlackMessage:
    ts: str
    text: str
    blocks: list[JsonDict] | None
    metadata: JsonDict | None
    thread_ts: str | None
    posted_at: datetime
    edits: int = 0
    """How many times ``chat.update`` changed it."""

    def to_json(self) -> JsonDict:
        message: JsonDict = {
            "type": "message",
            "subtype": "bot_message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": self.text,
            "ts": self.ts,
        }
        if self.blocks is not None:
            message["blocks"] = self.blocks
        if self.metadata is not None:
            message["metadata"] = self.metadata
        if self.thread_ts is not None:
            message["thread_ts"] = self.thread_ts
        return message


@dataclass
class SlackChannel:
    id: str
    name: str
    purpose: str
    created: int
    im_user: str | None = None
    messages: list[SlackMessage] = field(default_factory=list)  # oldest first

    @property
    def display_name(self) -> str:
        return self.name if self.im_user is None else f"@{self.name}"

    def to_json(self) -> JsonDict:
        if self.im_user is not None:
            return {"id": self.id, "is_im": True, "user": self.im_user, "created": self.created}
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": True,
            "is_im": False,
            "is_private": False,
            "is_archived": False,
            "is_member": True,
            "created": self.created,
            "creator": BOT_USER_ID,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": BOT_USER_ID, "last_set": self.created},
            "num_members": 1,
        }


@dataclass
class SlackState:
    channels: dict[str, SlackChannel] = field(default_factory=dict)
    users: dict[str, SlackUser] = field(default_factory=dict)
    _last_us: int = 0

    def add_channel(self, channel_id: str, name: str, purpose: str) -> None:
        self.channels[channel_id] = SlackChannel(channel_id, name, purpose, int(time.time()))

    def add_user(self, user: SlackUser) -> None:
        self.users[user.id] = user

    def user_by_email(self, email: str) -> SlackUser | None:
        wanted = email.strip().lower()
        return next((u for u in self.users.values() if u.email.lower() == wanted), None)

    def channel_by_id(self, channel_id: str) -> SlackChannel | None:
        """Conversations addressed by id only (``C...``/``D...``), as Slack's read methods do."""
        return self.channels.get(channel_id)

    def channel_for_post(self, channel: str) -> SlackChannel | None:
        """``chat.postMessage`` target: channel id, ``#name``/``name``, or a user id (DM)."""
        if channel in self.channels:
            return self.channels[channel]
        if channel in self.users:
            return self.open_dm(channel)
        name = channel.removeprefix("#")
        return next(
            (c for c in self.channels.values() if c.im_user is None and c.name == name), None
        )

    def open_dm(self, user_id: str) -> SlackChannel | None:
        user = self.users.get(user_id)
        if user is None:
            return None
        dm_id = "D" + user_id[1:]
        if dm_id not in self.channels:
            self.channels[dm_id] = SlackChannel(
                dm_id, user.handle, "", int(time.time()), im_user=user_id
            )
        return self.channels[dm_id]

    def post(
        self,
        channel: SlackChannel,
        text: str,
        blocks: list[JsonDict] | None,
        metadata: JsonDict | None,
        thread_ts: str | None,
    ) -> SlackMessage:
        message = SlackMessage(self._next_ts(), text, blocks, metadata, thread_ts, utcnow())
        channel.messages.append(message)
        return message

    def _next_ts(self) -> str:
        """Unique, strictly increasing message timestamps (``seconds.micros``)."""
        now_us = max(time.time_ns() // 1000, self._last_us + 1)
        self._last_us = now_us
        return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"
