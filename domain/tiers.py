"""Plan tiers and the product events the hub understands."""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    COMMUNITY = "community"
    STARTER = "starter"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"
    AGENCY = "agency"  # seed 002: between Professional and Enterprise (premium support, 2 h)


class ProductEventType(StrEnum):
    """Product-usage events that drive onboarding nudges and milestones (seed 001)."""

    FIRST_LOGIN = "first_login"
    WORKFLOW_CREATED = "workflow_created"
    AI_REQUEST = "ai_request"
    SHARE = "share"
    USAGE_THRESHOLD = "usage_threshold"
