"""All sandbox state in one place, plus the record of what the hub sent (the outbox).

The HTTP handlers run on the caller's event loop; the SMTP sink runs in aiosmtpd's own
thread. Everything the SMTP thread touches (the e-mail records) and every read of the
outbox goes through one lock; the emulated systems' state is only used from the loop.

With a ``state_file`` (``cshub dev``: ``<data dir>/sandbox-state.pickle``) the whole
state, outbox included, is saved there (``save``, on every change within a second and at
stop) and read back at the next start instead of seeding the demo data again: a restart
of the hub finds the CRM, Zendesk, Slack and the outbox as they were. Only
``POST /_sandbox/reset`` (the inbox's *Reset sandbox*) starts over from the demo data.
The file is a pickle written by this process for itself (mode 0600), like any local
database file: never point ``state_file`` at a file someone else can write.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
from collections import deque
from pathlib import Path
from typing import Any

from sandbox.clock import iso_ms, utcnow
from sandbox.demo_data import DemoData, load_demo_data
from sandbox.hubspot_assoc import OBJECT_TYPES
from sandbox.hubspot_pipeline_data import seed_pipelines
from sandbox.hubspot_state import CrmObject, HubSpotState
from sandbox.seed import seed_hubspot, seed_slack, seed_zendesk
from sandbox.slack_state import SlackChannel, SlackMessage, SlackState, SlackViews
from sandbox.zendesk_state import TicketChange, ZendeskState

JsonDict = dict[str, Any]

MAX_RECORDED_REQUESTS = 20_000
STATE_FORMAT = 1
"""Bump when the saved classes change shape: an older file is then set aside, not read."""

log = logging.getLogger("cshub.sandbox")


class Store:
    def __init__(self, data_file: Path | None = None, state_file: Path | None = None) -> None:
        self.data_file = data_file
        self.state_file = state_file
        self._lock = threading.RLock()
        self.data: DemoData
        self.hubspot: HubSpotState
        self.zendesk: ZendeskState
        self.slack: SlackState
        self.deal_pipelines: dict[str, JsonDict]
        self.stripe: dict[str, dict[str, JsonDict]]
        self._requests: deque[JsonDict] = deque(maxlen=MAX_RECORDED_REQUESTS)
        self.slack_views = SlackViews()
        """Modals opened (``views.open``) and the trigger ids clicks issued: not saved."""
        self.changes = 0
        """Counts changes (any request that may write, any e-mail) since the start."""
        self.restored = False
        """The state was read back from ``state_file`` (not seeded from the demo data)."""
        if state_file is not None and self._restore(state_file):
            self.restored = True
        else:
            self.reset()

    def touch(self) -> None:
        with self._lock:
            self.changes += 1

    # -- saving and restoring ---------------------------------------------------------

    _SAVED = (
        "data",
        "hubspot",
        "zendesk",
        "slack",
        "deal_pipelines",
        "stripe",
        "_emails",
        "_seen_message_ids",
        "_slack_messages",
        "_crm_created",
        "_crm_updates",
        "_ticket_changes",
    )

    def snapshot(self) -> bytes:
        """The state as bytes (under the lock: the SMTP thread may be recording)."""
        with self._lock:
            state = {name: getattr(self, name) for name in self._SAVED}
            return pickle.dumps({"format": STATE_FORMAT, "state": state}, protocol=5)

    def save(self, blob: bytes | None = None) -> None:
        """Write the state to ``state_file`` atomically (temporary file, then rename)."""
        if self.state_file is None:
            return
        blob = self.snapshot() if blob is None else blob
        path = self.state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)

    def _restore(self, path: Path) -> bool:
        """Read a saved state; False (after saying why) when there is none to read."""
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return False
        try:
            saved = pickle.loads(blob)  # our own file (see the module docstring)
            if saved.get("format") != STATE_FORMAT:
                raise ValueError(f"format {saved.get('format')!r}, expected {STATE_FORMAT}")
            state = saved["state"]
            missing = [name for name in self._SAVED if name not in state]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
        except Exception as exc:
            aside = path.with_name(path.name + ".unreadable")
            os.replace(path, aside)
            log.warning(
                "sandbox: cannot read the saved state %s (%s); starting from the demo data "
                "(the old file is kept as %s)",
                path,
                exc,
                aside,
            )
            return False
        with self._lock:
            for name in self._SAVED:
                setattr(self, name, state[name])
            self._requests.clear()
        return True

    def reset(self) -> None:
        """Re-read the demo data file, re-seed every system and forget all records."""
        data = load_demo_data(self.data_file)
        with self._lock:
            self.data = data
            self.hubspot = seed_hubspot(data)
            self.zendesk = seed_zendesk(data)
            self.slack = seed_slack(data)
            self.deal_pipelines = seed_pipelines()
            self.stripe = {kind: {} for kind in ("customers", "subscriptions", "invoices")}
            self._clear_records()
            self.changes += 1

    def clear_outbox(self) -> None:
        """Forget recorded output and requests; the systems' data stays as it is."""
        with self._lock:
            self._clear_records()
            self.changes += 1

    def _clear_records(self) -> None:
        self._emails: list[JsonDict] = []
        self._seen_message_ids: set[str] = set()
        self._slack_messages: list[tuple[SlackChannel, SlackMessage]] = []
        self._crm_created: dict[str, list[CrmObject]] = {"tasks": [], "notes": []}
        self._crm_updates: list[JsonDict] = []
        self._ticket_changes: list[JsonDict] = []
        self._requests.clear()
        self.slack_views = SlackViews()

    # -- recording -----------------------------------------------------------------

    def record_email(self, email: JsonDict) -> JsonDict:
        """Store a parsed e-mail; adds ``id``, ``received_at`` and ``duplicate``."""
        with self._lock:
            message_id = email.get("message_id")
            record = {
                "id": len(self._emails) + 1,
                **email,
                "received_at": iso_ms(utcnow()),
                "duplicate": bool(message_id) and message_id in self._seen_message_ids,
            }
            if message_id:
                self._seen_message_ids.add(message_id)
            self._emails.append(record)
            self.changes += 1
            return record

    def record_slack_message(self, channel: SlackChannel, message: SlackMessage) -> None:
        with self._lock:
            self._slack_messages.append((channel, message))

    def record_crm_created(self, obj: CrmObject) -> None:
        with self._lock:
            if obj.object_type in self._crm_created:
                self._crm_created[obj.object_type].append(obj)

    def record_crm_update(self, object_type: str, object_id: str, properties: JsonDict) -> None:
        with self._lock:
            self._crm_updates.append(
                {
                    "type": object_type,
                    "id": object_id,
                    "properties": properties,
                    "at": iso_ms(utcnow()),
                }
            )

    def record_ticket_change(self, change: TicketChange) -> None:
        comment = change.comment
        with self._lock:
            self._ticket_changes.append(
                {
                    "ticket_id": str(change.ticket.id),
                    "changes": change.changes,
                    "previous": change.previous,
                    "created": change.created,
                    "comment": None
                    if comment is None
                    else {
                        "body": comment.body,
                        "public": comment.public,
                        "author_id": comment.author_id,
                    },
                    "at": iso_ms(utcnow()),
                }
            )

    def record_request(self, system: str, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append(
                {
                    "system": system,
                    "method": method,
                    "path": path,
                    "status": status,
                    "at": iso_ms(utcnow()),
                }
            )

    # -- reading ---------------------------------------------------------------------

    def outbox_json(self) -> JsonDict:
        """The ``GET /api/outbox`` document (each list oldest first)."""
        with self._lock:
            return {
                "emails": [dict(e) for e in self._emails],
                "slack_messages": [self._slack_json(c, m) for c, m in self._slack_messages],
                "crm_tasks": [self._crm_json(o) for o in self._crm_created["tasks"]],
                "crm_notes": [self._crm_json(o) for o in self._crm_created["notes"]],
                "crm_updates": [dict(u) for u in self._crm_updates],
                "ticket_changes": [dict(t) for t in self._ticket_changes],
                "slack_views": self.slack_views.to_json(),
            }

    def requests_json(self) -> list[JsonDict]:
        with self._lock:
            return [dict(r) for r in self._requests]

    @staticmethod
    def _slack_json(channel: SlackChannel, message: SlackMessage) -> JsonDict:
        return {
            "channel": channel.id,
            "channel_name": channel.display_name,
            "ts": message.ts,
            "thread_ts": message.thread_ts,
            "text": message.text,
            "blocks": message.blocks or [],
            "metadata": message.metadata,
            "posted_at": iso_ms(message.posted_at),
            "edits": message.edits,
        }

    def _crm_json(self, obj: CrmObject) -> JsonDict:
        """A created task/note as it is now (later updates and associations included)."""
        associations = [
            {"type": to_type, "id": to_id}
            for to_type in OBJECT_TYPES
            for to_id in self.hubspot.associations(obj.object_type, obj.id, to_type)
        ]
        return {
            "id": obj.id,
            "properties": dict(obj.properties),
            "associations": associations,
            "created_at": iso_ms(obj.created_at),
        }
