"""HubSpot CRM state: objects, owners, associations, and the validation HubSpot applies.

Rules copied from HubSpot because connectors must survive them in production:
property values are stored and returned as strings; reads return a small default set of
properties unless others are asked for; engagement timestamps are required; enumeration
properties, owner ids, dates and association type ids are checked (400 otherwise).
Unknown properties are accepted and stored (custom properties need no schema here).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.clock import iso_ms, parse_instant, utcnow
from sandbox.hubspot_assoc import (
    ASSOCIATION_TYPES,
    DEFAULT_TYPE_IDS,
    OBJECT_TYPES,
    SINGULAR,
    AssociationType,
    association_name,
    known_type_ids,
)

JsonDict = dict[str, Any]

CREATED_PROPERTY: dict[str, str] = {
    "companies": "createdate",
    "contacts": "createdate",
    "deals": "createdate",
    "tasks": "hs_createdate",
    "notes": "hs_createdate",
    "emails": "hs_createdate",
}
MODIFIED_PROPERTY: dict[str, str] = {
    "companies": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "tasks": "hs_lastmodifieddate",
    "notes": "hs_lastmodifieddate",
    "emails": "hs_lastmodifieddate",
}
# What HubSpot returns when the request names no properties.
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    "tasks": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "emails": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
READ_ONLY_PROPERTIES = frozenset(
    {"hs_object_id", "createdate", "hs_createdate", "hs_lastmodifieddate", "lastmodifieddate"}
)
ENUMERATIONS: dict[str, frozenset[str]] = {
    "hs_task_status": frozenset({"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"}),
    "hs_task_priority": frozenset({"NONE", "LOW", "MEDIUM", "HIGH"}),
    "hs_task_type": frozenset({"TODO", "CALL", "EMAIL", "LINKED_IN", "MEETING"}),
    "hs_email_direction": frozenset({"EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"}),
    "cshub_tier": frozenset({"community", "starter", "professional", "enterprise", "agency"}),
}
DATE_PROPERTIES = frozenset({"hs_timestamp", "closedate"})
ATTACHMENT_IDS = "hs_attachment_ids"
"""An engagement's (task, note) attached files: file manager ids, separated by ";"."""
REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {
    "tasks": ("hs_timestamp",),
    "notes": ("hs_timestamp",),
    "emails": ("hs_timestamp",),
}
FIRST_RUNTIME_ID = 100001
MAX_BULK_COMPANIES = 100_000
# (tier, weight, seats range, features available, workflow runs limit) for bulk companies
_BULK_TIERS: tuple[tuple[str, int, tuple[int, int], int, int], ...] = (
    ("community", 40, (1, 5), 8, 100),
    ("starter", 30, (5, 25), 15, 1_000),
    ("professional", 20, (20, 100), 25, 10_000),
    ("enterprise", 10, (100, 1_000), 40, 100_000),
)
_BULK_RATINGS = (
    "cshub_health_engagement",
    "cshub_health_feedback",
    "cshub_health_integration",
    "cshub_health_performance",
    "cshub_health_security",
    "cshub_health_upgrade_readiness",
    "cshub_health_account_expansion",
)
_BULK_TIMEZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "America/Chicago")


class CrmError(Exception):
    """A HubSpot error answer: rendered as ``{"status":"error","category",...}``."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[JsonDict] | None = None,
        context: JsonDict | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors
        self.context = context


def not_found(object_type: str, object_id: str) -> CrmError:
    return CrmError(
        404,
        "OBJECT_NOT_FOUND",
        "resource not found",
        context={"id": [object_id], "type": [SINGULAR.get(object_type, object_type).upper()]},
    )


@dataclass
class CrmObject:
    object_type: str
    id: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    seeded: bool = False

    def to_json(self, properties: Iterable[str] | None = None) -> JsonDict:
        """The SimplePublicObject shape; ``properties`` None = the type's default set."""
        names = DEFAULT_PROPERTIES[self.object_type] if properties is None else properties
        wanted = dict.fromkeys(names)
        if properties is not None:  # HubSpot always adds these three
            for always in ("hs_object_id", CREATED_PROPERTY[self.object_type]):
                wanted[always] = None
            wanted[MODIFIED_PROPERTY[self.object_type]] = None
        return {
            "id": self.id,
            "properties": {name: self.properties.get(name) for name in wanted},
            "createdAt": iso_ms(self.created_at),
            "updatedAt": iso_ms(self.updated_at),
            "archived": False,
        }


