"""OnboardingSurveyWorkflow: one customer's answers to one onboarding survey (seed 001:
day 7, 30 and 90), recorded once.

1. Started by the survey's page (event ``survey.onboarding_answer``; workflow id
   ``onboarding-survey-<customer>-d<day>``, so answers sent twice land on the same run)
   or by hand from the UI: ``{"customer_id": "1003", "day": 30, "score": 8, "value":
   "partly", "comment": "More examples for our use case"}``.
2. The answers go on the CRM company (``cshub_onboarding_survey_score``, ``_value``,
   ``_day``, ``_answered``, ``_comment`` for the latest survey, and
   ``cshub_onboarding_survey_d<day>_score`` per survey, read by the reports) and in a
   note on its timeline; a comment is read like any survey comment.
3. A satisfaction of 6 or less, or "not yet" getting the value expected: the CSM is told
   in Slack and gets a CRM task to call within a day.

Its own short workflow rather than a signal to the journey: the day-90 survey is
answered after the journey has ended.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.models import MessageContext
    from domain import onboarding_survey as survey
    from domain.customer_text import TextSource
    from workflows.survey_answers import CsmFollowUp, record_answers

ALERT_TEMPLATE = "onboarding_survey_low"
VALUE_LABELS = {"yes": "yes", "partly": "partly", "not_yet": "not yet"}


@workflow.defn(name="OnboardingSurveyWorkflow")
class OnboardingSurveyWorkflow:
    @workflow.run
    async def run(self, inp: survey.OnboardingSurveyAnswers) -> survey.OnboardingSurveyResult:
        value = VALUE_LABELS[inp.value.value]
        props = {
            survey.SCORE: str(inp.score),
            survey.VALUE: inp.value.value,
            survey.DAY: str(inp.day),
            survey.ANSWERED: workflow.now().date().isoformat(),
            survey.COMMENT: inp.comment or "",
            survey.day_score_property(inp.day): str(inp.score),
        }
        said = f"\nWhat would make it easier: {inp.comment}" if inp.comment else ""
        note = (
            f"Onboarding survey (day {inp.day}): satisfaction {inp.score}/10; getting the "
            f"value expected: {value}.{said}"
        )
        alert = inp.alarming
        follow_up = CsmFollowUp(
            template=ALERT_TEMPLATE,
            context=MessageContext(
                day=inp.day, summary=inp.comment, extra={"score": inp.score, "value": value}
            ),
            task_subject=f"Onboarding survey day {inp.day}: {inp.score}/10, value: {value}",
            task_body=note + "\nCall them to find what is in the way.",
            due_in=timedelta(days=1),
        )
        await record_answers(
            inp.customer_id,
            props,
            note,
            comment=inp.comment,
            source=TextSource.ONBOARDING,
            score=inp.score,
            follow_up=follow_up if alert else None,
        )
        workflow.set_current_details(
            f"day {inp.day}: {inp.score}/10, value {value}; "
            + ("CSM alerted" if alert else "recorded, no alert")
        )
        return survey.OnboardingSurveyResult(
            customer_id=inp.customer_id, day=inp.day, score=inp.score, csm_alerted=alert
        )
