"""``cshub forwarder``: forward the deliveries the API stored, as a process of its own
(restartable; several may run on one store: each claims under a lease)."""

from __future__ import annotations

import asyncio
import signal

from runtime.logs import configure_logging
from runtime.settings import Settings


async def run_forwarder(settings: Settings, *, once: bool = False) -> None:
    from playbooks.loader import playbooks_dir
    from webhooks.aggregate import ProductAggregator, plan_thresholds
    from webhooks.app import TemporalConnection, _settings_client
    from webhooks.deal_stages import ClosedWonStages
    from webhooks.forwarder import Forwarder
    from webhooks.intake import Intake
    from webhooks.ledger import DeliveryLedger
    from wiring.connectors import build_connectors

    configure_logging(settings.cshub_log_format, settings.cshub_log_level)
    connectors = build_connectors(settings)
    ledger = DeliveryLedger.for_settings(settings)
    temporal = TemporalConnection(_settings_client(settings))
    # Product events are counted where they are forwarded (the totals in CSHUB_API_DB).
    aggregator = ProductAggregator(settings.cshub_api_db, plan_thresholds(playbooks_dir()))
    intake = Intake(
        ledger,
        temporal.get,
        settings.temporal_task_queue,
        connectors.crm,
        billing=connectors.billing,
        stripe_customer_property=settings.stripe_customer_property,
        aggregator=aggregator,
    )
    stages = ClosedWonStages(
        connectors.crm, settings.closed_won_stages, ttl_s=settings.hubspot_stages_refresh_s
    )
    forwarder = Forwarder.for_settings(settings, ledger, intake, stages)
    try:
        if once:
            await forwarder.drain(timeout_s=600)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"cshub forwarder {forwarder.owner} forwarding from {ledger.dialect}")
        await forwarder.run(stop)
    finally:
        aggregator.close()
        ledger.close()
