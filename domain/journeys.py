"""What every customer journey shares: the form of a customer id (the CRM company id),
the base of every input and signal, the record of an action a journey took, and the next action it will take (both shown in
every workflow's progress answer and result).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

CarryOver = Annotated[
    dict[str, object] | None,
    Field(description="Internal: state carried across continue-as-new"),
]
"""A workflow input's ``carry_over``: what a run hands to its continuation."""


class Message(BaseModel):
    """A workflow input or signal: unknown fields are refused, so a sender's typo is seen
    (new fields always get defaults, so running workflows keep decoding old payloads)."""

    model_config = ConfigDict(extra="forbid")


class ActionRecord(BaseModel):
    """One thing the journey did (or tried to do), as shown in progress and summaries."""

    at: datetime
    day: int
    step: str
    channel: str
    template: str | None = None
    summary: str
    outcome: str = "done"  # done | already_done | skipped | failed


class NextAction(BaseModel):
    step: str
    summary: str
    due_at: datetime
