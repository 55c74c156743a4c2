"""The CRM company properties the health sweep writes (its output), in one place.

Inputs are listed in :data:`domain.health_model.INPUTS`; these are what the sweep
records after scoring, and what ``cshub health explain`` / ``cshub report health`` and
the weekly digest read back. Values are strings, as CRM properties are.
"""

from __future__ import annotations

SCORE = "cshub_health_score"
"""0-100 with 2 decimals; blank when nothing is known (category ``unknown``)."""
CATEGORY = "cshub_health_category"
"""Machine key: healthy / good / at_risk / critical / unknown."""
CATEGORY_LABEL = "cshub_health_category_label"
"""The model's own label (seed 003 calls ``good`` "Neutral")."""
MODEL = "cshub_health_model"
"""``<name> v<version>``, e.g. ``seed001 v1``: which model produced the score."""
LOW_CONFIDENCE = "cshub_health_low_confidence"
"""``true`` when a dimension had no data and the weights were renormalised."""
BREAKDOWN = "cshub_health_breakdown"
"""Compact JSON ``{"dimension": score or null, ...}`` in model order."""
PREVIOUS_SCORE = "cshub_health_previous_score"
PREVIOUS_CATEGORY = "cshub_health_previous_category"
PREVIOUS_BREAKDOWN = "cshub_health_previous_breakdown"
PREVIOUS_MODEL = "cshub_health_previous_model"
DELTA = "cshub_health_delta"
"""score - previous score, 2 decimals, signed (``-3.5``); blank when either is unknown."""
SCORED_AT = "cshub_health_scored_at"
"""ISO 8601 UTC time of the sweep that wrote the score (the same for every company of
one sweep; a retried page recognises its own writes by it)."""
ACCOUNT_EXECUTIVE = "cshub_account_executive_id"
"""CRM owner id of the account executive (alerted with the CSM; gets upgrade tasks)."""

ALERTS_SNOOZED_UNTIL = "cshub_health_alerts_snoozed_until"
"""ISO 8601 UTC time until which the health sweep sends no health-decline alert (nor its
check-in task) for the company: set by a *Snooze N days* click on such an alert
(``webhooks/slack_interactivity.py``). Scores are still written."""

COOLDOWN_PREFIX = "cshub_health_last_"
"""``cshub_health_last_<trigger>``: ISO time the trigger last fired for the company."""


def cooldown_property(trigger: str) -> str:
    return f"{COOLDOWN_PREFIX}{trigger}"


SEEN_PREFIX = "cshub_health_seen_"
"""``cshub_health_seen_<band>``: ISO time of the last sweep that found the company in
that band (healthy, good, at_risk, critical). Band triggers fire once per visit to a
band; seeing the company in another band arms them again."""

BANDS: tuple[str, ...] = ("healthy", "good", "at_risk", "critical")


def seen_property(band: str) -> str:
    return f"{SEEN_PREFIX}{band}"


OUTPUT_PROPERTIES: tuple[str, ...] = (
    SCORE,
    CATEGORY,
    CATEGORY_LABEL,
    MODEL,
    LOW_CONFIDENCE,
    BREAKDOWN,
    PREVIOUS_SCORE,
    PREVIOUS_CATEGORY,
    PREVIOUS_BREAKDOWN,
    PREVIOUS_MODEL,
    DELTA,
    SCORED_AT,
)
"""Every property a sweep writes on every company it scores (cooldowns aside)."""
