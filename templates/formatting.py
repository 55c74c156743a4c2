"""Money, counts and dates in the reader's locale, through Babel (CLDR data).

The templates never divide by 100, add an "s" or spell month names by hand: a ¥1,000
payment is ``¥1,000`` (JPY has no minor unit), a KWD amount has three decimals, "1 day" /
"2 days" / "1 día" / "2 días" follow each language's CLDR plural rules, and a date reads
"March 1, 2027" in en-US, "1 March 2027" in en-GB and "1 de marzo de 2027" in Spanish.

The locale comes from the full language tag the CRM holds (``es-MX``, ``en-GB``), not
only its language: the renderer puts it in the context as ``locale`` and the filters
here read it from there. Pure functions (Babel reads its packaged CLDR data, nothing
else), so they are safe in activities and cheap (parsed locales are cached).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal, get_currency_precision
from babel.units import format_unit
from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

__all__ = [
    "DEFAULT_LOCALE",
    "count_with_noun",
    "duration",
    "install",
    "locale_for",
    "long_date",
    "long_datetime",
    "minor_unit_digits",
    "money",
    "number",
]

DEFAULT_LOCALE = "en_US"
"""English without a region reads as US English (CLDR's ``en``): "March 1, 2027"."""

_TAG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

# CLDR unit ids of the durations the templates count in.
_UNITS = {
    "minute": "duration-minute",
    "hour": "duration-hour",
    "day": "duration-day",
    "week": "duration-week",
    "month": "duration-month",
    "year": "duration-year",
}


@functools.lru_cache(maxsize=256)  # tags come from CRM data: bounded
def _parse(tag: str) -> Locale | None:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def locale_for(tag: str | None, language: str) -> str:
    """The Babel locale id for a reader whose language tag is ``tag`` (``es-MX``,
    ``en_GB``, ``ES``, None) and who reads a text written in ``language`` (``en``, ``es``).

    The tag's region is kept when the text's language exists in it (``es-MX`` → ``es_MX``,
    ``fr-CA`` read in English → ``en_CA``); an unknown or missing tag gives the
    language's default (``en`` → ``en_US`` formats, ``es`` → ``es``).
    """
    parsed = _parse(tag.strip()) if tag and _TAG.match(tag.strip()) else None
    if parsed is not None and parsed.language == language:
        return DEFAULT_LOCALE if str(parsed) == "en" else str(parsed)
    if parsed is not None and parsed.territory:
        regional = _parse(f"{language}_{parsed.territory}")
        if regional is not None:
            return str(regional)
    if language == "en":
        return DEFAULT_LOCALE
    return str(_parse(language) or DEFAULT_LOCALE)


def _locale(locale: str | None) -> Locale:
    return _parse(locale or DEFAULT_LOCALE) or Locale.parse(DEFAULT_LOCALE)


def minor_unit_digits(currency: str) -> int:
    """Decimals of the currency's minor unit (CLDR): JPY and KRW 0, USD 2, KWD and BHD 3.

    Amounts travel as integers in the minor unit, as Stripe sends them (``amount_due``).
    """
    return get_currency_precision(currency.upper())


def money(amount_minor: int, currency: str, locale: str | None = None) -> str:
    """``amount_minor`` (integer minor units: cents, yen, fils) as the locale writes it:
    ``money(1000, "jpy", "en_US")`` → ``¥1,000``; ``money(1234, "usd", "es")`` →
    ``12,34 US$``; ``money(12345, "kwd", "en_US")`` → ``KWD 12.345``."""
    code = currency.strip().upper()
    value = Decimal(int(amount_minor)).scaleb(-minor_unit_digits(code))
    return _currency_spacing(format_currency(value, code, locale=_locale(locale)))


# CLDR's currencySpacing: a symbol that ends (or starts) with a letter, such as an ISO
# code, is kept apart from the digits by a no-break space ("KWD 12.345", not
# "KWD12.345"). Babel applies the locale's pattern but not this rule.
_LETTER_THEN_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)")
_DIGIT_THEN_LETTER = re.compile(r"(?<=\d)(?=[^\W\d_])")


def _currency_spacing(text: str) -> str:
    return _DIGIT_THEN_LETTER.sub("\u00a0", _LETTER_THEN_DIGIT.sub("\u00a0", text))


def number(value: int | float | Decimal, locale: str | None = None) -> str:
    """A number with the locale's grouping and decimal signs (``1,234.5`` / ``1234,5``)."""
    return format_decimal(value, locale=_locale(locale))


