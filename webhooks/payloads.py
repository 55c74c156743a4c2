"""What each sender posts, as pydantic models (validated after the signature check).

Unknown fields are kept (senders add fields over time); missing required ones are a
422 naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from domain.journeys import CUSTOMER_ID_PATTERN
from domain.tiers import ProductEventType
from domain.usage import UsageFigures
from webhooks.event_ids import EventId, EventType

LATEST_EVENT_TIME = datetime(2100, 1, 1, tzinfo=UTC)
"""No genuine event happened after this: a later time is a malformed payload (422), not
a date the hub would overflow on (``datetime`` ends at year 9999)."""
LATEST_EPOCH_S = int(LATEST_EVENT_TIME.timestamp())


def _not_after_latest(value: datetime | None) -> datetime | None:
    if value is not None and (value if value.tzinfo else value.replace(tzinfo=UTC)) > (
        LATEST_EVENT_TIME
    ):
        raise ValueError(f"must be before {LATEST_EVENT_TIME:%Y-%m-%d}")
    return value


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class HubSpotWebhookEvent(_Payload):
    """One entry of HubSpot's webhook array (Webhooks API v3), in either format:

    - legacy: ``subscriptionType`` names the object (``deal.propertyChange``,
      ``contact.creation``, ``company.associationChange`` …);
    - generic (apps created today): ``object.propertyChange``, ``object.creation``,
      ``object.deletion``, ``object.merge``, ``object.restore``,
      ``object.associationChange``, with the object type in ``objectTypeId``
      (``0-1`` contact, ``0-2`` company, ``0-3`` deal, ``0-5`` ticket).

    Association changes carry ``fromObjectId`` / ``toObjectId`` instead of ``objectId``;
    merges carry ``primaryObjectId`` and ``mergedObjectIds``."""

    eventId: int | EventId
    subscriptionType: EventType = Field(
        examples=["deal.propertyChange", "object.propertyChange", "object.associationChange"],
    )
    objectId: int | EventId | None = None
    occurredAt: int = Field(ge=0, le=LATEST_EPOCH_S * 1000, description="epoch milliseconds")
    objectTypeId: str | None = Field(default=None, max_length=40, examples=["0-3"])
    portalId: int | None = None
    appId: int | None = None
    subscriptionId: int | None = None
    attemptNumber: int | None = None
    propertyName: str | None = None
    propertyValue: str | None = None
    changeSource: str | None = None
    changeFlag: str | None = None
    sourceId: str | None = None
    # associationChange
    associationType: str | None = Field(default=None, examples=["CONTACT_TO_COMPANY"])
    associationTypeId: int | None = None
    associationCategory: str | None = None
    fromObjectTypeId: str | None = Field(default=None, max_length=40)
    toObjectTypeId: str | None = Field(default=None, max_length=40)
    fromObjectId: int | EventId | None = None
    toObjectId: int | EventId | None = None
    associationRemoved: bool | None = None
    isPrimaryAssociation: bool | None = None
    # merge
    primaryObjectId: int | EventId | None = None
    mergedObjectIds: list[int | str] | None = None
    newObjectId: int | EventId | None = None
    numberOfPropertiesMoved: int | None = None

    @model_validator(mode="after")
    def _names_an_object(self) -> HubSpotWebhookEvent:
        """Every event names the object(s) it is about, in its type's own fields."""
        kind = self.subscriptionType.rsplit(".", 1)[-1]
        if kind == "associationChange":
            if self.objectId is None and (self.fromObjectId is None or self.toObjectId is None):
                raise ValueError("an associationChange needs fromObjectId and toObjectId")
            return self  # the object types are optional: without them it is "object"
        if kind == "merge":
            if self.objectId is None and self.primaryObjectId is None:
                raise ValueError("a merge needs objectId or primaryObjectId")
        elif self.objectId is None:
            raise ValueError("objectId: Field required")
        if self.subscriptionType.startswith("object.") and not self.objectTypeId:
            raise ValueError(f"a generic {self.subscriptionType} event needs objectTypeId")
        return self


HUBSPOT_MAX_BATCH = 100


class StripeEventData(_Payload):
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


class StripeWebhookEvent(_Payload):
    id: EventId = Field(examples=["evt_1QxYz"])
    type: EventType = Field(examples=["invoice.payment_failed"])
    created: int = Field(ge=0, le=LATEST_EPOCH_S, description="epoch seconds")
    data: StripeEventData
    livemode: bool | None = None


