"""CustomerReplyWorkflow: a customer answered an automated e-mail (``domain.inbound_mail``).

Started by the ingress (``mail.customer_reply``: the mail provider's inbound parse, or the
reply HubSpot logged) on ``customer-reply-{key of the reply's Message-Id}``, so a
redelivered reply is the same execution. It

1. pauses the play whose e-mail was answered (signal ``pause`` to its workflow, e.g.
   ``winback-1007``): that customer's nudges wait until a CSM resumes the journey;
   a play that already ended is left alone and the CSM is told so;
2. records the reply on the company in the CRM (a note with the quote) and so on the
   customer's timeline;
3. tells the CSM in Slack with the quote (template ``customer_replied``).

Out-of-office and bounce answers never reach it (the ingress records them and stops).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.models import MessageContext
    from domain.inbound_mail import CustomerReplyInput, CustomerReplyResult
    from domain.journeys import ActionRecord
    from domain.steering import PauseRequest
    from workflows.common import CustomerActions, tag_customer

__all__ = ["CustomerReplyWorkflow"]


@workflow.defn(name="CustomerReplyWorkflow")
class CustomerReplyWorkflow:
    @workflow.run
    async def run(self, inp: CustomerReplyInput) -> CustomerReplyResult:
        tag_customer(None, customer_id=inp.customer_id)
        actions: list[ActionRecord] = []
        act = CustomerActions(inp.customer_id, "reply", actions, day_of=lambda _: 0)
        play = inp.play_workflow_id
        paused = False
        if play:
            try:
                await workflow.get_external_workflow_handle(play).signal(
                    "pause", PauseRequest(reason="the customer replied to an e-mail")
                )
                paused, detail = True, f"{play} paused"
            except Exception as err:  # closed or unknown: nothing to pause
                detail = f"{play} not paused ({err})"
                workflow.logger.info("reply of customer %s: %s", inp.customer_id, detail)
        else:
            detail = "no play named"
        what = inp.answered_template or "an e-mail"
        await act.note(
            "note",
            f"Customer replied to '{what}' ({inp.source}): \u201c{inp.quote}\u201d\n{detail}",
            kind="customer_reply",
        )
        await act.alert(
            "alert",
            "customer_replied",
            MessageContext(
                day=0,
                extra={
                    "quote": inp.quote,
                    "subject": inp.subject,
                    "answered_template": inp.answered_template,
                    "play_workflow_id": play,
                    "paused": paused,
                    "source": inp.source,
                    "sentiment": inp.sentiment,
                    "sentiment_score": inp.sentiment_score,
                    "signals": list(inp.signals),
                },
            ),
        )
        return CustomerReplyResult(
            paused=paused, detail=detail, actions=[f"{a.step}: {a.outcome}" for a in actions]
        )
