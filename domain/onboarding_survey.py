"""The onboarding survey (seed 001: "onboarding surveys sent at key milestones (7, 30,
90 days)"): its questions, the answers' model, and the CRM properties they go to.

The e-mail carries one signed link to the survey's page (``/survey/onboarding``), which
shows the three questions; the answers are recorded by ``OnboardingSurveyWorkflow``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.journeys import CUSTOMER_ID_PATTERN

ONBOARDING_SURVEY_PATH = "/survey/onboarding"
LINK_DAYS = 30
"""How long a survey link is accepted after its e-mail was sent."""
SCORES = tuple(range(0, 11))
LOW_SCORE = 6
"""A satisfaction of 6 or less (a detractor's answer on the 0-10 scale) alerts the CSM."""
COMMENT_MAX = 2000

# The CRM company properties the answers are written to (the latest answer, and each
# survey day's score for the reports).
SCORE = "cshub_onboarding_survey_score"
VALUE = "cshub_onboarding_survey_value"
DAY = "cshub_onboarding_survey_day"
ANSWERED = "cshub_onboarding_survey_answered"
COMMENT = "cshub_onboarding_survey_comment"


def day_score_property(day: int) -> str:
    return f"cshub_onboarding_survey_d{day}_score"


class ValueSoFar(StrEnum):
    """Question 2: are you getting the value you expected?"""

    YES = "yes"
    PARTLY = "partly"
    NOT_YET = "not_yet"


def onboarding_survey_key(customer_id: str, day: int) -> str:
    """The business key of one customer's survey of one day: ``1003-d30``."""
    return f"{customer_id}-d{day}"


def onboarding_survey_workflow_id(key: str) -> str:
    """From :func:`onboarding_survey_key`: ``onboarding-survey-1003-d30``."""
    return f"onboarding-survey-{key}"


class OnboardingSurveyAnswers(BaseModel):
    """One customer's answers to one onboarding survey.
    ``{"customer_id": "1003", "day": 30, "score": 8, "value": "partly",
    "comment": "More examples for our use case"}``"""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    day: int = Field(ge=1, le=730, description="The survey's onboarding day (7, 30, 90)")
    score: int = Field(ge=0, le=10, description="Q1: satisfaction with onboarding, 0-10")
    value: ValueSoFar = Field(description="Q2: getting the value you expected?")
    comment: str | None = Field(
        default=None, max_length=COMMENT_MAX, description="Q3: what would make it easier"
    )

    @property
    def alarming(self) -> bool:
        return self.score <= LOW_SCORE or self.value is ValueSoFar.NOT_YET


class OnboardingSurveyResult(BaseModel):
    customer_id: str
    day: int
    score: int
    csm_alerted: bool
