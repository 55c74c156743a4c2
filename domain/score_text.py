"""Health scores as people read them in messages: at most one decimal.

Scores are computed and stored with two decimals (``55.45``); an alert that says
"health score 5.77" reads like false precision. One decimal, cut rather than rounded,
so that the text never crosses a band threshold the score did not (69.96 is "69.9" and
At risk below 70, never "70"); a whole number shows without ".0".
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal


def _one_decimal(value: float, rounding: str) -> str:
    text = f"{Decimal(repr(value)).quantize(Decimal('0.1'), rounding=rounding):f}"
    text = text.removesuffix(".0")
    return "0" if text == "-0" else text


def score_text(value: float | None) -> str:
    """``5.77`` -> ``"5.7"``, ``90.0`` -> ``"90"``, None or not a number -> ``""``."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return ""
    return _one_decimal(float(value), ROUND_FLOOR)


def delta_text(value: float | None) -> str:
    """A change with its sign, rounded to one decimal: ``-14.25`` -> ``"-14.3"``,
    ``3`` -> ``"+3"``, ``0`` -> ``"±0"``."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return ""
    text = _one_decimal(float(value), ROUND_HALF_UP)
    if text in ("0", "-0"):
        return "±0"
    return text if text.startswith("-") else f"+{text}"
