"""The action record: the SQLite store and the audit wrapper around side-effect activities."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.action_log import ActionRow, SqliteActionStore, open_action_store
from activities.audit import audit_activities, audited
from activities.models import (
    ActionResult,
    CsmAlertRequest,
    CustomerEmailRequest,
    MessageContext,
)
from connectors.base import CrmRecordRef

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def row(key: str, customer: str = "1001", at: datetime = T0, **kw: Any) -> ActionRow:
    return ActionRow(
        key=key,
        customer_id=customer,
        workflow_id=key.split("/")[0],
        step=key.rsplit("/", 1)[-1],
        channel=kw.pop("channel", "email"),
        outcome=kw.pop("outcome", "done"),
        first_at=kw.pop("first_at", at),
        last_at=at,
        **kw,
    )


def test_upsert_keeps_the_first_time_and_updates_the_rest(tmp_path: Path) -> None:
    store = SqliteActionStore(tmp_path / "a.db")
    store.upsert(row("wf/j/s1", outcome="retrying", attempts=1, error="500"))
    store.upsert(row("wf/j/s1", at=T0 + timedelta(seconds=5), outcome="done", attempts=2))
    got = store.get("wf/j/s1")
    assert got is not None
    assert (got.outcome, got.attempts, got.error) == ("done", 2, None)
    assert (got.first_at, got.last_at) == (T0, T0 + timedelta(seconds=5))
    assert store.get("missing") is None
    store.close()


def test_customer_listing_is_newest_first_and_per_customer(tmp_path: Path) -> None:
    store = SqliteActionStore(tmp_path / "a.db")
    for i in range(3):
        store.upsert(row(f"wf/j/s{i}", at=T0 + timedelta(hours=i)))
    store.upsert(row("other/j/s", customer="1002", at=T0 + timedelta(days=1)))
    assert [r.key for r in store.for_customer("1001")] == ["wf/j/s2", "wf/j/s1", "wf/j/s0"]
    assert [r.key for r in store.for_customer("1001", limit=1)] == ["wf/j/s2"]
    since = store.for_customer("1001", since=T0 + timedelta(minutes=30))
    assert [r.key for r in since] == ["wf/j/s2", "wf/j/s1"]
    assert [r.key for r in store.for_customer("1002")] == ["other/j/s"]
    store.close()


def test_retention_purges_rows_last_touched_before_the_cutoff(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    now = datetime.now(UTC)
    store = SqliteActionStore(path)
    store.upsert(row("old/j/s", at=now - timedelta(days=401)))
    store.upsert(row("kept/j/s", at=now - timedelta(days=399)))
    store.close()
    reopened = open_action_store(path, retention_days=400)  # purges on open
    assert [r.key for r in reopened.for_customer("1001")] == ["kept/j/s"]
    assert reopened.purge(timedelta(days=1)) == 1
    reopened.close()


class FakeCrm:
    def __init__(self, fail: bool = False) -> None:
        self.notes: list[dict[str, Any]] = []
        self.fail = fail

    def create_note(
        self, *, company_id: str, body: str, timestamp: datetime, idempotency_key: str
    ) -> CrmRecordRef:
        if self.fail:
            raise RuntimeError("CRM down")
        self.notes.append({"company_id": company_id, "body": body, "key": idempotency_key})
        return CrmRecordRef(id="n1", created=True)


def email_req(key: str = "wf-1/j/welcome") -> CustomerEmailRequest:
    return CustomerEmailRequest(
        customer_id="1001", template="welcome", idempotency_key=key, context=MessageContext(day=0)
    )


def env_at(attempt: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, attempt=attempt, workflow_id="wf-1", workflow_type="OnboardingWorkflow"
    )
    return env


async def test_audited_email_records_once_notes_the_crm_and_answers_a_second_call(
    tmp_path: Path,
) -> None:
    store = SqliteActionStore(tmp_path / "a.db")
    crm = FakeCrm()
    calls: list[str] = []

    @activity.defn(name="send_customer_email")
    async def send(req: CustomerEmailRequest) -> ActionResult:
        calls.append(req.idempotency_key)
        if len(calls) == 1:
            raise ApplicationError("smtp 451", type="TransientConnectorError")
        return ActionResult(channel="email", summary="Welcome!", ref="<m1>", contact_id="501")

    [wrapped] = audit_activities([send], store, crm)  # type: ignore[arg-type]
    with pytest.raises(ApplicationError):
        await env_at(1).run(wrapped, email_req())
    failed = store.get("wf-1/j/welcome")
    assert failed is not None and (failed.outcome, failed.attempts) == ("retrying", 1)
    assert failed.error == "TransientConnectorError: smtp 451"

    result = await env_at(2).run(wrapped, email_req())
    assert result.created and calls == ["wf-1/j/welcome"] * 2
    done = store.get("wf-1/j/welcome")
    assert done is not None
    assert (done.outcome, done.attempts, done.channel, done.kind) == ("done", 2, "email", "welcome")
    assert (done.workflow_id, done.workflow_type, done.step) == (
        "wf-1",
        "OnboardingWorkflow",
        "welcome",
    )
    assert done.first_at == failed.first_at and done.error is None
    assert done.contact_id == "501"  # contact pressure counts per contact
    assert crm.notes == [
        {
            "company_id": "1001",
            "body": "E-mail 'welcome' sent to contact 501 (workflow wf-1)\nWelcome!",
            "key": "wf-1/j/welcome:note",
        }
    ]

    # The key is done: a later attempt (lost completion, worker crash) sends nothing.
    again = await env_at(3).run(wrapped, email_req())
    assert (again.created, again.summary, again.ref) == (False, "Welcome!", "<m1>")
    assert len(calls) == 2 and len(crm.notes) == 1
    store.close()


async def test_a_failed_crm_note_neither_fails_nor_repeats_the_email(tmp_path: Path) -> None:
    store = SqliteActionStore(tmp_path / "a.db")

    @activity.defn(name="send_customer_email")
    async def send(req: CustomerEmailRequest) -> ActionResult:
        return ActionResult(channel="email", summary="Hi", contact_id="501")

    wrapped = audited(send, store, channel="email", crm=FakeCrm(fail=True))  # type: ignore[arg-type]
    assert (await env_at(1).run(wrapped, email_req())).created
    recorded = store.get("wf-1/j/welcome")
    assert recorded is not None and recorded.outcome == "done"
    store.close()


def test_sync_activities_keep_their_name_and_types_and_permanent_failures_are_final(
    tmp_path: Path,
) -> None:
    store = SqliteActionStore(tmp_path / "a.db")

    @activity.defn(name="alert_csm")
    def alert(req: CsmAlertRequest) -> ActionResult:
        raise ApplicationError("channel_not_found", non_retryable=True)

    wrapped = audited(alert, store, channel="slack")
    defn = getattr(wrapped, "__temporal_activity_definition")
    assert defn.name == "alert_csm" and defn.arg_types == [CsmAlertRequest]
    assert defn.ret_type is ActionResult and not defn.is_async
    req = CsmAlertRequest(
        customer_id="1002",
        template="missed",
        idempotency_key="wf-2/j/missed",
        context=MessageContext(day=3),
        workflow_id="wf-2",
    )
    with pytest.raises(ApplicationError):
        env_at(1).run(wrapped, req)
    failed = store.get("wf-2/j/missed")
    assert failed is not None and (failed.outcome, failed.customer_id) == ("failed", "1002")
    store.close()


def test_a_store_from_before_the_contact_column_gets_it(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE actions (key TEXT PRIMARY KEY, customer_id TEXT, workflow_id TEXT NOT "
        "NULL, workflow_type TEXT NOT NULL, activity TEXT NOT NULL, step TEXT NOT NULL, "
        "channel TEXT NOT NULL, kind TEXT, summary TEXT NOT NULL, outcome TEXT NOT NULL, "
        "attempts INTEGER NOT NULL, first_at TEXT NOT NULL, last_at TEXT NOT NULL, ref TEXT, "
        "error TEXT);"
        "INSERT INTO actions VALUES ('k1', '1001', 'wf', 'T', 'a', 's', 'email', 'welcome', "
        "'Hi', 'done', 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', "
        "NULL, NULL);"
    )
    old.commit()
    old.close()
    store = SqliteActionStore(path)
    kept = store.get("k1")
    assert kept is not None and kept.contact_id is None and kept.kind == "welcome"
    store.upsert(row("k2", contact_id="2001"))
    again = store.get("k2")
    assert again is not None and again.contact_id == "2001"
    store.close()
