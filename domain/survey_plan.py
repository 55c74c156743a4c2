"""The survey playbook (``playbooks/surveys.yaml``): CSAT after each solved ticket, NPS
every quarter (seeds 001-003: "CSAT after each ticket", "NPS quarterly", "detractor
follow-up"; promoters are asked for referrals and case studies, seed 002's advocacy).

``CsatSurveyWorkflow`` and ``NpsSurveyWorkflow`` load it once at start and keep it, so an
edit changes new surveys, not running ones.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.send_window import SendWindow


class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FollowUpTask(_Plan):
    """A CRM task for the company's CSM."""

    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1)
    priority: Literal["LOW", "MEDIUM", "HIGH"] = "HIGH"
    due_in_hours: int = Field(default=24, ge=1, le=24 * 30)


class CsatPlan(_Plan):
    delay_hours: float = Field(
        default=24, ge=0, le=24 * 14, description="How long after the ticket was solved"
    )
    template: str = "csat_survey"
    answer_window_days: int = Field(
        default=30, ge=1, le=90, description="Links stay valid (and answers count) this long"
    )
    low_score_max: int = Field(
        default=2, ge=1, le=4, description="Scores up to this one alert the CSM"
    )
    alert_template: str = "csat_low_score"
    follow_up: FollowUpTask = FollowUpTask(
        subject="Follow up on a low CSAT score",
        body="The customer rated a solved ticket poorly. Read the ticket, call or write to "
        "the requester, and log what went wrong and what was agreed.",
    )


class NpsPlan(_Plan):
    send_day: int = Field(
        default=15,
        ge=1,
        le=60,
        description="Day of the quarter the survey goes out (1 = first day of its first "
        "month), at the send hour in the customer's time zone",
    )
    template: str = "nps_survey"
    answer_window_days: int = Field(default=30, ge=1, le=85)
    max_contacts: int = Field(
        default=50, ge=1, le=500, description="Contacts asked per customer and quarter"
    )
    detractor_max: int = Field(default=6, ge=0, le=9)
    promoter_min: int = Field(default=9, ge=1, le=10)
    detractor_alert_template: str = "nps_detractor"
    detractor_task: FollowUpTask = FollowUpTask(
        subject="Book a 1:1 call: NPS detractor",
        body="A contact scored us as a detractor. Call them within 24 hours: listen, find "
        "the cause, agree on next steps, and log the call here.",
    )
    promoter_template: str | None = Field(
        default="nps_advocacy", description="E-mail to promoters; none to send nothing"
    )
    promoter_params: dict[str, str | int | float] = Field(
        default_factory=dict, description="Values for that e-mail (``extra.<name>``)"
    )
    quarters_kept: int = Field(
        default=8, ge=1, le=40, description="Quarters of answers kept in the workflow"
    )

    @model_validator(mode="after")
    def _bands(self) -> NpsPlan:
        if self.detractor_max >= self.promoter_min:
            raise ValueError(
                f"detractor_max ({self.detractor_max}) must be below promoter_min "
                f"({self.promoter_min})"
            )
        return self


class SurveysPlan(_Plan):
    name: str = "surveys"
    version: int = Field(default=1, ge=1)
    description: str = ""
    send_window: SendWindow = Field(default_factory=SendWindow)
    csat: CsatPlan = CsatPlan()
    nps: NpsPlan = NpsPlan()

    def templates_used(self) -> dict[str, set[str]]:
        emails = {self.csat.template, self.nps.template}
        if self.nps.promoter_template:
            emails.add(self.nps.promoter_template)
        return {
            "email": emails,
            "slack": {self.csat.alert_template, self.nps.detractor_alert_template},
        }
