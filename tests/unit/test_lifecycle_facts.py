"""The CRM properties a workflow writes for the executive report: what the report reads
back is what was written, unknown facts are left out (never blanked), a name the report
does not read is refused."""

from __future__ import annotations

from datetime import date

import pytest

from domain import executive_report as er


def test_dates_are_iso_days_amounts_decimals_and_unknowns_left_out() -> None:
    props = er.lifecycle_properties(
        {
            er.RENEWAL_OUTCOME: "renewed",
            er.RENEWAL_DECIDED_AT: date(2027, 3, 1),
            er.ARR_BEFORE_RENEWAL: 12000.0,
            er.ARR: None,  # not told the new ARR: the company keeps the one it has
        }
    )
    assert props == {
        er.RENEWAL_OUTCOME: "renewed",
        er.RENEWAL_DECIDED_AT: "2027-03-01",
        er.ARR_BEFORE_RENEWAL: "12000.00",
    }
    assert er.parse_day(props[er.RENEWAL_DECIDED_AT]) == date(2027, 3, 1)


def test_a_property_the_report_does_not_read_is_refused() -> None:
    with pytest.raises(ValueError, match="cshub_arr_after"):
        er.lifecycle_properties({"cshub_arr_after": 1.0})


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-05-04", date(2026, 5, 4)),
        ("2026-05-04T23:10:00Z", date(2026, 5, 4)),
        ("", None),
        (None, None),
        ("next week", None),
    ],
)
def test_a_day_is_read_from_an_iso_day_or_timestamp_only(
    text: str | None, day: date | None
) -> None:
    assert er.parse_day(text) == day
