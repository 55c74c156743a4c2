"""Risk intelligence activities: read one text a customer wrote (classify it offline,
find the customer, record it on the company). A plain ``def`` activity: the CRM and
Zendesk SDKs block.

Idempotent: the text is recorded in ``cshub_sentiment_recent`` under its event id, so a
retry finds it there and changes nothing (the theme counts are added with it, once).
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from activities.errors import connector_errors
from connectors.base import Crm, Helpdesk
from domain.customer_text import (
    THEMES,
    CustomerTextInput,
    TextReading,
    add_themes,
    append_recent,
    recent_entry,
)
from domain.risk_detectors import SENTIMENT_RECENT
from domain.tiers import Tier
from runtime.text_classifier import default_classifier

TIER = "cshub_tier"


class RiskActivities:
    def __init__(self, crm: Crm, helpdesk: Helpdesk) -> None:
        self._crm = crm
        self._helpdesk = helpdesk

    @activity.defn(name="read_customer_text")
    def read_customer_text(self, req: CustomerTextInput) -> TextReading:
        """Classify ``req.text`` (language, sentiment, signals); the customer (given, or
        the ticket organisation's external id) and their tier; record the text on the
        company for the negative-sentiment detector and the reports' themes."""
        verdict = default_classifier().classify_one(req.text)
        customer_id = req.customer_id
        with connector_errors():
            if customer_id is None and req.ticket_id:
                customer_id = self._helpdesk.get_ticket(req.ticket_id).customer_id
            if customer_id is None:
                return TextReading(verdict=verdict)
            found = self._crm.batch_read_companies([customer_id], [SENTIMENT_RECENT, THEMES, TIER])
            if not found:
                return TextReading(verdict=verdict, customer_id=customer_id)
            company = found[0]
            tier = company.tier or company.properties.get(TIER)
            props = company.properties
            recent = append_recent(
                props.get(SENTIMENT_RECENT),
                recent_entry(verdict, datetime.now(UTC)),
                req.event_id,
            )
            if recent is not None:
                self._crm.update_company(
                    customer_id,
                    {SENTIMENT_RECENT: recent, THEMES: add_themes(props.get(THEMES), verdict)},
                )
        return TextReading(
            verdict=verdict,
            customer_id=customer_id,
            tier=tier,
            paying=bool(tier) and tier != Tier.COMMUNITY.value,
            recorded=recent is not None,
        )
