"""Counted nouns in the English texts workflows write (Slack summaries, CRM notes and
tasks, journey records): "1 escalation", "2 escalations", by CLDR's plural rule (Babel)
rather than an "s" added by hand.

Workflows cannot read Babel's locale data inside the sandbox (it opens files): the rule
is loaded and compiled here, at import, which happens outside the sandbox (workflows
import this module passed through). Calling it afterwards is pure and deterministic.
"""

from __future__ import annotations

from babel import Locale

__all__ = ["count_noun", "days"]

_ENGLISH_PLURAL = Locale.parse("en").plural_form
_ENGLISH_PLURAL(1)  # compile the rule now, outside any workflow sandbox


def count_noun(value: int, one: str, other: str | None = None) -> str:
    """``count_noun(1, "escalation")`` → "1 escalation"; ``(2, ...)`` → "2 escalations".
    ``other`` defaults to ``one`` + "s" (give it for irregular nouns)."""
    word = one if _ENGLISH_PLURAL(value) == "one" else (other or f"{one}s")
    return f"{value} {word}"


def days(value: int) -> str:
    """ "1 day", "14 days"."""
    return count_noun(value, "day")
