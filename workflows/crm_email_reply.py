"""CrmEmailReplyWorkflow: an e-mail HubSpot logged on a contact's timeline.

Started by the ingress on HubSpot's generic webhook ``object.creation`` of object type
``0-49`` (``hubspot.email.creation``; ``crm-email-{email id}``, so a redelivery is the same
execution). The webhook carries no content, so the activity ``read_crm_email_reply``
reads the e-mail from the CRM (``activities/crm_email.py``). A contact's reply after a
hub e-mail is then treated like an inbound-parse reply: ``CustomerReplyWorkflow`` (as a
child, ``customer-reply-{key of "hubspot-email:{id}"}``) pauses that play's nudges,
notes the quote on the company (the timeline) and tells the CSM with the quote and its
sentiment. Out-of-office answers and bounces, e-mails the team sent, and replies with
no hub e-mail before them are recorded in the result and pause nothing.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.crm_email import CrmEmailActivities
    from domain.inbound_mail import (
        CrmEmailEvent,
        CustomerReplyResult,
        customer_reply_workflow_id,
        reply_key,
    )
    from workflows.common import LOOKUP_RETRY, tag_customer


@workflow.defn(name="CrmEmailReplyWorkflow")
class CrmEmailReplyWorkflow:
    """Read the logged e-mail, then hand a person's reply on (see the module)."""

    @workflow.run
    async def run(self, event: CrmEmailEvent) -> str:
        found = await workflow.execute_activity_method(
            CrmEmailActivities.read_crm_email_reply,
            event,
            start_to_close_timeout=timedelta(minutes=1),
            schedule_to_close_timeout=timedelta(hours=6),
            retry_policy=LOOKUP_RETRY,
            summary="read the logged e-mail from the CRM",
        )
        if found.customer_id:
            tag_customer(None, customer_id=found.customer_id)
        if found.reply is None:
            return f"{found.kind}: {found.detail}"
        result = await workflow.execute_child_workflow(
            "CustomerReplyWorkflow",
            found.reply,
            id=customer_reply_workflow_id(reply_key(f"hubspot-email:{event.email_id}")),
            result_type=CustomerReplyResult,
        )
        return f"{found.detail}; {result.detail}"