def duration(value: int, unit: str, locale: str | None = None) -> str:
    """``3`` ``"day"`` → "3 days" / "3 días"; ``1`` → "1 day" / "1 día" (CLDR units)."""
    try:
        unit_id = _UNITS[unit]
    except KeyError:
        raise ValueError(f"unknown duration unit {unit!r}: use one of {sorted(_UNITS)}") from None
    return format_unit(value, unit_id, length="long", locale=_locale(locale))


def count_with_noun(
    value: int, one: str, other: str, locale: str | None = None, many: str | None = None
) -> str:
    """``2, "account", "accounts"`` → "2 accounts": the noun form follows the locale's
    CLDR plural category for the number (``one``, ``other``; ``many`` where the language
    has it and the caller gave one)."""
    loc = _locale(locale)
    form = loc.plural_form(value)
    word = one if form == "one" else many if form == "many" and many else other
    return f"{format_decimal(value, locale=loc)} {word}"


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def long_date(value: Any, locale: str | None = None, fmt: str = "long") -> str:
    """A date (``date``, ``datetime`` or ISO ``2027-03-01``) as the locale writes it:
    "March 1, 2027" (en-US), "1 March 2027" (en-GB), "1 de marzo de 2027" (es).
    Anything that is not a date is shown as given ("" for None)."""
    day = _as_date(value)
    if day is None:
        return "" if value is None else str(value)
    return format_date(day, format=fmt, locale=_locale(locale))


def long_datetime(value: Any, locale: str | None = None) -> str:
    """An instant (aware ``datetime`` or ISO ``2026-05-04T06:00:00Z``) in UTC, as the
    locale writes a date and a time: "May 4, 2026, 6:00 AM UTC" (en-US), "4 May 2026,
    06:00 UTC" (en-GB). Anything else is shown as given ("" for None)."""
    at: dt.datetime | None = value if isinstance(value, dt.datetime) else None
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            at = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            at = None
    if at is None or at.tzinfo is None:
        return "" if value is None else str(value)
    at = at.astimezone(dt.UTC)
    loc = _locale(locale)
    when = format_date(at.date(), format="long", locale=loc)
    return f"{when}, {format_time(at.time(), format='short', locale=loc)} UTC"


# ------------------------------------------------------------------- Jinja filters


def _ctx_locale(ctx: Context) -> str:
    value = ctx.get("locale")
    if not isinstance(value, str) or not value:
        # A macro file imported without context does not see the renderer's locale:
        # fail here rather than write a Spanish e-mail's dates in English.
        raise ValueError(
            f"{ctx.name}: the money/number/duration/plural/long_date filters need `locale` "
            "in the context (import a macro file that uses them `with context`)"
        )
    return value


def _defined(*values: Any) -> None:
    """A missing variable stays an error naming it (StrictUndefined), not a TypeError."""
    for value in values:
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()


@pass_context
def _money_filter(ctx: Context, amount_minor: int, currency: str) -> str:
    _defined(amount_minor, currency)
    return money(amount_minor, currency, _ctx_locale(ctx))


@pass_context
def _number_filter(ctx: Context, value: int | float) -> str:
    _defined(value)
    return number(value, _ctx_locale(ctx))


@pass_context
def _duration_filter(ctx: Context, value: int, unit: str) -> str:
    _defined(value)
    return duration(value, unit, _ctx_locale(ctx))


@pass_context
def _plural_filter(ctx: Context, value: int, one: str, other: str, many: str | None = None) -> str:
    _defined(value)
    return count_with_noun(value, one, other, _ctx_locale(ctx), many=many)


@pass_context
def _date_filter(ctx: Context, value: Any, fmt: str = "long") -> str:
    _defined(value)
    return long_date(value, _ctx_locale(ctx), fmt)


@pass_context
def _datetime_filter(ctx: Context, value: Any) -> str:
    _defined(value)
    return long_datetime(value, _ctx_locale(ctx))


def install(env: Any) -> None:
    """Add the filters to a Jinja environment: ``money(currency)``, ``number``,
    ``duration(unit)``, ``plural(one, other)``, ``long_date``. Each reads ``locale``
    from the template context (the renderer sets it)."""
    env.filters["money"] = _money_filter
    env.filters["number"] = _number_filter
    env.filters["duration"] = _duration_filter
    env.filters["plural"] = _plural_filter
    env.filters["long_date"] = _date_filter
    env.filters["long_datetime"] = _datetime_filter
