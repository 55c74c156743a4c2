"""Evaluation of HubSpot CRM search requests (filters, free-text query, sorting).

Values are compared the way HubSpot compares them closely enough for tests: numbers as
numbers, dates (epoch ms or ISO-8601) as instants, everything else as case-insensitive
text. ``associations.company`` style filters match on associated object ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sandbox.clock import parse_instant
from sandbox.hubspot_assoc import canonical_type
from sandbox.hubspot_models import Filter, FilterGroup, SearchBody, SortSpec
from sandbox.hubspot_state import CrmObject

# (object, associated type) -> associated ids
AssociationLookup = Callable[[CrmObject, str], Sequence[str]]

Comparable = tuple[int, float, str]


def comparable(value: object) -> Comparable:
    """A sort/compare key: numbers and instants numerically, other text case-insensitively."""
    text = "" if value is None else str(value).strip()
    try:
        return (0, float(text), "")
    except ValueError:
        pass
    if len(text) >= 10 and text[4:5] == "-":
        instant = parse_instant(text)
        if instant is not None:
            return (0, instant.timestamp() * 1000, "")
    return (1, 0.0, text.lower())


def _matches(obj: CrmObject, flt: Filter, associated: AssociationLookup) -> bool:
    if flt.propertyName.startswith("associations."):
        to_type = canonical_type(flt.propertyName.split(".", 1)[1])
        actual_values: list[str | None] = (
            list(associated(obj, to_type)) if to_type is not None else []
        )
    else:
        actual_values = [obj.properties.get(flt.propertyName)]
    present = [v for v in actual_values if v not in (None, "")]
    op = flt.operator
    if op == "HAS_PROPERTY":
        return bool(present)
    if op == "NOT_HAS_PROPERTY":
        return not present
    if op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN"):
        positive = {"NEQ": "EQ", "NOT_IN": "IN", "NOT_CONTAINS_TOKEN": "CONTAINS_TOKEN"}[op]
        return not _matches(obj, flt.model_copy(update={"operator": positive}), associated)
    return any(_compare(v, flt) for v in present)


def _compare(actual: str | None, flt: Filter) -> bool:
    op = flt.operator
    left = comparable(actual)
    if op == "IN":
        return any(left == comparable(v) for v in flt.values or [])
    if op == "CONTAINS_TOKEN":
        token = str(flt.value or "").lower().strip("*")
        return token in str(actual or "").lower()
    right = comparable(flt.value)
    if op == "BETWEEN":
        return right <= left <= comparable(flt.highValue)
    checks: dict[str, Callable[[Comparable, Comparable], bool]] = {
        "EQ": lambda a, b: a == b,
        "LT": lambda a, b: a < b,
        "LTE": lambda a, b: a <= b,
        "GT": lambda a, b: a > b,
        "GTE": lambda a, b: a >= b,
    }
    return checks[op](left, right)


def _group_matches(obj: CrmObject, group: FilterGroup, associated: AssociationLookup) -> bool:
    return all(_matches(obj, f, associated) for f in group.filters)


def _query_matches(obj: CrmObject, query: str | None) -> bool:
    if not query:
        return True
    needle = query.lower()
    return any(needle in (v or "").lower() for v in obj.properties.values())


def _sort_specs(sorts: Sequence[SortSpec | str]) -> list[SortSpec]:
    specs: list[SortSpec] = []
    for sort in sorts:
        if isinstance(sort, SortSpec):
            specs.append(sort)
        elif sort.startswith("-"):
            specs.append(SortSpec(propertyName=sort[1:], direction="DESCENDING"))
        else:
            specs.append(SortSpec(propertyName=sort))
    return specs


def _by_property(name: str) -> Callable[[CrmObject], Comparable]:
    return lambda obj: comparable(obj.properties.get(name))


def search(
    objects: Sequence[CrmObject], body: SearchBody, associated: AssociationLookup
) -> list[CrmObject]:
    """All objects matching the request, sorted (default: by id ascending)."""
    found = [
        o
        for o in objects
        if _query_matches(o, body.query)
        and (
            not body.filterGroups
            or any(_group_matches(o, g, associated) for g in body.filterGroups)
        )
    ]
    found.sort(key=lambda o: comparable(o.id))
    for spec in reversed(_sort_specs(body.sorts)):
        name = spec.propertyName
        with_value = [o for o in found if o.properties.get(name) not in (None, "")]
        without = [o for o in found if o.properties.get(name) in (None, "")]
        with_value.sort(key=_by_property(name), reverse=spec.direction == "DESCENDING")
        found = with_value + without  # objects without the value sort last either way
    return found
