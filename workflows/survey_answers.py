"""What the short survey-answer workflows (``ExitDetailsWorkflow``,
``OnboardingSurveyWorkflow``) do with a customer's answers, in one place: write them on
the CRM company, note them on its timeline, read a comment like any survey comment and,
when the answers call for it, tell the CSM in Slack and give them a CRM task.

Deterministic (called from workflow code); every side effect's idempotency key is the
workflow id plus the step.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    from domain.search_attributes import CUSTOMER_ID

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
TIMEOUT = timedelta(minutes=1)


@dataclass(frozen=True)
class CsmFollowUp:
    """The Slack alert and the CRM task for answers that call for the CSM."""

    template: str
    context: MessageContext
    task_subject: str
    task_body: str
    due_in: timedelta


async def record_answers(
    customer_id: str,
    properties: dict[str, str],
    note: str,
    *,
    comment: str | None,
    source: TextSource,
    score: int | None = None,
    follow_up: CsmFollowUp | None = None,
) -> None:
    wid = workflow.info().workflow_id
    now = workflow.now()
    workflow.upsert_search_attributes([CUSTOMER_ID.value_set(customer_id)])
    await workflow.execute_activity_method(
        CrmActivities.update_company,
        CompanyUpdateRequest(customer_id=customer_id, properties=properties),
        start_to_close_timeout=TIMEOUT,
        retry_policy=RETRY,
        summary="record the answers on the company",
    )
    await workflow.execute_activity_method(
        CrmActivities.add_crm_note,
        CrmNoteRequest(
            customer_id=customer_id, body=note, timestamp=now, idempotency_key=f"{wid}/note"
        ),
        start_to_close_timeout=TIMEOUT,
        retry_policy=RETRY,
        summary="note on the company's timeline",
    )
    if comment:
        # Read like every other survey comment (sentiment and themes on the company).
        await workflow.execute_activity_method(
            RiskActivities.read_customer_text,
            CustomerTextInput(
                source=source, text=comment, event_id=wid, customer_id=customer_id, score=score
            ),
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
            summary="read what they wrote",
        )
    if follow_up is None:
        return
    await workflow.execute_activity_method(
        MessagingActivities.alert_csm,
        CsmAlertRequest(
            customer_id=customer_id,
            template=follow_up.template,
            idempotency_key=f"{wid}/alert",
            context=follow_up.context,
            workflow_id=wid,
        ),
        start_to_close_timeout=TIMEOUT,
        retry_policy=RETRY,
        summary="tell the CSM",
    )
    await workflow.execute_activity_method(
        CrmActivities.create_csm_task,
        CsmTaskRequest(
            customer_id=customer_id,
            subject=follow_up.task_subject,
            body=follow_up.task_body,
            due_at=now + follow_up.due_in,
            priority="HIGH",
            idempotency_key=f"{wid}/task",
        ),
        start_to_close_timeout=TIMEOUT,
        retry_policy=RETRY,
        summary="a call task for the CSM",
    )
