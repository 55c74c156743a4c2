"""Counted nouns in the English texts workflows write (CRM notes, Slack summaries)."""

from __future__ import annotations

import pytest

from domain.wording import count_noun, days


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0 escalations"), (1, "1 escalation"), (2, "2 escalations"), (11, "11 escalations")],
)
def test_count_noun_follows_the_english_plural_rule(value: int, expected: str) -> None:
    assert count_noun(value, "escalation") == expected


def test_irregular_nouns_and_days() -> None:
    assert count_noun(1, "company", "companies") == "1 company"
    assert count_noun(3, "company", "companies") == "3 companies"
    assert days(1) == "1 day" and days(14) == "14 days"
