"""NpsSurveyWorkflow: one customer's quarterly NPS survey, for as long as it runs.

Playbook ``playbooks/surveys.yaml`` (``nps``), each quarter:
1. On the quarter's ``send_day`` at the send hour in the customer's zone (at once when
   started later in the quarter, unless ``ask_this_quarter`` is false), every contact of
   the CRM company with an address is e-mailed ``nps_survey`` with eleven signed
   one-click links (0-10), valid ``answer_window_days``. A contact is asked once a
   quarter: skipped when the workflow already asked them, or when the contact's
   ``cshub_nps_last_asked`` falls in the quarter (set after each e-mail), or when they
   unsubscribed. Never in the contact's quiet hours.
2. Signal ``nps_answered`` (the link endpoint sends it): the first answer per survey
   e-mail counts. The score goes on the contact (``cshub_nps_score``,
   ``cshub_nps_answered_at``, ``cshub_nps_category``) and on the company (last score,
   the quarter's company NPS over its contacts, ``cshub_nps_responses``) with a CRM note.
   A detractor (0-6) gets the CSM a 1:1 call task due within 24 hours and a Slack alert;
   a promoter (9-10) gets the ``nps_advocacy`` e-mail (referral, case study).
3. At the next quarter's send time the workflow continues as new, carrying its state
   (answers of the last ``quarters_kept`` quarters, surveys whose links still work).
4. Signal ``cancel`` ends the cycle (``{"reason": ...}``, ``{}`` or no input). Signals
   ``pause`` / ``resume`` / ``skip`` (``workflows.steering``): paused, nothing is sent
   (the quarter's survey e-mails and an answer's CRM updates, task, alert and advocacy
   e-mail wait for ``resume``; answers are still taken in); ``skip`` ``{}`` before the
   quarter's survey skips it for every contact (``{"step": "ask:2003"}``: one contact).

Queries: ``status`` (``NpsStatus``, read by ``cshub report support``) and ``progress``
(``NpsProgress``, with ``steering``). Workflow id ``nps-{customer_id}``; idempotency keys
``{workflow id}/{quarter}/{step}``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.models import EmailRecipient, MessageContext
    from activities.surveys import NPS_LAST_ASKED, ContactUpdateRequest, SurveyActivities
    from domain.campaigns import iso_date
    from domain.send_window import local_date, out_of_quiet_hours
    from domain.support_records import NpsAnswer, NpsStatus
    from domain.survey_plan import SurveysPlan
    from domain.surveys import (
        CancelSurvey,
        NpsAnswered,
        NpsCategory,
        NpsContactRef,
        NpsContactsRequest,
        NpsInput,
        NpsProgress,
        NpsState,
        NpsSurveySent,
        net_promoter_score,
        next_quarter,
        nps_category,
        nps_send_time,
        nps_workflow_id,
        quarter_at,
        quarter_first_day,
        quarter_of,
        survey_id,
    )
    from workflows.campaign import CampaignWorkflow, SurveyCancel, inbox_signal, load_plan
    from workflows.common import (
        LOOKUP_RETRY,
        MAX_ACTIONS_KEPT,
        customer_profile,
        tag_customer,
    )

__all__ = ["NpsSurveyWorkflow", "nps_workflow_id"]

MAX_ANSWERS_KEPT = 1000


@workflow.defn(name="NpsSurveyWorkflow")
class NpsSurveyWorkflow(SurveyCancel, CampaignWorkflow[NpsState, NpsInput]):
    """``cancel`` (``{"reason": "customer asked for no surveys"}``, ``{}``): the cycle ends."""

    # Its own signals (each also an update of the same name, validated and answered).
    nps_answered = inbox_signal(
        "nps_answered",
        NpsAnswered,
        '{"contact_id": "2003", "score": 9}; the link endpoint adds the survey id.',
    )

    NOT_STARTED = "the NPS cycle has not started yet"
    CAMPAIGN = "Quarterly NPS survey"
    STATE = NpsState
    HOLD_DUE_WHILE_PAUSED = False  # the survey e-mail's own gate holds it
    WAIT_SUMMARY = "next NPS survey"

    @workflow.init
    def __init__(self, inp: NpsInput) -> None:
        self._setup(inp)
        self._cancel: CancelSurvey | None = None

    def _next_step_key(self) -> str | None:
        st = self._state
        return "ask" if st is None or st.asked_at is None else None

    # ------------------------------------------------------------------ queries
    @workflow.query(name="status")
    def status(self) -> NpsStatus:
        """The part of :meth:`progress` that reports read."""
        p = self.progress()
        return NpsStatus(
            customer_id=p.customer_id,
            quarter=p.quarter,
            asked=p.asked,
            answers=p.answers,
            steering=p.steering,
        )

    @workflow.query(name="progress")
    def progress(self) -> NpsProgress:
        st = self._state
        if st is None:
            return NpsProgress(customer_id=self._input.customer_id)
        return NpsProgress(
            customer_id=self._input.customer_id,
            quarter=st.quarter,
            timezone=st.timezone,
            next_survey_at=None if st.cancelled else self._next_survey_at(),
            asked=list(st.asked),
            skipped=dict(st.skipped),
            open_surveys=sum(1 for s in st.surveys if not s.answered),
            answers=list(st.answers),
            company_nps=self._company_nps(st.quarter)[0],
            actions=list(st.actions),
            steering=self._steer.status(),
        )

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: NpsInput) -> NpsStatus:
        st = await self._started(inp)
        self._details()
        while True:
            if st.asked_at is None:
                if not await self._wait_until(self._send_time(st.quarter)):
                    return self._stop()
                await self._ask()
            if not await self._wait_until(self._send_time(next_quarter(st.quarter))):
                return self._stop()
            self._roll_quarter()
            await self._continue_as_new()  # returns only when cancelled meanwhile

    async def _begin(self, inp: NpsInput) -> NpsState:
        plan = await load_plan(inp.playbook, SurveysPlan)
        profile = await customer_profile(inp.customer_id)
        tag_customer(profile)
        now = workflow.now()
        quarter = quarter_at(now, profile.timezone)
        send = nps_send_time(quarter, plan.nps.send_day, profile.timezone, plan.send_window)
        if not inp.ask_this_quarter and send <= now:
            quarter = next_quarter(quarter)
        st = NpsState(
            plan=plan,
            started_at=now,
            timezone=profile.timezone,
            quarter=quarter,
            steering=self._steer.state,
        )
        self._state = st
        self._act.record("start", "journey", f"NPS cycle started; first survey in {quarter}")
        return st

    # ------------------------------------------------------------------ asking
    async def _ask(self) -> None:
        st = self._require_state()
        plan = st.plan
        try:
            contacts: list[NpsContactRef] = await workflow.execute_activity_method(
                SurveyActivities.nps_contacts,
                NpsContactsRequest(
                    customer_id=self._input.customer_id, limit=plan.nps.max_contacts
                ),
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=timedelta(days=1),
                retry_policy=LOOKUP_RETRY,
                summary="list the company's contacts (CRM)",
            )
        except ActivityError as err:
            cause = err.cause.message if isinstance(err.cause, ApplicationError) else str(err)
            st.asked_at = workflow.now()
            self._act.record(
                "ask", "journey", f"no survey in {st.quarter}: {cause}", outcome="failed"
            )
            return
        self._act.record("ask", "journey", f"{st.quarter} survey: {len(contacts)} contact(s)")
        for contact in contacts:
            await self._ask_one(contact)
        st.asked_at = workflow.now()
        if not contacts:
            self._act.record(
                "ask:none",
                "journey",
                "the company has no contact with an e-mail address",
                outcome="skipped",
            )
        self._details()

    async def _ask_one(self, contact: NpsContactRef) -> None:
        st = self._require_state()
        plan = st.plan
        cid = contact.contact_id
        why_not = None
        if cid in st.asked:
            why_not = "already asked this quarter"
        elif contact.last_asked is not None and quarter_of(contact.last_asked) == st.quarter:
            why_not = f"already asked this quarter (CRM: {contact.last_asked.isoformat()})"
        elif contact.email_opt_out:
            why_not = "unsubscribed from e-mail"
        if why_not is not None:
            st.skipped[cid] = why_not
            self._act.record(
                f"ask:{cid}", "journey", f"contact {cid} not asked: {why_not}", outcome="skipped"
            )
            return
        step = f"ask:{cid}"
        if self._steer.paused:
            # Held by a pause: the links' expiry counts from when the e-mail goes.
            await workflow.wait_condition(lambda: not self._steer.paused or self._steer.cancelled)
        survey = survey_id(self._act.key(step))
        goes_at = out_of_quiet_hours(workflow.now(), st.timezone, plan.send_window)
        expires = goes_at + timedelta(days=plan.nps.answer_window_days)
        ctx = MessageContext(
            day=self._day(workflow.now()),
            extra={
                "quarter": st.quarter,
                "valid_days": plan.nps.answer_window_days,
                "nps_survey": {
                    "contact_id": cid,
                    "quarter": st.quarter,
                    "survey_id": survey,
                    "expires": int(expires.timestamp()),
                },
            },
        )
        outcome = await self._act.email(
            step, plan.nps.template, ctx, recipient=EmailRecipient(contact_id=cid)
        )
        if outcome not in ("done", "already_done"):
            st.skipped[cid] = {
                "suppressed": "e-mail suppressed",
                "dropped": "not sent: contact pressure (see the action)",
                "skipped": "skipped on request" if not self._steer.cancelled else "cancelled",
            }.get(outcome, "e-mail failed")
            return
        now = workflow.now()
        st.asked.append(cid)
        st.surveys.append(
            NpsSurveySent(
                survey_id=survey,
                contact_id=cid,
                quarter=st.quarter,
                sent_at=now,
                expires_at=expires,
            )
        )
        asked_on = local_date(now, st.timezone).isoformat()
        await self._update_contact(step, cid, {NPS_LAST_ASKED: asked_on}, NPS_LAST_ASKED)

    # ------------------------------------------------------------------ answers
    async def _handle(self, msg: NpsAnswered) -> None:
        await self._on_answer(msg)

    def _cancelled(self) -> bool:
        return self._cancel is not None

    async def _on_answer(self, msg: NpsAnswered) -> None:
        st = self._require_state()
        plan = st.plan
        if self._seen(msg.event_id):
            return
        survey = self._survey_for(msg)
        if survey is None:
            self._act.record(
                f"answer:{msg.contact_id}:unknown",
                "journey",
                f"answer {msg.score}/10 from contact {msg.contact_id} ignored: no open survey",
                outcome="skipped",
            )
            return
        if survey.answered:
            self._act.record(
                f"answer:{survey.survey_id}:again",
                "journey",
                f"another answer ({msg.score}/10) from contact {msg.contact_id} ignored: "
                "already answered",
                outcome="skipped",
            )
            return
        now = workflow.now()
        survey.answered = True
        st.answers.append(
            NpsAnswer(
                contact_id=survey.contact_id,
                score=msg.score,
                answered_at=now,
                quarter=survey.quarter,
            )
        )
        self._prune_answers()
        category = nps_category(msg.score, plan.nps.detractor_max, plan.nps.promoter_min)
        company_nps, responses = self._company_nps(survey.quarter)
        step = f"answer:{survey.survey_id}"
        cid = survey.contact_id
        self._act.record(
            step, "journey", f"contact {cid} answered {msg.score}/10 ({category.value})"
        )
        self._details()
        answer = {
            "cshub_nps_score": str(msg.score),
            "cshub_nps_category": category.value,
            "cshub_nps_answered_at": iso_date(now),
        }
        await self._update_contact(step, cid, answer, f"NPS {msg.score}")
        await self._act.update_company(
            f"{step}:company",
            {
                "cshub_nps_last_score": str(msg.score),
                "cshub_nps_last_category": category.value,
                "cshub_nps_answered_at": iso_date(now),
                "cshub_nps_quarter": survey.quarter,
                "cshub_nps_score": _number(company_nps),
                "cshub_nps_responses": str(responses),
            },
            kind="nps",
        )
        comment = f"\nComment: {msg.comment}" if msg.comment else ""
        await self._act.note(
            f"{step}:note",
            f"NPS {msg.score}/10 ({category.value}) from contact {cid}, {survey.quarter}. "
            f"Company NPS for the quarter: {_number(company_nps)} over {responses} "
            f"answer(s).{comment}",
            kind="nps",
        )
        if category is NpsCategory.DETRACTOR:
            task = plan.nps.detractor_task
            await self._act.task(
                f"{step}:task",
                f"{task.subject} (score {msg.score})",
                f"{task.body}\n\nCRM contact {cid} answered {msg.score}/10 in the {survey.quarter} "
                f"NPS survey on {now:%Y-%m-%d %H:%M} UTC.",
                due_at=now + timedelta(hours=task.due_in_hours),
                priority=task.priority,
                kind="nps_detractor",
            )
            ctx = MessageContext(
                day=self._day(now),
                extra={
                    "score": msg.score,
                    "contact_id": cid,
                    "quarter": survey.quarter,
                    "company_nps": company_nps,
                    "responses": responses,
                },
            )
            await self._act.alert(f"{step}:alert", plan.nps.detractor_alert_template, ctx)
        elif category is NpsCategory.PROMOTER and plan.nps.promoter_template:
            ctx = MessageContext(
                day=self._day(now),
                extra={"score": msg.score, "quarter": survey.quarter, **plan.nps.promoter_params},
            )
            await self._act.email(
                f"{step}:advocacy",
                plan.nps.promoter_template,
                ctx,
                recipient=EmailRecipient(contact_id=cid),
            )
        self._details()

    async def _update_contact(
        self, step: str, cid: str, properties: dict[str, str], what: str
    ) -> None:
        """The CRM contact's NPS properties (step ``<step>:contact``)."""
        await self._act.run(
            f"{step}:contact",
            "crm_update",
            "nps",
            SurveyActivities.update_contact,
            ContactUpdateRequest(contact_id=cid, properties=properties),
            f"CRM contact {cid}: {what}",
        )

    def _survey_for(self, msg: NpsAnswered) -> NpsSurveySent | None:
        """The survey e-mail an answer is for: by survey id, else the contact's latest."""
        st = self._require_state()
        mine = [s for s in st.surveys if s.contact_id == msg.contact_id]
        if msg.survey_id is not None:
            return next((s for s in mine if s.survey_id == msg.survey_id), None)
        if msg.quarter is not None:
            mine = [s for s in mine if s.quarter == msg.quarter]
        return mine[-1] if mine else None

    # ------------------------------------------------------------------ waiting
    def _roll_quarter(self) -> None:
        """The next quarter starts: nobody asked yet; expired surveys are forgotten."""
        st = self._require_state()
        now = workflow.now()
        st.quarter = next_quarter(st.quarter)
        st.asked_at = None
        st.asked = []
        st.skipped = {}
        st.surveys = [s for s in st.surveys if s.expires_at > now]
        # A skip applied to last quarter's survey (``ask``) must not cover this one's.
        st.steering.skipped = []
        self._prune_answers()

    async def _continue_as_new(self) -> None:
        """Continue as new with the state, once every answer received is handled;
        returns (without continuing) only when the cycle was cancelled meanwhile."""
        while True:
            await self._drain_inbox()
            if self._cancel is not None:
                return
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._inbox:
                break
        st = self._require_state()
        if len(st.actions) > MAX_ACTIONS_KEPT // 2:
            del st.actions[: len(st.actions) - MAX_ACTIONS_KEPT // 2]
        await self._steer.alerts_sent()  # rejected-command alerts in flight
        workflow.continue_as_new(
            NpsInput(
                customer_id=self._input.customer_id,
                playbook=self._input.playbook,
                carry_over=st.model_dump(mode="json"),
            )
        )

    def _stop(self) -> NpsStatus:
        st = self._require_state()
        st.cancelled = True
        why = self._cancel.reason if self._cancel and self._cancel.reason else None
        self._act.record("end", "journey", f"NPS cycle cancelled{f': {why}' if why else ''}")
        self._details()
        return self.status()

    # ------------------------------------------------------------------ helpers
    def _journey_key(self, st: NpsState) -> str:
        return st.quarter  # one journey per quarter: its actions' keys name it

    def _day(self, at: datetime) -> int:
        """Day of the quarter (0 = its first day, local)."""
        st = self._require_state()
        return max(0, (local_date(at, st.timezone) - quarter_first_day(st.quarter)).days)

    def _send_time(self, quarter: str) -> datetime:
        st = self._require_state()
        return nps_send_time(quarter, st.plan.nps.send_day, st.timezone, st.plan.send_window)

    def _next_survey_at(self) -> datetime:
        st = self._require_state()
        return self._send_time(st.quarter if st.asked_at is None else next_quarter(st.quarter))

    def _company_nps(self, quarter: str) -> tuple[float | None, int]:
        """The quarter's NPS over the company's contacts (the latest answer of each)."""
        st = self._require_state()
        latest: dict[str, int] = {}
        for a in st.answers:
            if a.quarter == quarter:
                latest[a.contact_id] = a.score
        scores = list(latest.values())
        nps = st.plan.nps
        return net_promoter_score(scores, nps.detractor_max, nps.promoter_min), len(scores)

    def _prune_answers(self) -> None:
        """Answers of the last ``quarters_kept`` quarters, at most MAX_ANSWERS_KEPT."""
        st = self._require_state()
        oldest = st.quarter
        for _ in range(st.plan.nps.quarters_kept - 1):
            oldest = _previous_quarter(oldest)
        st.answers = [a for a in st.answers if a.quarter >= oldest][-MAX_ANSWERS_KEPT:]

    def _detail_lines(self, st: NpsState) -> list[str]:
        nps, responses = self._company_nps(st.quarter)
        return [
            f"**NPS** · {st.quarter} · {len(st.asked)} asked · {responses} answered"
            + (f" · NPS {_number(nps)}" if nps is not None else ""),
            "Cancelled"
            if st.cancelled
            else f"Next survey: {self._next_survey_at():%Y-%m-%d %H:%M} UTC",
        ]


def _previous_quarter(quarter: str) -> str:
    year, q = quarter.split("-Q")
    n = int(q) - 1
    return f"{year}-Q{n}" if n >= 1 else f"{int(year) - 1}-Q4"


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