class ZendeskWebhookEvent(_Payload):
    """Zendesk event-subscription webhooks (``zen:event-type:ticket.created`` …)."""

    id: EventId
    type: EventType = Field(examples=["zen:event-type:ticket.created"])
    time: datetime
    account_id: int | None = None
    subject: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    event: dict[str, Any] = Field(default_factory=dict)

    _time_bound = field_validator("time")(_not_after_latest)


def _blank_is_none(value: Any) -> Any:
    """A placeholder Zendesk rendered empty (no organisation, no priority) or as "-"."""
    if isinstance(value, str) and value.strip() in ("", "-"):
        return None
    return value


class ZendeskTriggerBody(_Payload):
    """The JSON body an admin writes into a Zendesk trigger or automation ("Notify by >
    Active webhook"), with Zendesk's placeholders. One trigger per ``event``; the
    trigger's conditions decide when it fires (docs/senders/zendesk.md)."""

    event: Literal[
        "ticket.created", "ticket.status_changed", "ticket.priority_changed", "ticket.agent_replied"
    ] = Field(examples=["ticket.created"])
    ticket_id: str = Field(pattern=r"^[0-9]{1,20}$", examples=["{{ticket.id}}"])
    status: str | None = Field(default=None, max_length=40, examples=["{{ticket.status}}"])
    priority: str | None = Field(default=None, max_length=40, examples=["{{ticket.priority}}"])
    organization_external_id: str | None = Field(
        default=None, max_length=200, examples=["{{ticket.organization.external_id}}"]
    )
    updated_at: datetime | None = Field(
        default=None, examples=["{{ticket.updated_at_with_timestamp}}"]
    )

    _blanks = field_validator(
        "status", "priority", "organization_external_id", "updated_at", mode="before"
    )(_blank_is_none)
    _time_bound = field_validator("updated_at")(_not_after_latest)


USAGE_SNAPSHOT = "usage_snapshot"
"""The product's current usage figures for one customer (``usage`` object). Not an
onboarding event (:class:`ProductEventType`): it has its own route and workflow."""

SNAPSHOT_MAX_AHEAD = timedelta(minutes=5)
"""How far in the future a snapshot's ``occurred_at`` may be (clock skew): a snapshot
dated later would make every real one look older until then."""


class ProductWebhookEvent(_Payload):
    """A product-usage event, posted by the product's backend.

    ``type`` is an onboarding event (``first_login`` …, with ``count`` / ``percent`` /
    ``limit_name``) or ``usage_snapshot``, which needs ``occurred_at`` and ``usage``."""

    event_id: EventId = Field(examples=["evt_7f3a"])
    type: ProductEventType | Literal["usage_snapshot"]
    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN, examples=["1001"])
    occurred_at: datetime | None = Field(default=None, validate_default=True)
    count: int = Field(default=1, ge=1, le=10_000)
    percent: float | None = Field(default=None, ge=0, le=1000)
    limit_name: str | None = None
    usage: UsageFigures | None = Field(
        default=None,
        validate_default=True,
        description="usage_snapshot: the current figures (any subset, at least one)",
        examples=[{"active_users": 12, "licensed_seats": 20, "login_days_30d": 18}],
    )

    @field_validator("type", mode="wrap")
    @classmethod
    def _known_type(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """One error naming ``type`` (not one per member of the union)."""
        try:
            return handler(value)
        except ValidationError:
            known = ", ".join([*(f"'{t.value}'" for t in ProductEventType), f"'{USAGE_SNAPSHOT}'"])
            raise PydanticCustomError(
                "enum", "Input should be one of {expected}", {"expected": known}
            ) from None

    @field_validator("occurred_at")
    @classmethod
    def _snapshot_time(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        _not_after_latest(value)
        if info.data.get("type") != USAGE_SNAPSHOT:
            return value
        if value is None:
            raise ValueError("a usage_snapshot needs occurred_at (when the figures were taken)")
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        if aware > datetime.now(UTC) + SNAPSHOT_MAX_AHEAD:
            raise ValueError("occurred_at is in the future")
        return value

    @field_validator("usage")
    @classmethod
    def _usage_for_snapshot(
        cls, value: UsageFigures | None, info: ValidationInfo
    ) -> UsageFigures | None:
        if info.data.get("type") == USAGE_SNAPSHOT and value is None:
            raise ValueError("a usage_snapshot needs the usage object")
        return value
