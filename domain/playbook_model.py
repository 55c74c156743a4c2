"""What every playbook file's models share (``playbooks/*.yaml``, read by
``playbooks.loader``): an unknown key is refused, so a misspelt setting is an error that
names it instead of a default silently kept, and a loaded plan cannot be changed.

``CampaignPlaybook`` is the head every campaign playbook starts with (dunning, churn,
win-back, renewal): its name, its version and description, and the send window its
e-mails keep to."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.send_window import SendWindow


class PlaybookModel(BaseModel):
    """A playbook file, or a part of one: unknown keys refused, frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CampaignPlaybook(PlaybookModel):
    """A campaign's playbook: each sets ``name`` to its own default (``dunning`` …)."""

    name: str
    version: int = Field(default=1, ge=1)
    """Raise it on every change: the workflow records the version it ran."""
    description: str = ""
    send_window: SendWindow = Field(default_factory=SendWindow)