@dataclass(frozen=True)
class Owner:
    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    created_at: datetime

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "createdAt": iso_ms(self.created_at),
            "updatedAt": iso_ms(self.created_at),
            "archived": False,
            "teams": [],
        }


def normalize_value(value: object) -> str | None:
    """HubSpot keeps every property value as a string."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _varied_health_inputs(
    object_id: str, owners: Sequence[str], now: datetime
) -> dict[str, str | None]:
    """Deterministic health inputs for one bulk company, spread from critical to healthy.

    One hidden "health" draw per company drives every input (plus noise), so the inputs
    agree with each other the way real accounts' do and scores cover the whole range.
    """
    rng = random.Random(f"cshub-bulk-company:{object_id}")
    health = 1 - (1 - rng.random()) ** 2  # most accounts do fine, a tail does not

    def share(spread: float) -> float:
        return min(1.0, max(0.0, health + rng.uniform(-spread, spread)))

    tier, _, (seats_lo, seats_hi), features, workflow_limit = rng.choices(
        _BULK_TIERS, weights=[t[1] for t in _BULK_TIERS]
    )[0]
    seats = rng.randint(seats_lo, seats_hi)
    if health < 0.15:
        payment = rng.choice(("past_due", "failed", "current"))
    elif health < 0.35:
        payment = "past_due" if rng.random() < 0.2 else "current"
    else:
        payment = "current"
    touched = now.date() - timedelta(days=int((1 - health) * 90) + rng.randint(0, 30))
    values: dict[str, object] = {
        "cshub_tier": tier,
        "hubspot_owner_id": rng.choice(owners) if owners else None,
        "cshub_timezone": rng.choice(_BULK_TIMEZONES),
        "cshub_licensed_seats": seats,
        "cshub_active_users": int(seats * 0.9 * share(0.2)),
        "cshub_features_available": features,
        "cshub_features_adopted": round(features * share(0.25)),
        "cshub_workflow_limit": workflow_limit,
        "cshub_workflow_runs": round(workflow_limit * 0.9 * share(0.2)),
        "cshub_open_tickets": int((1 - health) * 8) + rng.randint(0, 2),
        "cshub_nps_score": round(
            max(-100.0, min(100.0, (2 * health - 1) * 100 + rng.gauss(0, 20)))
        ),
        "cshub_payment_status": payment,
        "notes_last_contacted": touched.isoformat(),
    }
    # The rest of the health model's inputs (drawn after the ones above, so those keep
    # their values): logins, the latest NPS answer 0-10, CSAT, critical tickets, and the
    # CSM's assessments on the tiers scored with seed 001.
    values["cshub_login_days_30d"] = round(30 * share(0.25))
    values["cshub_nps_last_score"] = round(10 * share(0.3))
    values["cshub_csat_percent"] = round(100 * share(0.2))
    values["cshub_critical_tickets_open"] = 0 if health > 0.4 else rng.randint(0, 3)
    if tier in ("professional", "enterprise"):
        for prop in _BULK_RATINGS:
            level = share(0.3)
            values[prop] = (
                "excellent"
                if level > 0.8
                else "good"
                if level > 0.6
                else "fair"
                if level > 0.35
                else "poor"
            )
        values["cshub_days_to_first_value"] = int((1 - share(0.2)) * 120)
        values["cshub_roi_percent"] = round(300 * share(0.3) - 50)
        values["cshub_use_cases_expanded_90d"] = int(4 * share(0.3))
    values["createdate"] = iso_ms(now - timedelta(days=rng.randint(5, 400)))
    return {k: normalize_value(v) for k, v in values.items()}


def _invalid(name: str, code: str, message: str) -> JsonDict:
    return {"isValid": False, "message": message, "error": code, "name": name}


@dataclass
class HubSpotState:
    objects: dict[str, dict[str, CrmObject]] = field(
        default_factory=lambda: {t: {} for t in OBJECT_TYPES}
    )
    owners: dict[str, Owner] = field(default_factory=dict)
    # (from type, from id, to type) -> {to id: association type ids}, in insertion order
    _links: dict[tuple[str, str, str], dict[str, set[int]]] = field(default_factory=dict)
    _next_id: int = FIRST_RUNTIME_ID

    # -- objects -------------------------------------------------------------------

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id - 1)

    def get(self, object_type: str, object_id: str) -> CrmObject:
        obj = self.objects.setdefault(object_type, {}).get(object_id)
        if obj is None:
            raise not_found(object_type, object_id)
        return obj

    def find(self, object_type: str, prop: str, value: str) -> CrmObject | None:
        """The object whose ``prop`` equals ``value`` (for ``idProperty`` look-ups)."""
        if prop in ("hs_object_id", "id"):
            return self.objects[object_type].get(value)
        return next(
            (o for o in self.objects[object_type].values() if o.properties.get(prop) == value),
            None,
        )

    def create(
        self,
        object_type: str,
        properties: Mapping[str, object],
        associations: Sequence[tuple[str, int]] = (),
        *,
        object_id: str | None = None,
        seeded: bool = False,
        at: datetime | None = None,
    ) -> CrmObject:
        """Validate and store a new object with its associations ``(to id, type id)``."""
        values = {k: normalize_value(v) for k, v in properties.items()}
        self.validate(object_type, values, creating=True)
        links = [
            self._check_association(object_type, to_id, type_id) for to_id, type_id in associations
        ]
        now = at or utcnow()
        new_id = object_id or self.new_id()
        values.update(
            {
                "hs_object_id": new_id,
                CREATED_PROPERTY[object_type]: iso_ms(now),
                MODIFIED_PROPERTY[object_type]: iso_ms(now),
            }
        )
        obj = CrmObject(object_type, new_id, values, now, now, seeded)
        self.objects[object_type][new_id] = obj
        for (to_id, _), assoc in zip(associations, links, strict=True):
            self._link(assoc, new_id, to_id)
        return obj

    def update(
        self, object_type: str, object_id: str, properties: Mapping[str, object]
    ) -> CrmObject:
        obj = self.get(object_type, object_id)
        values = {k: normalize_value(v) for k, v in properties.items()}
        self.validate(object_type, values, creating=False)
        now = utcnow()
        obj.properties.update(values)
        obj.properties[MODIFIED_PROPERTY[object_type]] = iso_ms(now)
        obj.updated_at = now
        return obj

    def validate(
        self, object_type: str, properties: Mapping[str, object], *, creating: bool
    ) -> None:
        """Raise a 400 ``CrmError`` listing every invalid property value."""
        values = {k: normalize_value(v) for k, v in properties.items()}
        problems: list[JsonDict] = []
        for name, value in values.items():
            if name in READ_ONLY_PROPERTIES:
                problems.append(
                    _invalid(name, "READ_ONLY_VALUE", f"{name} is a read only property")
                )
            elif value is None or value == "":
                continue
            elif name in ENUMERATIONS and value not in ENUMERATIONS[name]:
                options = ", ".join(sorted(ENUMERATIONS[name]))
                problems.append(
                    _invalid(
                        name,
                        "INVALID_OPTION",
                        f"{value} was not one of the allowed options: [{options}]",
                    )
                )
            elif name in DATE_PROPERTIES and parse_instant(value) is None:
                problems.append(
                    _invalid(
                        name,
                        "INVALID_DATE",
                        f"{value} is not a valid date: use epoch milliseconds or ISO-8601",
                    )
                )
            elif name == ATTACHMENT_IDS and not all(
                part.strip().isdigit() for part in str(value).split(";")
            ):
                problems.append(
                    _invalid(
                        name,
                        "INVALID_INTEGER",
                        f"{value} is not a list of file ids separated by semicolons",
                    )
                )
            elif name == "hubspot_owner_id" and value not in self.owners:
                problems.append(
                    _invalid(name, "INVALID_OWNER_ID", f"{value} is not a valid owner id")
                )
        if creating:
            problems += [
                _invalid(name, "REQUIRED", f"{name} is required when creating {object_type}")
                for name in REQUIRED_ON_CREATE.get(object_type, ())
                if not values.get(name)
            ]
        if problems:
            raise CrmError(
                400,
                "VALIDATION_ERROR",
                f"Property values were not valid: {json.dumps(problems)}",
                errors=[
                    {
                        "message": p["message"],
                        "code": p["error"],
                        "context": {"propertyName": [p["name"]]},
                    }
                    for p in problems
                ],
            )

    def bulk_create_companies(
        self,
        count: int,
        *,
        id_start: int | None = None,
        properties: Mapping[str, object] | None = None,
        vary: bool = False,
    ) -> list[CrmObject]:
        """``count`` synthetic companies with ids ``id_start``.. (default: the next runtime
        id), for load tests. Each gets ``Bulk Company {id}``, a domain and lifecycle stage;
        ``vary`` adds health inputs drawn from a generator seeded by the id (the same id
        always gets the same values; ``notes_last_contacted`` and ``createdate`` count
        days back from today);
        ``properties`` are set on every company and win over varied values.

        All or nothing: bad default values (400) or an id that is taken (409) create none.
        Ids handed out later (``new_id``) start above the last bulk id.
        """
        if not 1 <= count <= MAX_BULK_COMPANIES:
            raise CrmError(400, "VALIDATION_ERROR", f"count must be 1..{MAX_BULK_COMPANIES}")
        first = self._next_id if id_start is None else id_start
        if first < 1:
            raise CrmError(400, "VALIDATION_ERROR", "id_start must be a positive integer")
        defaults = {k: normalize_value(v) for k, v in (properties or {}).items()}
        # HubSpot lets an import set createdate (an existing customer's start date).
        self.validate(
            "companies", {k: v for k, v in defaults.items() if k != "createdate"}, creating=True
        )
        created_at = defaults.get("createdate")
        if created_at is not None and parse_instant(created_at) is None:
            raise CrmError(400, "VALIDATION_ERROR", f"createdate {created_at!r} is not a date")
        companies = self.objects["companies"]
        ids = [str(first + n) for n in range(count)]
        taken = [i for i in ids if i in companies]
        if taken:
            raise CrmError(
                409,
                "CONFLICT",
                f"{len(taken)} of the ids {ids[0]}..{ids[-1]} are taken (first: {taken[0]})",
            )
        owners = sorted(self.owners, key=int)
        now = utcnow()
        stamp = iso_ms(now)
        created: list[CrmObject] = []
        for object_id in ids:
            values: dict[str, str | None] = {
                "name": f"Bulk Company {object_id}",
                "domain": f"bulk-{object_id}.example.com",
                "lifecyclestage": "customer",
            }
            values["createdate"] = stamp
            if vary:
                values |= _varied_health_inputs(object_id, owners, now)
            values |= defaults  # may set createdate (an older customer)
            values |= {"hs_object_id": object_id, "hs_lastmodifieddate": stamp}
            obj = CrmObject("companies", object_id, values, now, now)
            companies[object_id] = obj
            created.append(obj)
        self._next_id = max(self._next_id, first + count)
        return created

    # -- associations ----------------------------------------------------------------

    def _check_association(self, from_type: str, to_id: str, type_id: int) -> AssociationType:
        assoc = ASSOCIATION_TYPES.get(type_id)
        if assoc is None or assoc.from_type != from_type:
            raise CrmError(
                400,
                "VALIDATION_ERROR",
                f"One or more associations are invalid: association type id {type_id} does not "
                f"start at {from_type} (known ids from {from_type}: {known_type_ids(from_type)})",
            )
        if to_id not in self.objects[assoc.to_type]:
            raise CrmError(
                400,
                "VALIDATION_ERROR",
                f"One or more associations are invalid: {SINGULAR[assoc.to_type]} {to_id} "
                "does not exist",
            )
        return assoc

    def _link(self, assoc: AssociationType, from_id: str, to_id: str) -> None:
        self._links.setdefault((assoc.from_type, from_id, assoc.to_type), {}).setdefault(
            to_id, set()
        ).add(assoc.type_id)
        self._links.setdefault((assoc.to_type, to_id, assoc.from_type), {}).setdefault(
            from_id, set()
        ).add(assoc.inverse_id)

    def associate(self, from_type: str, from_id: str, to_id: str, type_id: int) -> AssociationType:
        """Associate two existing objects with one association type (both directions)."""
        self.get(from_type, from_id)
        assoc = self._check_association(from_type, to_id, type_id)
        self._link(assoc, from_id, to_id)
        return assoc

    def associate_default(
        self, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> AssociationType:
        """The v4 "default" association: the unlabeled type for this pair of types."""
        type_id = DEFAULT_TYPE_IDS.get((from_type, to_type))
        if type_id is None:
            raise CrmError(
                400,
                "VALIDATION_ERROR",
                f"No default association exists from {from_type} to {to_type}",
            )
        self.get(from_type, from_id)
        self.get(to_type, to_id)
        return self.associate(from_type, from_id, to_id, type_id)

    def associations(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        """``{to id: type ids}`` in the order the associations were made."""
        return self._links.get((from_type, from_id, to_type), {})

    def associations_json(self, obj: CrmObject, to_types: Iterable[str]) -> JsonDict:
        """The v3 ``associations`` block (types without associations are left out)."""
        result: JsonDict = {}
        for to_type in to_types:
            linked = self.associations(obj.object_type, obj.id, to_type)
            if linked:
                name = association_name(obj.object_type, to_type)
                result[to_type] = {"results": [{"id": i, "type": name} for i in linked]}
        return result
