"""Seed 001's onboarding surveys on the time-skipping server: the journey e-mails the
survey on days 7, 30 and 90, each with one signed link to the survey's page (the customer,
the day and the expiry time signed), in the contact's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from domain.survey_links import LinkCheck, verify_onboarding_survey_link
from domain.tiers import Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.workflows.test_onboarding_journeys import start

SECRET = "test-survey-secret"


async def test_the_journey_sends_a_signed_survey_link_on_days_7_30_and_90(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    settings = hub_settings.model_copy(update={"survey_link_secret": SecretStr(SECRET)})
    async with running_worker(time_skipping_env, settings) as worker:
        handle = await start(time_skipping_env, worker.task_queue, "1010", Tier.PROFESSIONAL)
        await handle.result()
    box = await outbox(clean_sandbox)
    surveys = [e for e in box["emails"] if e["template"] == "onboarding_survey"]
    assert [int(e["headers"]["X-Cshub-Journey-Day"]) for e in surveys] == [7, 30, 90]
    for mail, day in zip(surveys, (7, 30, 90), strict=True):
        assert "¿Qué tal va la incorporación?" in mail["text"]  # Lucía reads Spanish
        (url,) = re.findall(r"https?://\S+/survey/onboarding\?\S+", mail["text"])
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        assert (query["customer"], query["day"]) == ("1010", str(day))
        exp = int(query["exp"])
        before_expiry = datetime.fromtimestamp(exp - 86_400, UTC)  # the 30 days: skipped time
        assert (
            verify_onboarding_survey_link(SECRET, "1010", day, exp, query["sig"], before_expiry)
            is LinkCheck.VALID
        )
        assert (
            verify_onboarding_survey_link(SECRET, "1003", day, exp, query["sig"], before_expiry)
            is LinkCheck.INVALID
        )


def test_the_survey_email_is_in_the_preference_centres_surveys_category() -> None:
    from domain.preferences import Category, category_of

    assert category_of("onboarding_survey") is Category.SURVEYS  # a contact can opt out
