"""CustomerTextWorkflow: one text a customer wrote (a survey comment), read once.

1. Started by the survey comment form (event ``survey.comment``; workflow id
   ``text-<hash of the event id>``, so a form sent twice lands on the same run) or by hand
   from the UI: ``{"source": "csat", "ticket_id": "5001", "text": "...", "event_id": "x"}``.
2. The activity classifies the text offline (language, sentiment, churn-intent signals),
   finds the customer and records the text on the company (``cshub_sentiment_recent``,
   read by the negative-sentiment detector; ``cshub_text_themes`` for the reports).
3. Negative text, or a churn-intent signal, from a paying customer (any tier but
   Community): one Slack alert to the CSM quoting it, with its sentiment and signals.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.errors import NON_RETRYABLE_TYPES
    from activities.messaging import MessagingActivities
    from activities.models import CsmAlertRequest, MessageContext
    from activities.risk import RiskActivities
    from domain.customer_text import SOURCE_LABELS, CustomerTextInput, TextReading
    from domain.search_attributes import CUSTOMER_ID
    from domain.text_signals import SIGNAL_LABELS
    from domain.tiers import Tier

ALERT_TEMPLATE = "customer_text_alert"
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)


@workflow.defn(name="CustomerTextWorkflow")
class CustomerTextWorkflow:
    @workflow.run
    async def run(self, inp: CustomerTextInput) -> TextReading:
        reading: TextReading = await workflow.execute_activity_method(
            RiskActivities.read_customer_text,
            inp,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RETRY,
            summary=f"read the {inp.source.value} comment",
        )
        v = reading.verdict
        cid = reading.customer_id
        if cid is not None:
            workflow.upsert_search_attributes([CUSTOMER_ID.value_set(cid)])
        alert = v.alarming and reading.paying and cid is not None
        if alert and cid is not None:
            wid = workflow.info().workflow_id
            tier = Tier(reading.tier) if reading.tier in {t.value for t in Tier} else None
            signals = [SIGNAL_LABELS[s] for s in v.signals]
            given = f"Answer given with it: {inp.score}." if inp.score is not None else None
            await workflow.execute_activity_method(
                MessagingActivities.alert_csm,
                CsmAlertRequest(
                    customer_id=cid,
                    template=ALERT_TEMPLATE,
                    idempotency_key=f"{wid}/alert",
                    context=MessageContext(
                        day=0,
                        tier=tier,
                        summary=v.text,
                        reason=given,
                        extra={
                            "source": inp.source.value,
                            "source_label": SOURCE_LABELS[inp.source]
                            + (f" (ticket #{inp.ticket_id})" if inp.ticket_id else ""),
                            "label": v.label.value,
                            "score": v.score,
                            "language": v.language.value,
                            "signals": signals,
                        },
                    ),
                    workflow_id=wid,
                ),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
                summary="quote it to the CSM",
            )
        workflow.set_current_details(
            f"{v.label.value} ({v.score:+.2f}, {v.language.value}); signals: "
            f"{', '.join(v.signals) or 'none'}; "
            + ("CSM alerted" if alert else "no alert (not alarming, or not a paying customer)")
        )
        return reading
