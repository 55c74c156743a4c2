"""Slack workspace state: users, channels (public and direct) and their message history.

The sandbox app is one bot user that is a member of every seeded channel. Posting to a
user id opens (or reuses) a direct-message channel ``D<rest of the user id>``, the way
Slack answers with a ``D...`` channel id for DMs.
"""

from __future__ import annotations

import time
import uuid
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


TRIGGER_TTL_S = 3.0
"""Slack's trigger ids are valid for 3 seconds after the interaction, and once."""


@dataclass
class SlackViews:
    """Modals: trigger ids issued with replayed clicks (``views.open`` exchanges each
    once, within 3 s, as Slack does) and the views opened with them, by view id."""

    triggers: dict[str, tuple[float, str]] = field(default_factory=dict)
    """trigger id → (issued at, unix s; the user who clicked)."""
    exchanged: set[str] = field(default_factory=set)
    views: dict[str, JsonDict] = field(default_factory=dict)
    opened: list[JsonDict] = field(default_factory=list)
    """Each ``views.open`` as recorded: view id, user, trigger id, the view."""

    def issue_trigger(self, user_id: str) -> str:
        now = time.time()
        trigger = f"{int(now)}.{time.time_ns() % 10**13}.{uuid.uuid4().hex}"
        self.triggers[trigger] = (now, user_id)
        return trigger

    def exchange(self, trigger_id: str) -> tuple[str | None, str]:
        """(the user, "") or (None, Slack's error code)."""
        issued = self.triggers.get(trigger_id)
        if issued is None:
            return None, "invalid_trigger_id"
        if trigger_id in self.exchanged:
            return None, "exchanged_trigger_id"
        if time.time() - issued[0] > TRIGGER_TTL_S:
            return None, "expired_trigger_id"
        self.exchanged.add(trigger_id)
        return issued[1], ""

    def open(self, view: JsonDict, user_id: str, trigger_id: str) -> JsonDict:
        view_id = f"V{len(self.views) + 1:08d}"
        opened: JsonDict = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type", "modal"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": view.get("title"),
            "clear_on_close": False,
            "notify_on_close": False,
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        self.views[view_id] = opened
        self.opened.append({"view_id": view_id, "user": user_id, "trigger_id": trigger_id})
        return opened

    def to_json(self) -> list[JsonDict]:
        return [{**o, "view": self.views[o["view_id"]]} for o in self.opened]
