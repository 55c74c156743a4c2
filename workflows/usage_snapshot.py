"""UsageSnapshotWorkflow: one customer's product-usage snapshots, onto the CRM company.

1. Started (or joined) by each ``usage_snapshot`` product webhook with signal
   ``snapshot`` (signal-with-start on ``usage-{customer_id}``), or by hand:
   ``{"customer_id": "1001"}`` then signal ``snapshot``
   ``{"occurred_at": "2026-03-02T09:00:00Z", "figures": {"active_users": 12}}``.
2. Snapshots are applied one at a time, in the order they arrived, by the activity
   ``record_usage_snapshot``: the figures given become the company's ``cshub_active_users``
   … ``cshub_login_days_30d`` (what the health model reads) and ``cshub_usage_as_of``; one
   older than the company's ``cshub_usage_as_of`` is skipped, so a late delivery never
   overwrites newer figures. One at a time per customer: nothing races the read-compare-
   write. A repeated event id is skipped; a snapshot the CRM refuses (or that still fails
   after a day of retries) is recorded as failed and the next one goes on.
3. With no snapshot for ``idle_seconds`` (default 60) the workflow completes; the next
   snapshot starts a new run. Very busy customers continue-as-new when history grows.
4. Steering (``workflows.steering``): ``pause`` holds applying snapshots (they queue, in
   order, and the workflow does not end idle while paused); ``resume`` applies the
   queue; ``skip`` (``{}``: the next snapshot in the queue, or the next to arrive;
   ``{"step": "snapshot:<event id>"}``: that one) records it as ``not_applied``;
   ``cancel`` ends the workflow: snapshots still queued are recorded ``not_applied``
   and the result says ``cancelled``.

Query ``progress`` (``UsageProgress``, also the result): counts, the last snapshot time
written, the most recent snapshots handled, and ``steering``.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.usage import UsageActivities
    from domain.usage import (
        UsageProgress,
        UsageRecord,
        UsageRecordRequest,
        UsageRecordResult,
        UsageSnapshot,
        UsageSnapshotInput,
        iso_utc,
        usage_workflow_id,
    )
    from workflows.campaign import InboxSignals, inbox_signal
    from workflows.common import SIDE_EFFECT_RETRY, set_details, tag_customer
    from workflows.steering import Steering

__all__ = ["UsageSnapshotWorkflow", "usage_workflow_id"]

MAX_SEEN_EVENT_IDS = 500
"""Event ids remembered for de-duplication (the ingress ledger is the first line)."""
MAX_RECENT = 20
"""Snapshots listed by ``progress``."""


@workflow.defn(name="UsageSnapshotWorkflow")
class UsageSnapshotWorkflow(InboxSignals):
    @workflow.init
    def __init__(self, inp: UsageSnapshotInput) -> None:
        self._input = inp
        self._inbox: list[UsageSnapshot] = []
        self._seen: list[str] = list(inp.seen_event_ids)[-MAX_SEEN_EVENT_IDS:]
        self._progress = UsageProgress(
            customer_id=inp.customer_id,
            applied=inp.applied,
            skipped=inp.skipped,
            failed=inp.failed,
            last_applied_as_of=inp.last_applied_as_of,
            recent=list(inp.recent)[-MAX_RECENT:],
            not_applied=inp.not_applied,
        )
        self._steer = Steering(inp.steering)

    # ------------------------------------------------------------------ signals
    snapshot = inbox_signal(
        "snapshot", UsageSnapshot, "", "One product report; applied after those received before it."
    )

    def _next_step_key(self) -> str | None:
        return _step(self._inbox[0]) if self._inbox else None

    # ------------------------------------------------------------------ queries
    @workflow.query(name="progress")
    def progress(self) -> UsageProgress:
        return self._progress.model_copy(
            update={
                "queued": len(self._inbox),
                "recent": list(self._progress.recent),
                "cancelled": self._steer.cancelled,
                "steering": self._steer.status(),
            }
        )

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: UsageSnapshotInput) -> UsageProgress:
        idle = timedelta(seconds=inp.idle_seconds)
        tag_customer(None, customer_id=inp.customer_id)
        while True:
            while self._inbox and not self._steer.cancelled:
                msg = self._inbox[0]
                # Waits while paused (the snapshot stays queued); skip / cancel: not applied.
                decision, why = await self._steer.gate(_step(msg))
                if self._steer.cancelled:
                    break
                self._inbox.pop(0)
                if decision == "skip":
                    self._not_applied(msg, why or "skip requested")
                else:
                    await self._apply(msg)
            if self._steer.cancelled:
                return self._end_cancelled()
            if self._steer.paused:
                # Held: the workflow does not end idle while paused.
                self._details()
                await workflow.wait_condition(
                    lambda: not self._steer.paused or self._steer.cancelled
                )
                continue
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._inbox:
                    await self._steer.alerts_sent()  # rejected-command alerts in flight
                    workflow.continue_as_new(self._carry_over())
                continue  # snapshots came in meanwhile: apply them first
            self._details()
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or self._steer.paused or self._steer.cancelled,
                    timeout=idle,
                    timeout_summary=f"next snapshot (ends after {inp.idle_seconds}s without)",
                )
            if self._inbox or self._steer.paused or self._steer.cancelled:
                continue
            # Idle: finish, unless a snapshot arrives before the run completes. (One that
            # arrives while the completion is being recorded makes Temporal reject it and
            # run this code again with the snapshot in the inbox.)
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._inbox and not self._steer.paused and not self._steer.cancelled:
                self._details(finished=True)
                return self.progress()

    # ------------------------------------------------------------------ steps
    async def _apply(self, msg: UsageSnapshot) -> None:
        if msg.event_id is not None and msg.event_id in self._seen:
            self._record(msg, "duplicate", "event already applied: ignored")
            return
        as_of = iso_utc(msg.occurred_at)
        try:
            result: UsageRecordResult = await workflow.execute_activity_method(
                UsageActivities.record_usage_snapshot,
                UsageRecordRequest(customer_id=self._input.customer_id, snapshot=msg),
                start_to_close_timeout=timedelta(minutes=1),
                # Past a day a newer snapshot has almost surely come: give up on this one.
                schedule_to_close_timeout=timedelta(days=1),
                retry_policy=SIDE_EFFECT_RETRY,
                summary=f"write the usage snapshot of {as_of} on the CRM company",
            )
        except ActivityError as err:
            cause = err.cause
            why = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            self._progress.failed += 1
            self._record(msg, "failed", why)
            workflow.logger.warning("usage snapshot of %s not written: %s", as_of, why)
            return
        if msg.event_id is not None:
            self._seen.append(msg.event_id)
            del self._seen[:-MAX_SEEN_EVENT_IDS]
        if result.applied:
            self._progress.applied += 1
            self._progress.last_applied_as_of = result.as_of
            self._record(msg, "applied", result.detail)
        else:
            self._progress.skipped += 1
            self._record(msg, "skipped", result.detail)

    def _not_applied(self, msg: UsageSnapshot, why: str) -> None:
        self._progress.not_applied += 1
        self._record(msg, "not_applied", why)

    def _end_cancelled(self) -> UsageProgress:
        """The cancel signal: what is still queued is reported as not applied."""
        why = f"workflow cancelled: {self._steer.cancel_reason}"
        while self._inbox:
            self._not_applied(self._inbox.pop(0), why)
        self._details(finished=True)
        return self.progress()

    # ------------------------------------------------------------------ helpers
    def _record(self, msg: UsageSnapshot, outcome: str, detail: str) -> None:
        recent = self._progress.recent
        recent.append(
            UsageRecord(
                at=workflow.now(),
                occurred_at=msg.occurred_at,
                event_id=msg.event_id,
                outcome=outcome,
                detail=detail,
            )
        )
        del recent[:-MAX_RECENT]

    def _carry_over(self) -> UsageSnapshotInput:
        p = self._progress
        return UsageSnapshotInput(
            customer_id=self._input.customer_id,
            idle_seconds=self._input.idle_seconds,
            seen_event_ids=list(self._seen),
            last_applied_as_of=p.last_applied_as_of,
            applied=p.applied,
            skipped=p.skipped,
            failed=p.failed,
            recent=list(p.recent),
            not_applied=p.not_applied,
            steering=self._steer.state,
        )

    def _details(self, *, finished: bool = False) -> None:
        p = self._progress
        state = (
            "cancelled"
            if finished and self._steer.cancelled
            else "done"
            if finished
            else "waiting for the next snapshot"
        )
        lines = [
            f"**Usage snapshots** · customer {p.customer_id} · {state}",
            f"Applied {p.applied}, skipped (older) {p.skipped}, failed {p.failed}"
            + (f", not applied {p.not_applied}" if p.not_applied else ""),
        ]
        if self._inbox:
            lines.append(f"Queued: {len(self._inbox)}")
        if p.last_applied_as_of:
            lines.append(f"CRM usage as of {p.last_applied_as_of}")
        set_details(lines, self._steer.detail_line())


def _step(msg: UsageSnapshot) -> str:
    """A snapshot's step name for ``skip``: its event id, else its time."""
    return f"snapshot:{msg.event_id or iso_utc(msg.occurred_at)}"
