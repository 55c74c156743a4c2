"""Product events are counted at the ingress, not signalled one by one.

A customer using the product all day sends thousands of ``ai_request`` and
``workflow_created`` events; each one signalled to the onboarding journey would cost it
history (a signal and a workflow task each) and push it into continue-as-new under a
stream of signals. The ingress keeps, per customer and event type, the running total
and what it last handed to the journey, and signals the journey only:

* when the total crosses a count that a playbook acts on (a milestone's ``reached_by``
  or a nudge's ``trigger`` in any onboarding plan, and always the first event of a
  type: a first login, a first share), or a usage percentage crosses a ``min_percent``;
* otherwise at most once per :data:`SIGNAL_EVERY` per customer and type, with the
  events counted since (so the journey's counts catch up within the hour).

The signal carries the count since the last one (``count``), so the journey's counts
equal the ingress's at every signal. Other events are answered 202 "counted".

Totals live in the delivery ledger's SQLite file, so they survive a restart. With several
API replicas on files of their own, each counts its share: a threshold may be heard late
(when one replica's share crosses it, or with the hourly count), never lost. The event
is counted only once its outcome is final (counted, or the signal accepted by Temporal):
a 503 leaves the totals as they were and the sender's retry counts it then.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.onboarding_plan import OnboardingPlan
from domain.tiers import ProductEventType
from runtime.sqlite_files import open_sqlite

SIGNAL_EVERY = timedelta(hours=1)
"""A type's events counted since the last signal are handed on at least this often."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS product_counts (
    customer_id       TEXT NOT NULL,
    type              TEXT NOT NULL,
    total             INTEGER NOT NULL,
    signalled         INTEGER NOT NULL,
    max_percent       REAL,
    signalled_percent REAL,
    signalled_at      TEXT,
    PRIMARY KEY (customer_id, type)
);
"""


@dataclass(frozen=True)
class Thresholds:
    """What the playbooks act on: counts per event type, usage percentages."""

    counts: dict[str, frozenset[int]]
    percents: frozenset[float]

    @classmethod
    def from_plans(cls, plans: Iterable[OnboardingPlan]) -> Thresholds:
        counts: dict[str, set[int]] = {t.value: {1} for t in ProductEventType}
        percents: set[float] = set()
        for plan in plans:
            triggers = [m.reached_by for m in plan.milestones if m.reached_by]
            triggers += [n.trigger for n in plan.nudges]
            for trig in triggers:
                if trig.event is ProductEventType.USAGE_THRESHOLD:
                    percents.add(float(trig.min_percent or 0.0))
                else:
                    counts[trig.event.value].add(trig.count)
        return cls({k: frozenset(v) for k, v in counts.items()}, frozenset(percents))


def plan_thresholds(folder: Path) -> Thresholds:
    """The thresholds of every valid onboarding plan under ``folder/onboarding`` (an
    invalid plan is reported by ``cshub playbooks validate``, not here)."""
    import yaml
    from pydantic import ValidationError

    from domain.strict_yaml import load_yaml_file  # the hub's one loader (duplicate keys)

    plans: list[OnboardingPlan] = []
    for path in sorted((folder / "onboarding").glob("*.yaml")):
        try:
            plans.append(OnboardingPlan.model_validate(load_yaml_file(path)))
        except (ValidationError, yaml.YAMLError, OSError):
            continue
    return Thresholds.from_plans(plans)


@dataclass(frozen=True)
class Decision:
    signal: bool
    count: int
    """Events to hand on with the signal (counted since the last one)."""
    percent: float | None
    total: int
    reason: str


@dataclass(frozen=True)
class _Row:
    total: int
    signalled: int
    max_percent: float | None
    signalled_percent: float | None
    signalled_at: datetime | None


class ProductAggregator:
    def __init__(
        self, path: Path | str, thresholds: Thresholds, *, every: timedelta = SIGNAL_EVERY
    ) -> None:
        self._db = open_sqlite(path, _SCHEMA)
        self._lock = threading.Lock()
        self._thresholds = thresholds
        self._every = every
        self._customer_locks: dict[str, asyncio.Lock] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def customer_lock(self, customer_id: str) -> asyncio.Lock:
        """Held from decision to commit, so two events of one customer never both see
        the same total (one API process; the ledger is per process too)."""
        lock = self._customer_locks.get(customer_id)
        if lock is None:
            lock = self._customer_locks[customer_id] = asyncio.Lock()
        return lock

    def _row(self, customer_id: str, type_: str) -> _Row:
        with self._lock:
            row = self._db.execute(
                "SELECT total, signalled, max_percent, signalled_percent, signalled_at "
                "FROM product_counts WHERE customer_id = ? AND type = ?",
                (customer_id, type_),
            ).fetchone()
        if row is None:
            return _Row(0, 0, None, None, None)
        return _Row(
            int(row[0]),
            int(row[1]),
            row[2],
            row[3],
            datetime.fromisoformat(row[4]) if row[4] else None,
        )

    def totals(self, customer_id: str, type_: str) -> tuple[int, int]:
        """(events counted, events handed on to the journey) for a customer and type."""
        row = self._row(customer_id, type_)
        return row.total, row.signalled

    def decide(
        self,
        customer_id: str,
        type_: str,
        count: int,
        percent: float | None,
        now: datetime | None = None,
    ) -> Decision:
        now = now or datetime.now(UTC)
        row = self._row(customer_id, type_)
        total = row.total + count
        due = row.signalled_at is None or now - row.signalled_at >= self._every
        if type_ == ProductEventType.USAGE_THRESHOLD.value:
            best = max(row.max_percent or 0.0, percent or 0.0)
            last = row.signalled_percent
            crossed = [p for p in self._thresholds.percents if (last or 0.0) < p <= best]
            if last is None or crossed:
                why = f"{best:g} % crosses {min(crossed):g} %" if crossed else "first usage"
                return Decision(True, total - row.signalled, best, total, why)
            if due and best > last:
                return Decision(True, total - row.signalled, best, total, "hourly usage update")
            return Decision(False, 0, best, total, f"usage {best:g} %, last signalled {last:g} %")
        steps = self._thresholds.counts.get(type_, frozenset({1}))
        crossed_counts = [t for t in steps if row.total < t <= total]
        if crossed_counts:
            return Decision(
                True,
                total - row.signalled,
                None,
                total,
                f"count {total} reaches {max(crossed_counts)}",
            )
        if due:
            return Decision(True, total - row.signalled, None, total, "hourly count update")
        upcoming = [t for t in steps if t > total]
        nxt = f"at {min(upcoming)} or " if upcoming else ""
        return Decision(
            False, 0, None, total, f"{total} counted; the journey hears {nxt}within the hour"
        )

    def commit(
        self,
        customer_id: str,
        type_: str,
        decision: Decision,
        now: datetime | None = None,
    ) -> None:
        """Record the event's count (and, when signalled, that the journey has it)."""
        now = now or datetime.now(UTC)
        row = self._row(customer_id, type_)
        percent = decision.percent
        best = max(row.max_percent or 0.0, percent) if percent is not None else row.max_percent
        at: str | None
        if decision.signal:
            signalled, signalled_percent, at = decision.total, best, now.isoformat()
        else:
            signalled = row.signalled
            signalled_percent = row.signalled_percent
            at = row.signalled_at.isoformat() if row.signalled_at else None
        with self._lock:
            self._db.execute(
                "INSERT INTO product_counts VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(customer_id, type) DO UPDATE SET total = excluded.total, "
                "signalled = excluded.signalled, max_percent = excluded.max_percent, "
                "signalled_percent = excluded.signalled_percent, "
                "signalled_at = excluded.signalled_at",
                (customer_id, type_, decision.total, signalled, best, signalled_percent, at),
            )
