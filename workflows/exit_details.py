"""ExitDetailsWorkflow: the exit survey's second page (seed 003's questions 2 and 3),
recorded once.

1. Started by the form under the exit survey's thank-you page (event
   ``survey.exit_details``; workflow id ``exit-details-<campaign>``, one per exit-survey
   e-mail, so a form sent twice lands on the same run) or by hand from the UI:
   ``{"customer_id": "1003", "campaign": "wb-1003-d60", "reason": "too_expensive",
   "would_return": "maybe", "comment": "Cheaper seats"}``.
2. The answers go on the CRM company (``cshub_exit_would_return``,
   ``cshub_exit_better``, ``cshub_exit_details_answered``) and in a note on its
   timeline; the text is read like any survey comment (sentiment and themes).
3. "Yes" or "maybe": the CSM is told in Slack (a win-back chance) and gets a CRM task to
   call within two days.

A separate short workflow, not a signal to the win-back campaign: the campaign may
have ended with the one-click answer (an answer that stops it), and the second page
must still be recorded.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.crm import CrmActivities
    from activities.errors import NON_RETRYABLE_TYPES
    from activities.messaging import MessagingActivities
    from activities.models import (
        CompanyUpdateRequest,
        CrmNoteRequest,
        CsmAlertRequest,
        CsmTaskRequest,
        MessageContext,
    )
    from activities.risk import RiskActivities
    from domain.customer_text import CustomerTextInput, TextSource
    from domain.lifecycle import WOULD_RETURN_ALERTS, ExitDetailsInput, ExitDetailsResult
    from domain.search_attributes import CUSTOMER_ID

ALERT_TEMPLATE = "exit_would_return"
WOULD_RETURN_LABELS = {
    "yes": "yes, definitely",
    "maybe": "maybe",
    "unlikely": "unlikely",
    "no": "no",
}
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
TIMEOUT = timedelta(minutes=1)


@workflow.defn(name="ExitDetailsWorkflow")
class ExitDetailsWorkflow:
    @workflow.run
    async def run(self, inp: ExitDetailsInput) -> ExitDetailsResult:
        wid = workflow.info().workflow_id
        now = workflow.now()
        workflow.upsert_search_attributes([CUSTOMER_ID.value_set(inp.customer_id)])
        answer = WOULD_RETURN_LABELS[inp.would_return.value]
        props = {
            "cshub_exit_would_return": inp.would_return.value,
            "cshub_exit_details_answered": now.date().isoformat(),
        }
        if inp.comment:
            props["cshub_exit_better"] = inp.comment
        await workflow.execute_activity_method(
            CrmActivities.update_company,
            CompanyUpdateRequest(customer_id=inp.customer_id, properties=props),
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
            summary="record the answers on the company",
        )
        better = f"\nWhat we could have done better: {inp.comment}" if inp.comment else ""
        await workflow.execute_activity_method(
            CrmActivities.add_crm_note,
            CrmNoteRequest(
                customer_id=inp.customer_id,
                body=f"Exit survey ({inp.reason.value.replace('_', ' ')}): would consider "
                f"returning if we addressed their concerns: {answer}.{better}",
                timestamp=now,
                idempotency_key=f"{wid}/note",
            ),
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
            summary="note on the company's timeline",
        )
        if inp.comment:
            # Read like every other survey comment (sentiment and themes on the company).
            await workflow.execute_activity_method(
                RiskActivities.read_customer_text,
                CustomerTextInput(
                    source=TextSource.EXIT,
                    text=inp.comment,
                    event_id=wid,
                    customer_id=inp.customer_id,
                ),
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
                summary="read what they wrote",
            )
        alert = inp.would_return in WOULD_RETURN_ALERTS
        if alert:
            context = MessageContext(
                day=0,
                summary=inp.comment,
                reason=inp.reason.value.replace("_", " "),
                extra={"would_return": inp.would_return.value, "answer": answer},
            )
            await workflow.execute_activity_method(
                MessagingActivities.alert_csm,
                CsmAlertRequest(
                    customer_id=inp.customer_id,
                    template=ALERT_TEMPLATE,
                    idempotency_key=f"{wid}/alert",
                    context=context,
                    workflow_id=wid,
                ),
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
                summary="tell the CSM: a win-back chance",
            )
            await workflow.execute_activity_method(
                CrmActivities.create_csm_task,
                CsmTaskRequest(
                    customer_id=inp.customer_id,
                    subject=f"Win-back chance: would consider returning ({answer})",
                    body=f"Left because: {inp.reason.value.replace('_', ' ')}.{better}\n"
                    "Call them about what it would take to come back.",
                    due_at=now + timedelta(days=2),
                    priority="HIGH",
                    idempotency_key=f"{wid}/task",
                ),
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
                summary="a call task for the CSM",
            )
        workflow.set_current_details(
            f"would return: {answer}; " + ("CSM alerted" if alert else "recorded, no alert")
        )
        return ExitDetailsResult(
            customer_id=inp.customer_id, would_return=inp.would_return, csm_alerted=alert
        )
