"""The pacing of portfolio reads (connectors.pacing.CallPacer, read_portfolio): at
most N CRM calls in any 10 s, a burst under the budget without any wait; on a fake clock
that only moves when the code sleeps (or a call takes time)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, cast

import pytest

from activities.health_digest import read_owners, read_portfolio
from connectors.base import Company, CompanyPage, Crm, Owner
from connectors.errors import NotFoundError, RetryableConnectorError
from connectors.pacing import CallPacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


def pacer(clock: FakeClock, max_calls: int, window_s: float = 10.0) -> CallPacer:
    return CallPacer(max_calls, window_s, clock=clock, sleep=clock.sleep)


def assert_within_budget(times: Sequence[float], max_calls: int, window_s: float = 10.0) -> None:
    for i, t in enumerate(times):
        in_window = [u for u in times[: i + 1] if t - u < window_s]
        assert len(in_window) <= max_calls, f"call {i} at {t}: {len(in_window)} in {window_s} s"


async def test_a_burst_under_the_budget_goes_out_at_once() -> None:
    clock = FakeClock()
    p = pacer(clock, 40)
    for _ in range(40):
        assert await p.acquire() == 0.0
    assert clock.sleeps == []
    assert clock.now == 0.0


async def test_the_call_over_the_budget_waits_for_the_oldest_to_leave_the_window() -> None:
    clock = FakeClock()
    p = pacer(clock, 40)
    times = []
    for _ in range(45):
        await p.acquire()
        times.append(clock.now)
    assert clock.sleeps == [10.0]  # the 41st; 42nd to 45th then fit at once
    assert times == [0.0] * 40 + [10.0] * 5
    assert_within_budget(times, 40)


async def test_the_window_slides() -> None:
    clock = FakeClock()
    p = pacer(clock, 2)
    seen: list[float] = []
    times = []
    for gap in (0.0, 3.0, 1.0, 0.0, 0.0):
        clock.advance(gap)
        await p.acquire(seen.append)
        times.append(clock.now)
    # t=0, t=3, then the 3rd waits until t=0 leaves (t=10), the 4th until t=3 leaves
    # (t=13), the 5th until t=10 leaves (t=20).
    assert times == [0.0, 3.0, 10.0, 13.0, 20.0]
    assert clock.sleeps == [6.0, 3.0, 7.0]
    assert seen == clock.sleeps  # before_sleep is told each wait, before it starts
    assert_within_budget(times, 2)


async def test_an_idle_pacer_does_not_wait() -> None:
    clock = FakeClock()
    p = pacer(clock, 3)
    for _ in range(3):
        await p.acquire()
    clock.advance(10.0)
    assert p.delay() == 0.0
    for _ in range(3):
        assert await p.acquire() == 0.0
    assert clock.sleeps == []


def test_budget_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CallPacer(0)
    with pytest.raises(ValueError):
        CallPacer(1, 0)


class PagedCrm:
    """``pages`` pages of one company each; each call takes ``call_s`` on the fake clock;
    the pages in ``refuse`` answer 429 once."""

    def __init__(
        self, clock: FakeClock, pages: int, *, call_s: float = 0.0, refuse: Sequence[int] = ()
    ) -> None:
        self.clock = clock
        self.pages = pages
        self.call_s = call_s
        self.refuse = set(refuse)
        self.calls: list[float] = []

    def list_companies(
        self, *, after: str | None, limit: int = 100, properties: Sequence[str] = ()
    ) -> CompanyPage:
        self.calls.append(self.clock())
        self.clock.advance(self.call_s)
        index = int(after or 0)
        if index in self.refuse:
            self.refuse.discard(index)
            raise RetryableConnectorError("fake", "list_companies", f"page {index}", "429")
        nxt = str(index + 1) if index + 1 < self.pages else None
        return CompanyPage(companies=[Company(id=str(1000 + index), name="c")], next_after=nxt)

    def get_owner(self, owner_id: str) -> Owner:
        self.calls.append(self.clock())
        if owner_id == "999":
            raise NotFoundError("fake", "get_owner", f"owner {owner_id}", "404")
        return Owner(id=owner_id, email=f"{owner_id}@example.com")


async def read(
    crm: PagedCrm, clock: FakeClock, heartbeats: list[Any] | None = None, **kwargs: Any
) -> int:
    accounts = await read_portfolio(
        cast(Crm, crm),
        clock=clock,
        sleep=clock.sleep,
        heartbeat=heartbeats.append if heartbeats is not None else None,
        **kwargs,
    )
    return len(accounts)


async def test_a_small_portfolio_is_read_without_waiting() -> None:
    clock = FakeClock()
    crm = PagedCrm(clock, 10, call_s=0.2)
    assert await read(crm, clock) == 10
    assert clock.sleeps == []
    assert len(crm.calls) == 10


async def test_a_large_portfolio_is_read_at_most_40_pages_per_10_s() -> None:
    clock = FakeClock()
    crm = PagedCrm(clock, 100, call_s=0.05)  # 10,000 companies
    heartbeats: list[Any] = []
    assert await read(crm, clock, heartbeats) == 100
    assert len(crm.calls) == 100
    assert_within_budget(crm.calls, 40)
    assert crm.calls[39] < 2.0  # the first 40 pages: no waiting
    assert crm.calls[40] == pytest.approx(10.0)  # the 41st when the 1st leaves the window
    assert crm.calls[80] == pytest.approx(20.0)
    assert len(clock.sleeps) == 2
    # a heartbeat before each wait (pages read so far), then after each page
    assert heartbeats.count(40) == 2 and heartbeats.count(80) == 2
    assert heartbeats[-1] == 100


async def test_the_budget_is_a_parameter_and_retries_count() -> None:
    clock = FakeClock()
    crm = PagedCrm(clock, 6, refuse=[2])  # page 2 refused once: 7 calls
    assert await read(crm, clock, max_calls_per_10s=3) == 6
    assert len(crm.calls) == 7
    assert_within_budget(crm.calls, 3)
    # calls at 0,0,0 (page 2 refused; retried after 1 s, but the budget says t=10),
    # then 10,10 and 20,20 (the 1 s retry wait does not count as a call).
    assert crm.calls == [0.0, 0.0, 0.0, 10.0, 10.0, 10.0, 20.0]


async def test_owner_look_ups_share_the_budget() -> None:
    clock = FakeClock()
    crm = PagedCrm(clock, 2)
    shared = pacer(clock, 3)
    assert await read(crm, clock, pacer=shared) == 2
    owners, missing = await read_owners(cast(Crm, crm), {"501", "502", "999"}, pacer=shared)
    assert sorted(owners) == ["501", "502"]
    assert missing == ["owner 999 is not a CRM user (any more): shown by id"]
    assert crm.calls == [0.0, 0.0, 0.0, 10.0, 10.0]
