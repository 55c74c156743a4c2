"""ResumeLaterWorkflow: the end of a snooze set from Slack (``webhooks/slack_interactivity.py``).

The Slack button *Snooze N days* pauses the journey and starts this workflow
(``resume-later-{workflow id}``; a new snooze replaces the running one, a *Resume* click
ends it): it waits ``days`` (a durable timer), then sends the journey
``resume``. A journey that ended meanwhile is left alone.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.snooze import ResumeLaterInput

__all__ = ["ResumeLaterWorkflow"]


@workflow.defn(name="ResumeLaterWorkflow")
class ResumeLaterWorkflow:
    @workflow.run
    async def run(self, inp: ResumeLaterInput) -> str:
        await workflow.sleep(timedelta(days=inp.days))
        try:
            await workflow.get_external_workflow_handle(inp.workflow_id).signal("resume", {})
        except Exception as err:  # ended or unknown: nothing to resume
            return f"{inp.workflow_id} not resumed ({err})"
        return f"{inp.workflow_id} resumed after the snooze set by {inp.by or 'a CSM'}"
