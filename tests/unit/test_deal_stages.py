"""Won deal stages: discovered from the pipelines, cached, refreshed, overridable."""

from __future__ import annotations

import pytest

from connectors.errors import RetryableConnectorError
from connectors.recording import RecordingCrm
from domain.deal_stages import DealStage, won_stage_ids
from webhooks.deal_stages import ClosedWonStages, StagesUnavailable


class Pipelines(RecordingCrm):
    def __init__(self) -> None:
        super().__init__()
        self.stages = [
            DealStage(pipeline_id="default", stage_id="closedwon", is_closed=True, probability=1.0),
            DealStage(pipeline_id="p2", stage_id="77", is_closed=True, probability=1.0),
            DealStage(pipeline_id="p2", stage_id="78", is_closed=True, probability=0.0),
            DealStage(pipeline_id="p2", stage_id="79", is_closed=False, probability=1.0),
        ]
        self.reads = 0
        self.down = False

    def list_deal_stages(self) -> list[DealStage]:
        self.reads += 1
        if self.down:
            raise RetryableConnectorError("hubspot", "list_deal_stages", "pipelines", "503")
        return list(self.stages)


def test_won_means_closed_with_probability_one() -> None:
    assert won_stage_ids(Pipelines().stages) == {"closedwon", "77"}


async def test_read_once_then_cached_until_the_ttl_or_an_unknown_stage() -> None:
    crm, now = Pipelines(), [0.0]
    stages = ClosedWonStages(crm, ttl_s=600, clock=lambda: now[0])
    assert await stages.won(["77"]) == {"closedwon", "77"}
    assert await stages.won(["78", "closedwon"]) == {"closedwon", "77"}
    assert crm.reads == 1
    crm.stages.append(DealStage(pipeline_id="p3", stage_id="90", is_closed=True, probability=1.0))
    assert "90" in await stages.won(["90"])  # never seen: read again at once
    assert await stages.won(["unheard-of"]) and await stages.won(["unheard-of"])
    assert crm.reads == 3  # one read for the unknown stage, not one per event
    now[0] = 601.0
    await stages.won()
    assert crm.reads == 4


async def test_a_failed_refresh_keeps_the_last_answer_and_no_answer_at_all_is_unavailable() -> None:
    crm, now = Pipelines(), [0.0]
    crm.down = True
    stages = ClosedWonStages(crm, clock=lambda: now[0])
    with pytest.raises(StagesUnavailable):
        await stages.won(["closedwon"])
    crm.down = False
    assert await stages.won(["closedwon"]) == {"closedwon", "77"}
    crm.down, now[0] = True, 10_000.0
    assert await stages.won(["closedwon"]) == {"closedwon", "77"}


async def test_the_override_is_used_as_given_and_the_crm_is_not_asked() -> None:
    crm = Pipelines()
    stages = ClosedWonStages(crm, frozenset({"signed"}))
    assert await stages.won(["77"]) == {"signed"}
    assert crm.reads == 0
