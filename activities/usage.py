"""Product-usage snapshots onto the CRM company. A plain ``def`` activity: the HubSpot SDK
blocks, so it runs on the worker's thread pool."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import connector_errors
from connectors.base import Crm
from domain.usage import (
    USAGE_AS_OF,
    UsageRecordRequest,
    UsageRecordResult,
    is_older,
    iso_utc,
    snapshot_properties,
)


class UsageActivities:
    def __init__(self, crm: Crm) -> None:
        self._crm = crm

    @activity.defn(name="record_usage_snapshot")
    def record_usage_snapshot(self, req: UsageRecordRequest) -> UsageRecordResult:
        """Write the snapshot's figures and ``cshub_usage_as_of`` on the company, unless
        the company already holds a newer snapshot (then nothing is written). Writing the
        same snapshot twice is harmless (same values), so a retry is safe.

        ``cshub_usage_as_of`` is read with a batch read because ``get_company`` returns a
        fixed set of properties. The usage workflow runs one snapshot at a time per
        customer, so nothing writes in between the read and the write."""
        snapshot = req.snapshot
        as_of = iso_utc(snapshot.occurred_at)
        with connector_errors():
            found = self._crm.batch_read_companies([req.customer_id], [USAGE_AS_OF])
        if not found:
            raise ApplicationError(
                f"CRM company {req.customer_id} does not exist",
                type="NotFoundError",
                non_retryable=True,
            )
        recorded = found[0].properties.get(USAGE_AS_OF)
        if is_older(snapshot.occurred_at, recorded):
            return UsageRecordResult(
                applied=False,
                as_of=as_of,
                detail=f"older than the CRM's usage ({recorded}): not written",
            )
        properties = snapshot_properties(snapshot)
        with connector_errors():
            self._crm.update_company(req.customer_id, properties)
        figures = ", ".join(f"{k}={v}" for k, v in properties.items() if k != USAGE_AS_OF)
        return UsageRecordResult(applied=True, as_of=as_of, detail=f"written: {figures}")
