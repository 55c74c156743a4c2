"""LogCallWorkflow: a call a CSM logged from a Slack alert (the *Log call* modal).

Started by ``POST /slack/interactivity`` on the modal's ``view_submission``
(``log-call-{view id}``: Slack's retry of the same submission is the same execution). It

1. records the call on the company in the CRM (a note: who, the outcome, what was said;
   idempotency key from the workflow id), so it is on the customer's timeline;
2. signals ``call_logged`` to the workflow that raised the alert: the alert counts as
   acted on (no escalation) and the call is in its steering events. A workflow that has
   ended is left alone (the note is about the customer, not the journey).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.slack_actions import CallLogged, LoggedCall, call_note_body
    from workflows.common import CustomerActions, tag_customer


@workflow.defn(name="LogCallWorkflow")
class LogCallWorkflow:
    """The note, then the signal (see the module's docstring)."""

    @workflow.run
    async def run(self, call: LoggedCall) -> str:
        ctx = call.context
        tag_customer(None, customer_id=ctx.c)
        act = CustomerActions(ctx.c, "call", [], day_of=lambda _: 0)
        noted = await act.note("note", call_note_body(call), kind="call_logged")
        try:
            await workflow.get_external_workflow_handle(ctx.w).signal(
                "call_logged",
                CallLogged(ts=ctx.ts, by=call.who, outcome=call.outcome, note=call.note),
            )
            told = f"{ctx.w} told"
        except Exception as err:  # ended or unknown: the note stands on its own
            told = f"{ctx.w} not told ({err})"
        return f"CRM note: {noted}; {told}"
