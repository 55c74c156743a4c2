"""What every customer journey shares: the form of a customer id (the CRM company id),
the record of an action a journey took, and the next action it will take (both shown in
every workflow's progress answer and result).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


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
