"""The custom search attributes the hub's workflows carry, so ops can find them in the
Temporal UI and CLI: ``HealthCategory = 'Critical' AND CsmOwner = 'dana@acme.example'``.

Search attributes are stored unencrypted by the server (the payload codec does not
touch them): only business identifiers go here, never a customer's contact details.
``CsmOwner`` is the CSM's work e-mail (the CRM owner), which the UI query needs.
"""

from __future__ import annotations

from enum import StrEnum

from temporalio.common import SearchAttributeKey

CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
COMPANY_NAME = SearchAttributeKey.for_keyword("CompanyName")
TIER = SearchAttributeKey.for_keyword("Tier")
CSM_OWNER = SearchAttributeKey.for_keyword("CsmOwner")
HEALTH_SCORE = SearchAttributeKey.for_float("HealthScore")
HEALTH_CATEGORY = SearchAttributeKey.for_keyword("HealthCategory")
CHURN_RISK = SearchAttributeKey.for_float("ChurnRisk")
"""The churn-risk model's estimate, percent (``ChurnRisk >= 60``), next to HealthScore."""
LIFECYCLE_STAGE = SearchAttributeKey.for_keyword("LifecycleStage")
RENEWAL_DATE = SearchAttributeKey.for_datetime("RenewalDate")
EXPERIMENT = SearchAttributeKey.for_keyword("Experiment")
"""The experiment a journey is in (``playbooks/experiments/<name>.yaml``)."""
VARIANT = SearchAttributeKey.for_keyword("Variant")
"""Its arm in that experiment (a hold-out arm's name too)."""

ALL_KEYS = (
    CUSTOMER_ID,
    COMPANY_NAME,
    TIER,
    CSM_OWNER,
    HEALTH_SCORE,
    HEALTH_CATEGORY,
    CHURN_RISK,
    LIFECYCLE_STAGE,
    RENEWAL_DATE,
    EXPERIMENT,
    VARIANT,
)
"""Every custom search attribute; ``cshub setup`` / ``cshub dev`` register them."""


class LifecycleStage(StrEnum):
    """Where the customer's journey is, as the workflow that tags it sees it."""

    ONBOARDING = "onboarding"
    ADOPTION = "adoption"  # onboarding done
    RENEWAL = "renewal"
    DUNNING = "dunning"
    AT_RISK = "at_risk"
    CHURNED = "churned"


CATEGORY_VALUES = {
    "healthy": "Healthy",
    "good": "Good",
    "at_risk": "At risk",
    "critical": "Critical",
    "unknown": "Unknown",
}
"""HealthCategory search-attribute values (the same words under every model, so one
query finds every Critical customer: seed 003 calls ``good`` "Neutral", not here)."""


def category_value(category: str | None) -> str | None:
    return CATEGORY_VALUES.get(category or "")
