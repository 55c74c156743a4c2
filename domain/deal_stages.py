"""Deal pipelines and which of their stages mean "won" (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

DEFAULT_WON_STAGE = "closedwon"
"""HubSpot's default sales pipeline's won stage: assumed only when no pipeline is known."""


class DealStage(BaseModel):
    """One stage of one deal pipeline, as the CRM describes it."""

    pipeline_id: str
    pipeline_label: str = ""
    stage_id: str
    label: str = ""
    is_closed: bool = False
    probability: float | None = None
    """0.0 .. 1.0 (HubSpot's stage metadata ``probability``)."""


def won_stage_ids(stages: Iterable[DealStage]) -> frozenset[str]:
    """Every stage that closes a deal as won: closed with a probability of 1.0 (HubSpot's
    own rule for its ``closedwon`` stage and for the won stages of custom pipelines)."""
    return frozenset(
        s.stage_id
        for s in stages
        if s.is_closed and s.probability is not None and s.probability >= 1.0
    )
