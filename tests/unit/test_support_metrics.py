"""Support metrics on a scripted data set, against values computed by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from domain.support_metrics import (
    SupportTargets,
    Target,
    compute_support_metrics,
    sla_outcome,
)
from domain.support_records import (
    ClockName,
    ClockStatus,
    CsatStatus,
    NpsAnswer,
    SlaBreach,
    TicketSlaStatus,
)

# The period: 17 days, Monday 2 March 2026 00:00 UTC up to (not including) 19 March.
SINCE = datetime(2026, 3, 2, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=17)


def d(day: float, hour: float = 0) -> datetime:
    """``day`` days and ``hour`` hours after SINCE (negative: before the period)."""
    return SINCE + timedelta(days=day, hours=hour)


def clock(
    name: ClockName, met_at: datetime | None = None, breached_at: datetime | None = None
) -> ClockStatus:
    return ClockStatus(
        clock=name,
        target_minutes=240 if name is ClockName.FIRST_RESPONSE else 1440,
        running=met_at is None,
        met_at=met_at,
        breached_at=breached_at,
    )


def ticket(
    ticket_id: str,
    customer: str | None,
    created: datetime,
    *,
    first_response: tuple[datetime, float] | None = None,
    solved: tuple[datetime, float] | None = None,
    breaches: Sequence[tuple[ClockName, datetime]] = (),
    clock_breach: tuple[ClockName, datetime] | None = None,
    finished: bool = False,
) -> TicketSlaStatus:
    """A ticket with both clocks; a clock is met when its event happened."""
    fr_at, fr_min = first_response or (None, None)
    so_at, so_min = solved or (None, None)
    clocks = [
        clock(ClockName.FIRST_RESPONSE, fr_at),
        clock(ClockName.RESOLUTION, so_at),
    ]
    if clock_breach:
        for c in clocks:
            if c.clock is clock_breach[0]:
                c.breached_at = clock_breach[1]
    if finished:
        for c in clocks:
            c.running = False
    return TicketSlaStatus(
        ticket_id=ticket_id,
        customer_id=customer,
        created_at=created,
        first_response_at=fr_at,
        first_response_business_minutes=fr_min,
        solved_at=so_at,
        resolution_business_minutes=so_min,
        status="solved" if so_at else "open",
        clocks=clocks,
        breaches=[SlaBreach(clock=c, at=at, level=1, level_name="senior") for c, at in breaches],
        finished=finished,
    )


FR, RES = ClockName.FIRST_RESPONSE, ClockName.RESOLUTION

TICKETS = [
    # T1: answered after 60 min, solved after 480 min; no breach -> met, decided d(1, 9).
    ticket("T1", "A", d(0, 9), first_response=(d(0, 10), 60), solved=(d(1, 9), 480)),
    # T2: first response breached at d(1, 12) (answered later, 300 min) -> breached.
    ticket(
        "T2",
        "A",
        d(1, 8),
        first_response=(d(1, 14), 300),
        solved=(d(3, 8), 1200),
        breaches=[(FR, d(1, 12))],
    ),
    # T3: resolution breached at d(4, 10), solved after 1800 min -> breached.
    ticket(
        "T3",
        "B",
        d(2, 10),
        first_response=(d(2, 10.5), 30),
        solved=(d(5, 10), 1800),
        breaches=[(RES, d(4, 10))],
    ),
    # T10: no customer; deleted (workflow finished, never answered or solved): created in
    # the period, not open at the end, SLA undecided.
    ticket("T10", None, d(3, 9), finished=True),
    # T4: answered (120 min), still open: resolution clock running -> undecided, open.
    ticket("T4", "A", d(8, 9), first_response=(d(8, 11), 120)),
    # T5: 15 min / 480 min, no breach -> met, decided d(9, 17).
    ticket("T5", "C", d(9, 9), first_response=(d(9, 9.25), 15), solved=(d(9, 17), 480)),
    # T9: the breach is recorded only on the clock (breached_at d(10, 13)) -> breached.
    ticket(
        "T9",
        "C",
        d(10, 9),
        first_response=(d(10, 15), 360),
        solved=(d(12, 9), 960),
        clock_breach=(FR, d(10, 13)),
    ),
    # T6: not answered yet -> no first response, undecided, open.
    ticket("T6", "B", d(15, 9)),
    # T8: answered (90 min) in the period, solved after UNTIL (d(17, 9)): no resolution
    # counted, SLA decided after the period, open at the end.
    ticket("T8", "D", d(16, 9), first_response=(d(16, 10), 90), solved=(d(17, 9), 900)),
    # T7: created and answered before the period, solved in it (600 min) -> its first
    # response does not count; resolution counts; met, decided d(0, 12).
    ticket("T7", "A", d(-2, 9), first_response=(d(-2, 10), 60), solved=(d(0, 12), 600)),
]

CSAT = [
    CsatStatus(ticket_id="T1", score=5, answered_at=d(1, 12), status="answered"),
    CsatStatus(ticket_id="T2", score=2, answered_at=d(3, 12), status="answered"),
    CsatStatus(ticket_id="T3", score=4, answered_at=d(5, 12), status="answered"),
    CsatStatus(ticket_id="T5", score=5, answered_at=d(9, 20), status="answered"),
    CsatStatus(ticket_id="T7", score=3, answered_at=d(0, 15), status="answered"),
    # Not counted: answered after the period, not answered, answered before the period.
    CsatStatus(ticket_id="T9", score=4, answered_at=d(17, 1), status="answered"),
    CsatStatus(ticket_id="T8", status="sent", sent_at=d(16, 12)),
    CsatStatus(ticket_id="T0", score=1, answered_at=d(-1, 10), status="answered"),
]


def nps(contact: str, score: int, at: datetime) -> NpsAnswer:
    return NpsAnswer(contact_id=contact, score=score, answered_at=at, quarter="2026-Q1")


NPS = [
    nps("k1", 10, d(2, 10)),  # replaced by k1's later answer below
    nps("k2", 9, d(4, 10)),  # promoter
    nps("k3", 6, d(5, 10)),  # detractor
    nps("k1", 3, d(12, 10)),  # k1's latest answer in the period: detractor
    nps("k4", 8, d(6, 10)),  # passive
    nps("k2", 2, d(-10, 10)),  # before the period: ignored (k2 counts as 9)
    nps("k6", 10, UNTIL),  # exactly at UNTIL: next period
]


def test_scripted_data_set_matches_hand_computed_figures() -> None:
    m = compute_support_metrics(TICKETS, CSAT, NPS, SINCE, UNTIL)

    # First responses in the period: T1 60, T2 300, T3 30, T4 120, T5 15, T9 360, T8 90
    # (T7 answered before it; T6, T10 never) = [15, 30, 60, 90, 120, 300, 360] min
    # = [0.25, 0.5, 1, 1.5, 2, 5, 6] h: median 1.5 h; mean 975 min / 7 / 60 = 2.3214 h.
    assert m.first_response.count == 7
    assert m.first_response.median_hours == 1.5
    assert m.first_response.mean_hours == pytest.approx(975 / 7 / 60)

    # Solved in the period: T1 480, T2 1200, T3 1800, T5 480, T9 960, T7 600 (T8 after
    # UNTIL) = [8, 8, 10, 16, 20, 30] h: median (10 + 16) / 2 = 13 h; mean 92 / 6 = 15.33 h.
    assert m.resolution.count == 6
    assert m.resolution.median_hours == 13
    assert m.resolution.mean_hours == pytest.approx(92 / 6)

    # Decided in the period: met T1, T5, T7; breached T2, T3, T9 -> 3 / 6 = 50 %.
    # Undecided: T4, T6 (clock running), T10 (no clock stopped); T8 decided after UNTIL.
    assert (m.sla.decided, m.sla.met, m.sla.breached) == (6, 3, 3)
    assert m.sla.compliance_pct == 50

    # CSAT answered in the period: 5, 2, 4, 5, 3 -> 3 of 5 are 4-5 -> 60 %.
    assert (m.csat.answers, m.csat.satisfied, m.csat.csat_pct) == (5, 3, 60)

    # NPS, latest per contact in the period: k1 3 (D), k2 9 (P), k3 6 (D), k4 8 (passive)
    # -> (1 - 2) / 4 * 100 = -25.
    assert (m.nps.answers, m.nps.promoters, m.nps.passives, m.nps.detractors) == (4, 1, 1, 2)
    assert m.nps.nps == -25

    # Created in the period: T1, T2, T3, T10 (week 1), T4, T5, T9 (week 2), T6, T8
    # (3-day week 3) = 9; 9 / (17 / 7) = 3.71 per week. Per customer A 3 (T1, T2, T4),
    # B 2, C 2, D 1, none 1. Open at the end: T4, T6, T8 (solved after UNTIL) = 3.
    assert m.load.created == 9
    assert [w.created for w in m.load.weeks] == [4, 3, 2]
    assert [(w.start, w.end) for w in m.load.weeks] == [
        (d(0), d(7)),
        (d(7), d(14)),
        (d(14), d(17)),
    ]
    assert m.load.per_week == pytest.approx(9 * 7 / 17)
    assert m.load.customers == 4
    assert [(c.customer_id, c.created) for c in m.load.top_customers] == [
        ("A", 3),
        ("B", 2),
        ("C", 2),
        ("D", 1),
        (None, 1),
    ]
    assert m.load.open_at_end == 3
    assert (m.tickets_read, m.csat_read, m.nps_read) == (10, 8, 7)

    verdicts = {f.key: f.meets_target for f in m.figures}
    assert verdicts == {
        "first_response_median_hours": True,  # 1.5 < 4
        "first_response_mean_hours": True,  # 2.32 < 4
        "resolution_median_hours": True,  # 13 < 24
        "resolution_mean_hours": True,  # 15.33 < 24
        "sla_compliance_pct": False,  # 50 < 95
        "csat_pct": False,  # 60 <= 90
        "nps": False,  # -25 <= 40
        "tickets_created": None,
        "tickets_per_week": None,
        "open_at_end": None,
    }


def test_empty_inputs_give_no_figures_and_no_error() -> None:
    m = compute_support_metrics([], [], [], SINCE, UNTIL)
    assert m.first_response.count == 0
    assert m.first_response.median_hours is None and m.first_response.mean_hours is None
    assert m.resolution.median_hours is None
    assert m.sla.compliance_pct is None and m.sla.decided == 0
    assert m.csat.csat_pct is None
    assert m.nps.nps is None
    assert m.load.created == 0 and m.load.per_week == 0 and m.load.open_at_end == 0
    assert [w.created for w in m.load.weeks] == [0, 0, 0]
    assert m.load.top_customers == []
    for f in m.figures:
        assert f.meets_target is None
        if f.unit:
            assert f.value is None


def test_everything_outside_the_period_counts_for_nothing() -> None:
    later = SINCE + timedelta(days=100)
    m = compute_support_metrics(TICKETS, CSAT, NPS, later, later + timedelta(days=30))
    assert m.first_response.count == 0 and m.resolution.count == 0
    assert m.sla.decided == 0 and m.sla.compliance_pct is None
    assert m.csat.answers == 0 and m.csat.csat_pct is None
    assert m.nps.answers == 0 and m.nps.nps is None
    assert m.load.created == 0
    # T4 and T6 are still open (created before, never solved); T8 was solved by then.
    assert m.load.open_at_end == 2


def test_all_breached_is_zero_percent_and_misses_the_targets() -> None:
    tickets = [
        ticket(
            f"B{i}",
            "A",
            d(i, 9),
            first_response=(d(i, 16), 420),
            solved=(d(i + 2, 9), 1800),
            breaches=[(FR, d(i, 13)), (RES, d(i + 1, 9))],
        )
        for i in range(3)
    ]
    m = compute_support_metrics(tickets, [], [], SINCE, UNTIL)
    assert (m.sla.decided, m.sla.met, m.sla.breached) == (3, 0, 3)
    assert m.sla.compliance_pct == 0
    verdicts = {f.key: f.meets_target for f in m.figures}
    assert verdicts["sla_compliance_pct"] is False
    assert verdicts["first_response_median_hours"] is False  # 7 h
    assert verdicts["resolution_mean_hours"] is False  # 30 h


def test_a_ticket_breached_before_the_period_is_decided_then_not_when_solved() -> None:
    t = ticket(
        "X",
        "A",
        d(-3),
        first_response=(d(-3, 1), 60),
        solved=(d(1), 2000),
        breaches=[(RES, d(-1))],
    )
    assert sla_outcome(t) == (False, d(-1))
    m = compute_support_metrics([t], [], [], SINCE, UNTIL)
    assert m.sla.decided == 0
    assert m.resolution.count == 1  # solved in the period all the same


def test_a_ticket_without_clocks_is_undecided() -> None:
    t = TicketSlaStatus(ticket_id="N", created_at=d(1), solved_at=d(2), finished=True)
    assert sla_outcome(t) is None


def test_targets_are_strict_where_the_seeds_say_so() -> None:
    targets = SupportTargets()
    assert targets.first_response_hours.meets(4) is False
    assert targets.first_response_hours.meets(3.99) is True
    assert targets.resolution_hours.meets(24) is False
    assert targets.csat_pct.meets(90) is False
    assert targets.csat_pct.meets(90.1) is True
    assert targets.nps.meets(40) is False
    assert targets.nps.meets(41) is True
    assert targets.sla_compliance_pct.meets(95) is True
    assert targets.nps.meets(None) is None
    assert [
        str(t)
        for t in (
            targets.first_response_hours,
            targets.resolution_hours,
            targets.sla_compliance_pct,
            targets.csat_pct,
            targets.nps,
        )
    ] == ["< 4 h", "< 24 h", ">= 95 %", "> 90 %", "> 40"]
    assert str(Target(op="<=", value=1.5, unit="h")) == "<= 1.5 h"


def test_naive_datetimes_are_utc_and_a_repeated_ticket_counts_once() -> None:
    naive = SINCE.replace(tzinfo=None)
    first = ticket("R", "A", d(1), first_response=(d(1, 1), 60))
    again = ticket("R", "A", d(1), first_response=(d(1, 1), 120))
    m = compute_support_metrics([first, again], [], [], naive, naive + timedelta(days=17))
    assert m.since == SINCE
    assert m.first_response.count == 1
    assert m.first_response.median_hours == 2  # the later record wins


def test_an_empty_period_is_refused() -> None:
    with pytest.raises(ValueError, match="empty period"):
        compute_support_metrics([], [], [], UNTIL, SINCE)
