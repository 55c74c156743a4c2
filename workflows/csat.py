"""CsatSurveyWorkflow: one solved ticket's customer-satisfaction survey.

Playbook ``playbooks/surveys.yaml`` (``csat``), in order:
1. Started by the ticket's SLA workflow when the ticket is solved (or by hand:
   ``{"ticket_id": "5001"}``). Waits ``delay_hours`` after ``solved_at``.
2. Looks the ticket up again: a ticket reopened meanwhile gets no survey. The requester
   (Zendesk user) is matched to a CRM contact by address, so the contact's opt-out, time
   zone and language apply; the customer is the ticket organisation's external id.
3. E-mails the requester ``csat_survey`` with five signed one-click links (1-5), valid
   ``answer_window_days``. Never in the requester's quiet hours.
4. Signal ``csat_answered`` (the link endpoint sends it): the first answer counts. The
   score goes on the Zendesk ticket (tags ``cshub_csat``, ``csat_score_N`` and an
   internal note) and on the CRM company (``cshub_csat_last_score`` …) with a note; a
   score of 1-2 (``low_score_max``) alerts the CSM in Slack and creates a follow-up task.
   Last, the customer's support figures (``cshub_csat_percent`` …) are recounted onto the
   CRM company once Zendesk's search index has the new tags (5 minutes later, a durable
   timer: ``workflows.support_health``; a failure there is only logged). The status is
   ``answered`` at once; the workflow then ends ``answered`` after that refresh. With no
   answer in time it ends ``expired``.
5. Signal ``cancel`` stops it (``skipped`` before the e-mail went, ``expired`` after);
   it takes ``{"reason": ...}``, ``{}`` or no input. Signals ``pause`` / ``resume`` /
   ``skip`` (``workflows.steering``): paused, the survey e-mail (and an answer's CRM,
   Zendesk and Slack actions) wait for ``resume``; ``skip`` (``{}`` before the e-mail:
   the e-mail) ends it ``skipped``.

Queries: ``status`` (``CsatStatus``, also the result: read by ``cshub report support``)
and ``progress`` (``CsatProgress``: the same with the reason, every action and
``steering``).
Workflow id ``csat-{ticket_id}``; idempotency keys ``{workflow id}/{start}/{step}``.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.models import EmailRecipient, MessageContext
    from activities.surveys import CsatTicketRecord, SurveyActivities
    from domain.campaigns import iso_date
    from domain.journeys import ActionRecord
    from domain.send_window import out_of_quiet_hours
    from domain.support_records import CsatStatus
    from domain.survey_plan import SurveysPlan
    from domain.surveys import (
        CancelSurvey,
        CsatAnswered,
        CsatInput,
        CsatProgress,
        CsatRecipient,
        CsatRecipientRequest,
        csat_label,
        csat_workflow_id,
        survey_id,
    )
    from workflows.campaign import (
        InboxSignals,
        SurveyCancel,
        inbox_signal,
        journey_key,
        load_plan,
    )
    from workflows.common import (
        LOOKUP_RETRY,
        CustomerActions,
        customer_profile,
        set_details,
        tag_customer,
    )
    from workflows.steering import Steering
    from workflows.support_health import refresh_support_health

__all__ = ["CsatSurveyWorkflow", "csat_workflow_id"]

REOPENED_STATUSES = ("new", "open", "pending", "hold")
EMAIL_STEP = "email:csat"


@workflow.defn(name="CsatSurveyWorkflow")
class CsatSurveyWorkflow(SurveyCancel, InboxSignals):
    """``cancel`` (``{"reason": "ticket reopened"}``, ``{}``): no survey, or no more
    answers."""

    # Its own signal (also an update of the same name, validated and answered).
    csat_answered = inbox_signal(
        "csat_answered",
        CsatAnswered,
        '{"score": 4} (1-5); the link endpoint adds the survey and event ids',
    )

    @workflow.init
    def __init__(self, inp: CsatInput) -> None:
        self._input = inp
        self._status = CsatStatus(ticket_id=inp.ticket_id, customer_id=inp.customer_id)
        self._inbox: list[CsatAnswered] = []
        self._cancel: CancelSurvey | None = None
        self._actions: list[ActionRecord] = []
        self._act: CustomerActions | None = None
        self._plan: SurveysPlan | None = None
        self._started_at: datetime | None = None
        self._due_at: datetime | None = None
        self._expires_at: datetime | None = None
        self._survey_id: str | None = None
        self._reason: str | None = None
        self._steer = Steering()

    def _next_step_key(self) -> str | None:
        return EMAIL_STEP if self._status.status == "waiting" else None

    # ------------------------------------------------------------------ queries
    @workflow.query(name="status")
    def status(self) -> CsatStatus:
        return self._status.model_copy(update={"steering": self._steer.status()})

    @workflow.query(name="progress")
    def progress(self) -> CsatProgress:
        s = self._status
        return CsatProgress(
            ticket_id=s.ticket_id,
            customer_id=s.customer_id,
            status=s.status,
            score=s.score,
            survey_due_at=self._due_at,
            sent_at=s.sent_at,
            expires_at=self._expires_at,
            answered_at=s.answered_at,
            reason=self._reason,
            actions=list(self._actions),
            steering=self._steer.status(),
        )

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: CsatInput) -> CsatStatus:
        now = workflow.now()
        self._started_at = now
        self._plan = plan = await load_plan(inp.playbook, SurveysPlan)
        solved = min(inp.solved_at, now) if inp.solved_at else now
        self._due_at = solved + timedelta(hours=plan.csat.delay_hours)
        self._record(
            "start",
            f"CSAT survey for ticket {inp.ticket_id}; due {self._due_at:%Y-%m-%d %H:%M} UTC",
        )
        self._details()
        if not await self._wait(self._due_at, waiting_for="the survey's send time"):
            return self._end("skipped", self._cancel_reason())
        recipient = await self._recipient()
        if isinstance(recipient, str):
            return self._end("skipped", recipient)
        if not await self._send(recipient):
            return self._status
        assert self._expires_at is not None
        await self._wait(self._expires_at, waiting_for="an answer", answers=True)
        if self._status.status == "answered":
            return self._status
        if self._cancel is not None:
            return self._end("expired", self._cancel_reason())
        return self._end("expired", "no answer before the links expired")

    # ------------------------------------------------------------------ steps
    async def _recipient(self) -> CsatRecipient | str:
        """The requester to ask, or why nobody can be asked."""
        inp = self._input
        try:
            found: CsatRecipient = await workflow.execute_activity_method(
                SurveyActivities.csat_recipient,
                CsatRecipientRequest(
                    ticket_id=inp.ticket_id,
                    customer_id=inp.customer_id,
                    requester_id=inp.requester_id,
                ),
                start_to_close_timeout=timedelta(minutes=1),
                schedule_to_close_timeout=timedelta(hours=6),
                retry_policy=LOOKUP_RETRY,
                summary="read the ticket and its requester (Zendesk, CRM)",
            )
        except ActivityError as err:
            return f"could not read the ticket: {_cause(err)}"
        if found.customer_id:
            self._status.customer_id = found.customer_id
        if found.ticket_status in REOPENED_STATUSES:
            return f"the ticket is {found.ticket_status} again: no survey for now"
        return found.skip_reason or found

    async def _send(self, recipient: CsatRecipient) -> bool:
        """E-mail the survey; False (and the workflow's end recorded) when it did not go."""
        plan = self._require_plan()
        assert recipient.customer_id is not None
        try:
            profile = await customer_profile(recipient.customer_id)
        except ActivityError as err:
            self._end("skipped", f"the CRM company could not be read: {_cause(err)}")
            return False
        tag_customer(profile)
        assert self._started_at is not None
        self._act = act = CustomerActions(
            recipient.customer_id,
            journey_key(self._started_at),
            self._actions,
            self._day,
            send_window=plan.send_window,
            timezone=profile.timezone,
            steering=self._steer,
        )
        if self._steer.paused:
            # Held by a pause: the links' expiry counts from when the e-mail goes.
            await workflow.wait_condition(lambda: not self._steer.paused or self._steer.cancelled)
        self._survey_id = survey_id(act.key(EMAIL_STEP))
        goes_at = out_of_quiet_hours(workflow.now(), profile.timezone, plan.send_window)
        self._expires_at = goes_at + timedelta(days=plan.csat.answer_window_days)
        ctx = MessageContext(
            day=0,
            extra={
                "ticket_id": self._input.ticket_id,
                "valid_days": plan.csat.answer_window_days,
                "csat_survey": {
                    "ticket_id": self._input.ticket_id,
                    "survey_id": self._survey_id,
                    "expires": int(self._expires_at.timestamp()),
                },
            },
        )
        outcome = await act.email(
            EMAIL_STEP,
            plan.csat.template,
            ctx,
            recipient=EmailRecipient(contact_id=recipient.contact_id, email=recipient.email),
        )
        if outcome == "suppressed":
            self._end("skipped", "the requester does not receive e-mail (unsubscribed)")
            return False
        if outcome == "failed":
            self._end("skipped", "the survey e-mail could not be sent")
            return False
        if outcome == "dropped":  # contact pressure: e.g. no survey early in onboarding
            why = next((a.summary for a in reversed(self._actions) if a.step == EMAIL_STEP), "")
            self._end("skipped", why or "held back by the contact-pressure policy")
            return False
        if outcome == "skipped":
            why = self._cancel_reason() if self._cancel is not None else self._skip_reason()
            self._end("skipped", why)
            return False
        self._status.status = "sent"
        self._status.sent_at = workflow.now()
        self._details()
        return True

    async def _wait(self, until: datetime, *, waiting_for: str, answers: bool = False) -> bool:
        """Until ``until``: True when it came, False when cancelled (or, with ``answers``,
        when an answer was recorded)."""
        while True:
            if answers:
                await self._drain_inbox()
                if self._status.status == "answered":
                    return False
            if self._cancel is not None:
                return False
            remaining = until - workflow.now()
            if remaining <= timedelta(0):
                return True
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._cancel is not None or (answers and bool(self._inbox)),
                    timeout=remaining,
                    timeout_summary=waiting_for,
                )

    async def _drain_inbox(self) -> None:
        while self._inbox:
            msg = self._inbox.pop(0)
            if self._status.status == "answered":
                self._record(
                    "answer:again",
                    f"another answer ({msg.score}/5) ignored: already answered",
                    outcome="skipped",
                )
                continue
            if msg.survey_id is not None and msg.survey_id != self._survey_id:
                self._record(
                    "answer:other",
                    f"answer for another survey ({msg.survey_id}) ignored",
                    outcome="skipped",
                )
                continue
            await self._on_answer(msg)

    async def _on_answer(self, msg: CsatAnswered) -> None:
        plan = self._require_plan()
        act = self._require_act()
        now = workflow.now()
        ticket = self._input.ticket_id
        label = csat_label(msg.score)
        self._status.status = "answered"
        self._status.score = msg.score
        self._status.answered_at = now
        self._record("answer", f"answered {msg.score}/5 ({label})")
        self._details()
        await act.run(
            "answer:ticket",
            "zendesk",
            None,
            SurveyActivities.record_csat_on_ticket,
            CsatTicketRecord(
                ticket_id=ticket, score=msg.score, answered_at=now, survey_id=self._survey_id
            ),
            f"Zendesk ticket {ticket}: CSAT {msg.score}/5",
        )
        await act.update_company(
            "answer:company",
            {
                "cshub_csat_last_score": str(msg.score),
                "cshub_csat_last_ticket": ticket,
                "cshub_csat_answered_at": iso_date(now),
            },
            kind="csat",
        )
        comment = f"\nComment: {msg.comment}" if msg.comment else ""
        await act.note(
            "answer:note",
            f"CSAT {msg.score}/5 ({label}) from the requester of Zendesk ticket #{ticket}.{comment}",
            kind="csat",
        )
        if msg.score <= plan.csat.low_score_max:
            ctx = MessageContext(
                day=self._day(now),
                extra={"ticket_id": ticket, "score": msg.score, "label": label},
            )
            await act.alert("answer:alert", plan.csat.alert_template, ctx)
            follow_up = plan.csat.follow_up
            await act.task(
                "answer:task",
                f"{follow_up.subject}: ticket #{ticket} ({msg.score}/5)",
                f"{follow_up.body}\n\nZendesk ticket #{ticket}, rated {msg.score}/5 ({label}) "
                f"on {now:%Y-%m-%d %H:%M} UTC.",
                due_at=now + timedelta(hours=follow_up.due_in_hours),
                priority=follow_up.priority,
                kind="csat_follow_up",
            )
        # Last: the alert and the task must not wait for it (the search index's lag, then
        # up to its timeout). Another answer meanwhile is recorded as ignored afterwards.
        await refresh_support_health(self._status.customer_id, "CSAT answered")
        self._details()

    # ------------------------------------------------------------------ helpers
    def _end(self, status: str, reason: str) -> CsatStatus:
        self._status.status = status
        self._reason = reason
        self._record(
            "end",
            f"CSAT survey {status}: {reason}",
            outcome="skipped" if status == "skipped" else "done",
        )
        self._details()
        return self._status

    def _skip_reason(self) -> str:
        last = self._steer.state.skipped[-1:] if self._steer.state.skipped else []
        why = last[0].reason if last and last[0].reason else None
        return f"survey e-mail skipped{f': {why}' if why else ''}"

    def _cancel_reason(self) -> str:
        why = self._cancel.reason if self._cancel and self._cancel.reason else None
        return f"cancelled{f': {why}' if why else ''}"

    def _record(self, step: str, summary: str, outcome: str = "done") -> None:
        now = workflow.now()
        self._actions.append(
            ActionRecord(
                at=now,
                day=self._day(now),
                step=step,
                channel="journey",
                summary=summary,
                outcome=outcome,
            )
        )

    def _day(self, at: datetime) -> int:
        start = self._started_at or at
        return max(0, (at - start).days)

    def _require_plan(self) -> SurveysPlan:
        if self._plan is None:
            raise ApplicationError("the survey has not started yet", non_retryable=True)
        return self._plan

    def _require_act(self) -> CustomerActions:
        if self._act is None:
            raise ApplicationError("the survey e-mail has not gone yet", non_retryable=True)
        return self._act

    def _details(self) -> None:
        s = self._status
        s.steering = self._steer.status()  # also in the result
        lines = [f"**CSAT** · ticket {s.ticket_id} · {s.status}"]
        if s.score is not None:
            lines.append(f"Score: {s.score}/5 ({csat_label(s.score)})")
        elif s.status == "waiting" and self._due_at is not None:
            lines.append(f"Survey goes at {self._due_at:%Y-%m-%d %H:%M} UTC")
        elif s.status == "sent" and self._expires_at is not None:
            lines.append(f"Answers count until {self._expires_at:%Y-%m-%d %H:%M} UTC")
        if self._reason:
            lines.append(self._reason)
        set_details(lines, self._steer.detail_line())


def _cause(err: ActivityError) -> str:
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)
