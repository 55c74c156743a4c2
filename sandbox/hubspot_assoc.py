"""HubSpot object types and the HUBSPOT_DEFINED association type ids the sandbox knows.

Association type ids are directional (``task -> company`` is 192, ``company -> task`` is
191), so an id alone names both the target object type and its inverse. The table holds
the real HubSpot ids for the object types the hub uses; an id not in it is rejected with
400, as HubSpot does, so a wrong id in configuration shows up in the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass

OBJECT_TYPES: tuple[str, ...] = ("companies", "contacts", "deals", "tasks", "notes", "emails")

SINGULAR: dict[str, str] = {
    "companies": "company",
    "contacts": "contact",
    "deals": "deal",
    "tasks": "task",
    "notes": "note",
    "emails": "email",
}

OBJECT_TYPE_IDS: dict[str, str] = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "tasks": "0-27",
    "notes": "0-46",
    "emails": "0-49",
}

# Also accepted in URLs: singular names and object type ids, as HubSpot does.
_ALIASES: dict[str, str] = {
    **{name: name for name in OBJECT_TYPES},
    **{single: plural for plural, single in SINGULAR.items()},
    **{type_id: plural for plural, type_id in OBJECT_TYPE_IDS.items()},
}


def canonical_type(name: str) -> str | None:
    """``companies`` for ``companies``/``company``/``0-2``; None for an unknown type."""
    return _ALIASES.get(name.lower())


@dataclass(frozen=True)
class AssociationType:
    type_id: int
    from_type: str
    to_type: str
    inverse_id: int
    label: str | None  # "Primary" for the primary-company/contact labels, else None


# (from, to, id, inverse id, label): the inverse direction is derived.
_PAIRS: tuple[tuple[str, str, int, int, str | None], ...] = (
    ("contacts", "companies", 279, 280, None),
    ("contacts", "companies", 1, 2, "Primary"),
    ("deals", "companies", 341, 342, None),
    ("deals", "companies", 5, 6, "Primary"),
    ("deals", "contacts", 3, 4, None),
    ("tasks", "companies", 192, 191, None),
    ("tasks", "contacts", 204, 203, None),
    ("tasks", "deals", 216, 215, None),
    ("notes", "companies", 190, 189, None),
    ("notes", "contacts", 202, 201, None),
    ("notes", "deals", 214, 213, None),
    ("emails", "companies", 186, 185, None),
    ("emails", "contacts", 198, 197, None),
    ("emails", "deals", 210, 209, None),
)

ASSOCIATION_TYPES: dict[int, AssociationType] = {}
for _from, _to, _id, _inverse, _label in _PAIRS:
    ASSOCIATION_TYPES[_id] = AssociationType(_id, _from, _to, _inverse, _label)
    ASSOCIATION_TYPES[_inverse] = AssociationType(_inverse, _to, _from, _id, _label)

# The unlabeled type used by the v4 "default" endpoint for each direction.
DEFAULT_TYPE_IDS: dict[tuple[str, str], int] = {
    (t.from_type, t.to_type): t.type_id for t in ASSOCIATION_TYPES.values() if t.label is None
}


def association_name(from_type: str, to_type: str) -> str:
    """The v3 association ``type`` string, e.g. ``company_to_contact``."""
    return f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"


def known_type_ids(from_type: str) -> list[int]:
    return sorted(t.type_id for t in ASSOCIATION_TYPES.values() if t.from_type == from_type)
