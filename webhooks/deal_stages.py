"""Which deal stages mean "won", for the HubSpot route: discovered from the CRM's deal
pipelines (every stage that is closed with probability 1.0, custom pipelines included),
cached, and refreshed - every ``ttl``, and sooner when a deal moves to a stage the cache
has never seen (a pipeline added since). ``HUBSPOT_CLOSED_WON_STAGES`` overrides it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from connectors.base import Crm
from connectors.errors import ConnectorError
from domain.deal_stages import won_stage_ids

log = logging.getLogger("cshub.webhooks")

DEFAULT_TTL_S = 600.0
MAX_MISSES = 1000
"""A stage id never seen triggers one refresh, not one per event about it (a flood of
events about an unknown stage does not become a flood of pipeline reads)."""


class StagesUnavailable(Exception):
    """The pipelines were never read and cannot be now: the event must be sent again."""


class ClosedWonStages:
    def __init__(
        self,
        crm: Crm,
        override: frozenset[str] | None = None,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._crm = crm
        self._override = override
        self._ttl = ttl_s
        self._clock = clock
        self._won: frozenset[str] | None = None
        self._known: frozenset[str] = frozenset()
        self._read_at = 0.0
        self._missed: set[str] = set()
        self._lock = asyncio.Lock()

    async def won(self, stage_values: Iterable[str | None] = ()) -> frozenset[str]:
        """The won stage ids, refreshed if stale or if one of ``stage_values`` (the stages
        the events at hand move to) is unknown. Raises StagesUnavailable only when the
        pipelines were never read; a failed refresh keeps the last good answer."""
        if self._override is not None:
            return self._override
        values = {v for v in stage_values if v}
        async with self._lock:
            now = self._clock()
            stale = self._won is None or now - self._read_at >= self._ttl
            unknown = values - self._known - self._missed
            if stale or unknown:
                if len(self._missed) > MAX_MISSES:
                    self._missed.clear()
                self._missed |= unknown
                await self._refresh(now)
            if self._won is None:
                raise StagesUnavailable("cannot read the deal pipelines from the CRM")
            return self._won

    async def _refresh(self, now: float) -> None:
        try:
            stages = await asyncio.to_thread(self._crm.list_deal_stages)
        except ConnectorError as err:
            log.warning("deal pipelines unreadable (%s): keeping the last known won stages", err)
            return
        self._won = won_stage_ids(stages)
        self._known = frozenset(s.stage_id for s in stages)
        self._read_at = now
        log.info("deal pipelines read: won stages %s", ", ".join(sorted(self._won)) or "none")
