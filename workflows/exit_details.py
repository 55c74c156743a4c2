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

with workflow.unsafe.imports_passed_through():
    from activities.models import MessageContext
    from domain.customer_text import TextSource
    from domain.winback import WOULD_RETURN_ALERTS, ExitDetailsInput, ExitDetailsResult
    from workflows.survey_answers import CsmFollowUp, record_answers

ALERT_TEMPLATE = "exit_would_return"
WOULD_RETURN_LABELS = {
    "yes": "yes, definitely",
    "maybe": "maybe",
    "unlikely": "unlikely",
    "no": "no",
}


@workflow.defn(name="ExitDetailsWorkflow")
class ExitDetailsWorkflow:
    @workflow.run
    async def run(self, inp: ExitDetailsInput) -> ExitDetailsResult:
        answer = WOULD_RETURN_LABELS[inp.would_return.value]
        reason = inp.reason.value.replace("_", " ")
        props = {
            "cshub_exit_would_return": inp.would_return.value,
            "cshub_exit_details_answered": workflow.now().date().isoformat(),
        }
        if inp.comment:
            props["cshub_exit_better"] = inp.comment
        better = f"\nWhat we could have done better: {inp.comment}" if inp.comment else ""
        alert = inp.would_return in WOULD_RETURN_ALERTS
        follow_up = CsmFollowUp(
            template=ALERT_TEMPLATE,
            context=MessageContext(
                day=0,
                summary=inp.comment,
                reason=reason,
                extra={"would_return": inp.would_return.value, "answer": answer},
            ),
            task_subject=f"Win-back chance: would consider returning ({answer})",
            task_body=f"Left because: {reason}.{better}\n"
            "Call them about what it would take to come back.",
            due_in=timedelta(days=2),
        )
        await record_answers(
            inp.customer_id,
            props,
            f"Exit survey ({reason}): would consider returning if we addressed their "
            f"concerns: {answer}.{better}",
            comment=inp.comment,
            source=TextSource.EXIT,
            follow_up=follow_up if alert else None,
        )
        workflow.set_current_details(
            f"would return: {answer}; " + ("CSM alerted" if alert else "recorded, no alert")
        )
        return ExitDetailsResult(
            customer_id=inp.customer_id, would_return=inp.would_return, csm_alerted=alert
        )
