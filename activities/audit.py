"""Record every side-effect activity in the action store, and let the store answer for
keys already done.

:func:`audited` wraps an activity that takes a request with ``idempotency_key`` (and
usually ``customer_id``) and returns an :class:`ActionResult`, keeping its activity name
and types, so workflows call it as before:

* before the call: a key the store has as done / already done / suppressed returns
  ``ActionResult(created=False)`` without touching the outside system (a retry after a
  worker crash, or after a lost completion, sends nothing; SMTP has no idempotency of
  its own);
* after the call: one row per key (outcome, attempt number, summary, reference);
* on an exception: the attempt is recorded (``retrying``, or ``failed`` when it will not
  be retried) and the exception re-raised, unchanged.

A customer e-mail really sent (``created``) is also logged as a note on the CRM company,
where CSMs look (key ``<key>:note``); writing the note is best effort: a failure is
logged and neither fails nor repeats the e-mail. The store is best effort too: when it
cannot be read or written the activity still runs (the connectors' own idempotency
applies) and the error is logged.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast, get_type_hints

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.action_log import FINAL_OUTCOMES, ActionRow, ActionStore, Outcome
from activities.models import ActionResult
from connectors.base import Crm

log = logging.getLogger("cshub.audit")

ERROR_CHARS = 500


def activity_clock() -> datetime:
    """Now, on the clock the workflow runs on: the wall clock in production (an attempt
    is scheduled before it runs), the test server's skipped clock in tests (always ahead
    of the wall clock), so what the store records compares with workflow times."""
    now = datetime.now(UTC)
    if activity.in_activity():
        return max(now, activity.info().current_attempt_scheduled_time)
    return now


class _Audit:
    def __init__(
        self, store: ActionStore, channel: str, activity_name: str, crm: Crm | None
    ) -> None:
        self.store = store
        self.channel = channel
        self.activity_name = activity_name
        self.crm = crm

    @staticmethod
    def key(req: Any) -> str | None:
        key = getattr(req, "idempotency_key", None)
        return key if isinstance(key, str) and key else None

    def known(self, key: str) -> ActionResult | None:
        """The earlier result of a key already acted on, or None to go ahead."""
        try:
            row = self.store.get(key)
        except Exception:
            log.exception("action store unreadable; %s %s goes ahead", self.activity_name, key)
            return None
        if row is None or row.outcome not in FINAL_OUTCOMES:
            return None
        activity.logger.info("%s: key %s already %s (action store)", self.channel, key, row.outcome)
        return ActionResult(
            channel=row.channel,
            summary=row.summary,
            created=False,
            suppressed=row.outcome == "suppressed",
            ref=row.ref,
        )

    def write(
        self,
        req: Any,
        key: str,
        outcome: Outcome,
        *,
        result: ActionResult | None = None,
        error: BaseException | None = None,
    ) -> None:
        info = activity.info()
        now = activity_clock()
        try:
            before = self.store.get(key)
            self.store.upsert(
                ActionRow(
                    key=key,
                    customer_id=getattr(req, "customer_id", None),
                    workflow_id=info.workflow_id or "",
                    workflow_type=info.workflow_type or "",
                    activity=self.activity_name,
                    step=key.rsplit("/", 1)[-1],
                    channel=result.channel if result else self.channel,
                    kind=getattr(req, "template", None),
                    summary=(result.summary if result else before.summary if before else ""),
                    outcome=outcome,
                    attempts=info.attempt,
                    first_at=before.first_at if before else now,
                    last_at=now,
                    ref=result.ref if result else None,
                    error=str(error)[:ERROR_CHARS] if error is not None else None,
                    contact_id=(result.contact_id if result else None)
                    or (before.contact_id if before else None),
                )
            )
        except Exception:
            log.exception("action store: could not record %s %s (%s)", self.channel, key, outcome)

    def done(self, req: Any, key: str, result: ActionResult) -> None:
        outcome: Outcome = (
            "deferred"
            if result.held == "later"
            else "dropped"
            if result.held == "dropped"
            else "suppressed"
            if result.suppressed
            else "done"
            if result.created
            else "already_done"
        )
        self.write(req, key, outcome, result=result)

    def failed(self, req: Any, key: str, exc: BaseException) -> None:
        final = isinstance(exc, ApplicationError) and exc.non_retryable
        self.write(req, key, "failed" if final else "retrying", error=exc)

    def note_email(self, req: Any, key: str, result: ActionResult) -> None:
        """The CRM note for an e-mail really sent (best effort)."""
        customer_id = getattr(req, "customer_id", None)
        if self.crm is None or result.channel != "email" or not result.created or not customer_id:
            return
        to = f"contact {result.contact_id}" if result.contact_id else "an address (no CRM contact)"
        workflow_id = activity.info().workflow_id or "-"
        template = getattr(req, "template", "?")
        body = f"E-mail '{template}' sent to {to} (workflow {workflow_id})\n{result.summary}"
        try:
            self.crm.create_note(
                company_id=customer_id,
                body=body,
                timestamp=datetime.now(UTC),
                idempotency_key=f"{key}:note",
            )
        except Exception as exc:
            activity.logger.warning(
                "e-mail %s sent, but its CRM note on company %s failed: %s", key, customer_id, exc
            )


def audited(
    fn: Callable[[Any], Any],
    store: ActionStore,
    *,
    channel: str,
    crm: Crm | None = None,
) -> Callable[[Any], Any]:
    """The activity ``fn`` (sync or async, one request argument, returning ActionResult),
    recording in ``store``. ``crm``: write a CRM note for each e-mail sent."""
    defn = getattr(fn, "__temporal_activity_definition", None)
    name = str(getattr(defn, "name", None) or getattr(fn, "__name__", "activity"))
    hints = get_type_hints(fn)
    params = [p for p in inspect.signature(fn).parameters]
    if len(params) != 1:
        raise TypeError(f"{name}: audited activities take one request argument")
    audit = _Audit(store, channel, name, crm)

    if inspect.iscoroutinefunction(fn):
        call_async = cast(Callable[[Any], Awaitable[ActionResult]], fn)

        async def run_async(req: Any) -> ActionResult:
            key = audit.key(req)
            if key is None:
                return await call_async(req)
            known = await asyncio.to_thread(audit.known, key)
            if known is not None:
                return known
            try:
                result = await call_async(req)
            except Exception as exc:
                await asyncio.to_thread(audit.failed, req, key, exc)
                raise
            await asyncio.to_thread(audit.done, req, key, result)
            await asyncio.to_thread(audit.note_email, req, key, result)
            return result

        wrapper: Callable[[Any], Any] = run_async
    else:
        call_sync = cast(Callable[[Any], ActionResult], fn)

        def run_sync(req: Any) -> ActionResult:
            key = audit.key(req)
            if key is None:
                return call_sync(req)
            known = audit.known(key)
            if known is not None:
                return known
            try:
                result = call_sync(req)
            except Exception as exc:
                audit.failed(req, key, exc)
                raise
            audit.done(req, key, result)
            audit.note_email(req, key, result)
            return result

        wrapper = run_sync
    wrapper.__name__ = str(getattr(fn, "__name__", name))
    wrapper.__qualname__ = str(getattr(fn, "__qualname__", name))
    wrapper.__doc__ = fn.__doc__
    wrapper.__annotations__ = {"req": hints[params[0]], "return": hints.get("return")}
    return activity.defn(name=name)(wrapper)


AUDITED_CHANNELS: dict[str, str] = {
    "send_customer_email": "email",
    "alert_csm": "slack",
    "post_support_alert": "slack",
    "create_csm_task": "crm_task",
    "add_crm_note": "crm_note",
}
"""The side-effect activities recorded in the action store (by activity name): those
whose request carries an idempotency key and the customer id."""


def audit_activities(
    activities: list[Callable[..., Any]], store: ActionStore, crm: Crm | None
) -> list[Callable[..., Any]]:
    """``activities`` with each one of :data:`AUDITED_CHANNELS` wrapped by :func:`audited`."""
    wrapped: list[Callable[..., Any]] = []
    for fn in activities:
        defn = getattr(fn, "__temporal_activity_definition", None)
        channel = AUDITED_CHANNELS.get(str(getattr(defn, "name", "")))
        wrapped.append(fn if channel is None else audited(fn, store, channel=channel, crm=crm))
    return wrapped
