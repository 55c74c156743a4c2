"""The hub's own store, the same tests on SQLite (the embedded default) and on a real
PostgreSQL server: the intake queue (dedup, claims in order per workflow, leases), the
delivery ledger, dead letters and the action store."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from activities.action_log import ActionRow, SqlActionStore
from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult, EventSource
from runtime.store import StoreError
from webhooks.ledger import PENDING_NOTE, DeliveryLedger, RawDelivery

LEASE = timedelta(seconds=30)


def event(event_id: str, customer: str = "1001", **data: object) -> CustomerEvent:
    return CustomerEvent(
        event_id=event_id,
        source=EventSource.PRODUCT,
        type="product.workflow_created",
        customer_id=customer,
        occurred_at=datetime.now(UTC),
        data=dict(data),
    )


def raw(n: str) -> RawDelivery:
    return RawDelivery("product", f'{{"event_id": "{n}"}}'.encode())


def done(ev: CustomerEvent, outcome: DeliveryOutcome = DeliveryOutcome.ACCEPTED) -> DeliveryResult:
    return DeliveryResult(outcome=outcome, event_id=ev.event_id, workflow_id="onboarding-1001")


def test_a_delivery_is_stored_once_and_a_redelivery_is_a_duplicate(store_url: str) -> None:
    ledger = DeliveryLedger(store_url)
    try:
        first = event("e1")
        stored = ledger.enqueue(first, raw("e1"), "onboarding-1001")
        assert stored.seq is not None and stored.previous is None
        again = ledger.enqueue(first, raw("e1"), "onboarding-1001")
        assert again.seq is None and again.previous is not None
        assert again.previous.detail == "stored, waiting to be forwarded"
        assert ledger.backlog().pending == 1
        [claim] = ledger.claim("f1", 10, LEASE)
        assert claim.raw == raw("e1")
        ledger.record(first, done(first))
        assert ledger.finish(claim.seq, "f1", done(first))
        final = ledger.enqueue(first, raw("e1"), "onboarding-1001")
        assert final.seq is None and final.previous is not None
        assert final.previous.outcome is DeliveryOutcome.ACCEPTED
        assert ledger.backlog().pending == 0 and ledger.count() == 1
        forwarded = ledger.forwarded(first.dedup_key)
        assert forwarded is not None and forwarded.workflow_id == "onboarding-1001"
        # Not final (customer not found): a redelivery is stored again.
        lost = event("e2")
        ledger.enqueue(lost, raw("e2"), "g")
        [claim] = ledger.claim("f1", 10, LEASE)
        assert ledger.finish(claim.seq, "f1", done(lost, DeliveryOutcome.NOT_FOUND))
        assert ledger.enqueue(lost, raw("e2"), "g").seq is not None
    finally:
        ledger.close()


def test_claims_take_one_delivery_per_group_in_arrival_order(store_url: str) -> None:
    ledger = DeliveryLedger(store_url)
    try:
        a1, a2, b1 = event("a1"), event("a2"), event("b1", "1002")
        for ev, group in ((a1, "A"), (a2, "A"), (b1, "B")):
            ledger.enqueue(ev, raw(ev.event_id), group)
        first = ledger.claim("f1", 10, LEASE)
        assert [c.dedup_key for c in first] == ["product:a1", "product:b1"]
        assert ledger.claim("f2", 10, LEASE) == []  # a2 waits for a1; b1 is leased
        a1_claim, b1_claim = first
        assert ledger.finish(a1_claim.seq, "f1", done(a1))
        assert [c.dedup_key for c in ledger.claim("f2", 10, LEASE)] == ["product:a2"]
        # Given back after a failed try: due again after its back-off, one try counted.
        assert ledger.retry_later(b1_claim.seq, "f1", "temporal unavailable", timedelta(0))
        [again] = ledger.claim("f2", 10, LEASE)
        assert (again.dedup_key, again.attempts) == ("product:b1", 1)
        [waiting] = [p for p in ledger.pending() if p.dedup_key == "product:b1"]
        assert waiting.last_error == "temporal unavailable"
        assert ledger.backlog().retrying == 1
        # Waiting out a back-off holds its group.
        assert ledger.retry_later(again.seq, "f2", "still down", timedelta(hours=1))
        ledger.enqueue(event("b2", "1002"), raw("b2"), "B")
        assert [c.dedup_key for c in ledger.claim("f3", 10, LEASE)] == []
    finally:
        ledger.close()


def test_a_dead_forwarders_claim_is_taken_over_after_its_lease(store_url: str) -> None:
    ledger = DeliveryLedger(store_url)
    other = DeliveryLedger(store_url)  # another process's connection
    try:
        ev = event("x1")
        ledger.enqueue(ev, raw("x1"), "X")
        [mine] = ledger.claim("dead", 10, timedelta(milliseconds=300))
        assert other.claim("alive", 10, LEASE) == []
        time.sleep(0.4)
        [taken] = other.claim("alive", 10, LEASE)
        assert taken.seq == mine.seq
        assert not ledger.finish(mine.seq, "dead", done(ev))  # its lease is gone
        assert other.finish(taken.seq, "alive", done(ev))
        assert ledger.backlog().pending == 0
    finally:
        ledger.close()
        other.close()


def test_concurrent_forwarders_never_take_the_same_delivery(store_url: str) -> None:
    """Two forwarders (each its own connection or pool) claiming as fast as they can:
    every delivery taken exactly once, each group's in arrival order."""
    setup = DeliveryLedger(store_url)
    n, groups = 120, 12
    for i in range(n):
        setup.enqueue(event(f"c{i:03}"), raw(f"c{i:03}"), f"G{i % groups}")
    taken: dict[str, list[str]] = defaultdict(list)
    order: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    # Both open their store first and start claiming together: opening one (its schema
    # check) can take longer than the other needs to forward all 120.
    ready = threading.Barrier(2)

    def forward(owner: str) -> None:
        ledger = DeliveryLedger(store_url)
        try:
            ready.wait(30)
            idle = 0
            while idle < 5:
                claims = ledger.claim(owner, 5, LEASE)
                if not claims:
                    idle += 1
                    time.sleep(0.01)
                    continue
                idle = 0
                for c in claims:
                    with lock:
                        taken[c.dedup_key].append(owner)
                        order[c.group].append(c.dedup_key)
                    # Forwarding takes a moment (a Temporal call), out of any transaction:
                    # without it one SQLite writer can keep the lock until it is done alone.
                    time.sleep(0.001)
                    assert ledger.finish(c.seq, owner, done(event(c.dedup_key)))
        finally:
            ledger.close()

    threads = [threading.Thread(target=forward, args=(f"f{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert len(taken) == n
        assert all(len(owners) == 1 for owners in taken.values()), taken
        assert len({o for owners in taken.values() for o in owners}) == 2  # both worked
        for keys in order.values():
            assert keys == sorted(keys)
        assert setup.backlog().pending == 0
    finally:
        setup.close()


def test_ledger_records_dead_letters_and_staleness(store_url: str) -> None:
    ledger = DeliveryLedger(store_url)
    try:
        older = event("s1").model_copy(
            update={"order_key": "deal:1", "occurred_at": datetime(2026, 1, 1, tzinfo=UTC)}
        )
        newer = older.model_copy(
            update={"event_id": "s2", "occurred_at": datetime(2026, 1, 2, tzinfo=UTC)}
        )
        ledger.record(newer, done(newer))
        assert ledger.is_stale(older) and not ledger.is_stale(newer)
        assert ledger.previous(newer) is not None and ledger.previous(older) is None
        for _ in range(2):
            ledger.keep(
                dedup_key=older.dedup_key,
                source="product",
                event_id="s1",
                type=older.type,
                customer_id="1001",
                outcome=DeliveryOutcome.STALE,
                detail="newer applied",
                raw=raw("s1"),
            )
        [letter] = ledger.dead_letters()
        assert (letter.outcome, letter.deliveries, letter.raw) == ("stale", 2, raw("s1"))
        ledger.resolve(older.dedup_key, done(older))
        assert ledger.dead_letters(include_resolved=False) == []
        assert ledger.prune(timedelta(days=30)) == 0
    finally:
        ledger.close()


def test_action_store(store_url: str) -> None:
    store = SqlActionStore(store_url)
    try:
        at = datetime(2026, 3, 1, 9, tzinfo=UTC)
        row = ActionRow(
            key="onboarding-1001:welcome",
            customer_id="1001",
            workflow_id="onboarding-1001",
            outcome="retrying",
            first_at=at,
            last_at=at,
            contact_id="5001",
        )
        store.upsert(row)
        store.upsert(row.model_copy(update={"outcome": "done", "last_at": at + timedelta(1)}))
        got = store.get(row.key)
        assert got is not None and (got.outcome, got.first_at) == ("done", at)
        assert got.contact_id == "5001"
        assert [r.key for r in store.for_customer("1001")] == [row.key]
        assert store.for_customer("1001", since=at + timedelta(2)) == []
        assert store.purge(timedelta(days=1), now=at + timedelta(days=3)) == 1
        assert store.get(row.key) is None
    finally:
        store.close()


def test_an_action_is_found_by_its_reference_through_an_index(store_url: str) -> None:
    """A reply names the e-mail it answers (its Message-ID): the action store finds the
    action by that reference through the ``actions_ref`` index on both backends (on
    PostgreSQL a yoyo migration adds it)."""
    store = SqlActionStore(store_url)
    try:
        at = datetime(2026, 3, 1, 9, tzinfo=UTC)
        for n in range(3):
            store.upsert(
                ActionRow(
                    key=f"onboarding-1001:mail-{n}",
                    customer_id="1001",
                    workflow_id="onboarding-1001",
                    outcome="done",
                    first_at=at,
                    last_at=at + timedelta(minutes=n),
                    ref=f"<mail-{n}@cshub.test>",
                )
            )
        found = store.by_ref("<mail-1@cshub.test>")
        assert found is not None and found.key == "onboarding-1001:mail-1"
        assert store.by_ref("<unknown@cshub.test>") is None
        db = store._db
        with db.tx() as tx:
            if db.dialect == "postgresql":
                names = {r[0] for r in tx.execute(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'actions'"
                ).rows}  # fmt: skip
            else:
                names = {r[1] for r in tx.execute("PRAGMA index_list(actions)").rows}
        assert "actions_ref" in names
    finally:
        store.close()


async def test_concurrent_requests_are_stored_in_group_commits(store_url: str) -> None:
    """200 requests storing at once (10 of them a redelivery of another): each delivery is
    stored once, each redelivery is answered 'waiting to be forwarded', and the writes
    went in a few transactions, not 200."""
    ledger = DeliveryLedger(store_url)
    commits = 0
    enqueue_many = ledger.enqueue_many

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal commits
        commits += 1
        return enqueue_many(*args, **kwargs)

    ledger.enqueue_many = counted  # type: ignore[method-assign]
    try:
        events = [event(f"g{n}", customer=str(1000 + n % 7)) for n in range(190)]
        again = [event(f"g{n}", customer=str(1000 + n % 7)) for n in range(10)]
        answers = await asyncio.gather(
            *(ledger.store(ev, raw(ev.event_id), f"onboarding-{ev.customer_id}")
              for ev in [*events, *again])
        )  # fmt: skip
        stored = [a for a in answers if a.seq is not None]
        assert len(stored) == 190 and len({a.seq for a in stored}) == 190
        dupes = [a.previous for a in answers if a.seq is None]
        assert len(dupes) == 10
        assert all(d is not None and d.detail == PENDING_NOTE for d in dupes)
        assert ledger.backlog().pending == 190
        assert commits < 20, f"{commits} transactions for 200 requests"
    finally:
        ledger.close()
    # Answered = committed: another connection (a restarted API) sees every one of them.
    reopened = DeliveryLedger(store_url)
    try:
        assert reopened.backlog().pending == 190
    finally:
        reopened.close()


async def test_a_store_that_cannot_write_fails_each_waiting_request(tmp_path: Path) -> None:
    """The API answers 503 when its store cannot write: every request of the failed group
    commit hears the error (none is left waiting, none answered 2xx)."""
    path = tmp_path / "store.db"
    ledger = DeliveryLedger(path)
    try:
        await ledger.store(event("first"), raw("first"), "g")
        with sqlite3.connect(path) as db:  # the store breaks under the running API
            db.execute("DROP TABLE intake")
        results = await asyncio.gather(
            *(ledger.store(event(f"e{n}"), raw(str(n)), "g") for n in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(r, StoreError) for r in results), results
    finally:
        ledger.close()
