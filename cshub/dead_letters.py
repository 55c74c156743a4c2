"""``cshub webhooks list`` and ``cshub webhooks replay``: the deliveries the hub did not
act on, kept in the webhook ledger (``CSHUB_API_DB``), and their replay with today's
configuration."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from domain.events import DeliveryResult
from runtime.settings import Settings, SettingsError
from webhooks.ledger import Backlog, DeadLetter, DeliveryLedger, PendingDelivery

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """``30m``, ``12h``, ``1d``, ``2w`` → a duration; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*([mhdw])\s*", text)
    if not match:
        raise ValueError(f"--since {text!r}: use a number and m, h, d or w (e.g. 1d, 12h)")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def open_ledger(settings: Settings) -> DeliveryLedger:
    """The API's delivery ledger (``DeliveryLedger.for_settings``). A SQLite file that is
    missing is an error naming it: reading never creates an empty ledger to answer "no
    kept deliveries" from."""
    path = settings.cshub_api_db
    if not settings.cshub_database_url and not path.is_file():
        raise SettingsError(
            f"no delivery ledger at {path.resolve()} (CSHUB_API_DB; default: the data folder "
            f"CSHUB_DATA_DIR={settings.cshub_data_dir}, where `cshub api` and `cshub dev` "
            "keep it; or CSHUB_DATABASE_URL for PostgreSQL)"
        )
    return DeliveryLedger.for_settings(settings)


def list_lines(letters: list[DeadLetter]) -> list[str]:
    """One line a kept delivery, newest first, then a total."""
    if not letters:
        return ["no kept deliveries"]
    lines = [
        f"{'LAST DELIVERY (UTC)':19}  {'OUTCOME':18}  {'EVENT':40}  {'TYPE':38}  "
        f"{'CUSTOMER':8}  N  STATUS / REASON"
    ]
    for d in letters:
        status = f"replayed: {d.resolution}" if d.resolved_at else (d.detail or "")
        lines.append(
            f"{d.last_at:%Y-%m-%d %H:%M:%S}  {d.outcome:18}  {d.dedup_key[:40]:40}  "
            f"{(d.type or '-')[:38]:38}  {(d.customer_id or '-')[:8]:8}  {d.deliveries}  "
            f"{status[:160]}"
        )
    lines.append(f"{len(letters)} kept deliveries")
    return lines


def list_pending_lines(backlog: Backlog, pending: list[PendingDelivery]) -> list[str]:
    """The backlog: deliveries stored and answered, not yet forwarded to their workflow
    (Temporal or the CRM unreachable, or the forwarders behind), oldest first."""
    if not backlog.pending:
        return ["no deliveries waiting to be forwarded"]
    lines = [
        f"{backlog.pending} deliveries waiting to be forwarded, the oldest for "
        f"{backlog.oldest_age_s():.0f}s ({backlog.retrying} tried and waiting to retry)",
        f"{'RECEIVED (UTC)':19}  {'EVENT':40}  {'TYPE':38}  {'TRIES':5}  LAST ERROR",
    ]
    for p in pending:
        lines.append(
            f"{p.received_at:%Y-%m-%d %H:%M:%S}  {p.dedup_key[:40]:40}  {p.type[:38]:38}  "
            f"{p.attempts:5}  {(p.last_error or '-')[:160]}"
        )
    if len(pending) < backlog.pending:
        lines.append(f"… and {backlog.pending - len(pending)} more")
    return lines


def read_backlog(settings: Settings, limit: int = 50) -> tuple[Backlog, list[PendingDelivery]]:
    ledger = open_ledger(settings)
    try:
        return ledger.backlog(), ledger.pending(limit)
    finally:
        ledger.close()


def list_dead_letters(
    settings: Settings, outcome: str | None, since: str | None, unresolved: bool
) -> list[DeadLetter]:
    ledger = open_ledger(settings)
    try:
        cutoff = datetime.now(UTC) - parse_since(since) if since else None
        return ledger.dead_letters(outcome=outcome, since=cutoff, include_resolved=not unresolved)
    finally:
        ledger.close()


async def replay_dead_letter(settings: Settings, event_id: str) -> DeliveryResult:
    """Route the kept delivery again, as the API would today (same ledger, same Temporal,
    same connectors)."""
    from runtime.temporal_client import FAIL_FAST, connect
    from webhooks.deal_stages import ClosedWonStages
    from webhooks.intake import Intake
    from webhooks.replay import replay
    from wiring.connectors import build_connectors

    connectors = build_connectors(settings)
    ledger = open_ledger(settings)

    async def client() -> Client:
        return await connect(settings, retry_config=FAIL_FAST)

    try:
        intake = Intake(
            ledger,
            client,
            settings.temporal_task_queue,
            connectors.crm,
            billing=connectors.billing,
            stripe_customer_property=settings.stripe_customer_property,
        )
        stages = ClosedWonStages(connectors.crm, settings.closed_won_stages)
        return await replay(intake, ledger, stages, event_id)
    finally:
        ledger.close()
