"""Request bodies the HubSpot emulator accepts (parsed strictly enough to catch mistakes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PropertyInput = str | int | float | bool | None

Operator = Literal[
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ObjectRef(_Body):
    id: str


class AssociationSpec(_Body):
    associationCategory: Literal["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"]
    associationTypeId: int


class AssociationInput(_Body):
    to: ObjectRef
    types: list[AssociationSpec] = Field(min_length=1)


class ObjectInput(_Body):
    """Body of ``POST /crm/v3/objects/{type}`` and one input of ``batch/create``."""

    properties: dict[str, PropertyInput]
    associations: list[AssociationInput] = Field(default_factory=list)


class PropertiesInput(_Body):
    """Body of ``PATCH /crm/v3/objects/{type}/{id}``."""

    properties: dict[str, PropertyInput]


class BatchUpdateInput(_Body):
    id: str
    properties: dict[str, PropertyInput]


class BatchReadBody(_Body):
    inputs: list[ObjectRef]
    properties: list[str] = Field(default_factory=list)
    idProperty: str | None = None


class BatchUpdateBody(_Body):
    inputs: list[BatchUpdateInput]


class BatchCreateBody(_Body):
    inputs: list[ObjectInput]


class Filter(_Body):
    propertyName: str
    operator: Operator
    value: Any = None
    highValue: Any = None
    values: list[Any] | None = None


class FilterGroup(_Body):
    filters: list[Filter] = Field(default_factory=list, max_length=6)


class SortSpec(_Body):
    propertyName: str
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING"


class SearchBody(_Body):
    filterGroups: list[FilterGroup] = Field(default_factory=list, max_length=5)
    sorts: list[SortSpec | str] = Field(default_factory=list)
    properties: list[str] = Field(default_factory=list)
    query: str | None = None
    limit: int = Field(10, ge=0)
    after: str | int | None = None


class V4AssociationSpec(_Body):
    associationCategory: Literal["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"]
    associationTypeId: int
