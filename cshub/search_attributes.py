"""Register the hub's custom search attributes on a namespace, idempotently
(``cshub setup`` on a production cluster, ``cshub dev`` on the dev server, the tests on
their servers)."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError, RPCStatusCode

from domain.search_attributes import ALL_KEYS


class SearchAttributeError(RuntimeError):
    pass


def _wanted() -> dict[str, IndexedValueType.ValueType]:
    return {key.name: IndexedValueType.ValueType(int(key.indexed_value_type)) for key in ALL_KEYS}


async def ensure_search_attributes(client: Client, namespace: str | None = None) -> list[str]:
    """Add the missing ones; one line per attribute (``added`` / ``present``). A name that
    exists with another type is an error (a query would not mean what it says)."""
    ns = namespace or client.namespace
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=ns)
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.UNIMPLEMENTED:
            # The time-skipping test server adds attributes but cannot list them.
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=ns, search_attributes=_wanted())
            )
            return [f"added {name}" for name in _wanted()]
        raise SearchAttributeError(
            f"cannot list search attributes of namespace {ns!r}: {exc.message}. On Temporal "
            "Cloud add them in the namespace's settings (or with tcld): "
            + ", ".join(f"{k.name} ({_type_name(k.indexed_value_type)})" for k in ALL_KEYS)
        ) from exc
    existing = dict(listed.custom_attributes)
    lines: list[str] = []
    missing: dict[str, IndexedValueType.ValueType] = {}
    for name, kind in _wanted().items():
        have = existing.get(name)
        if have is None:
            missing[name] = kind
            lines.append(f"added {name} ({_type_name(kind)})")
        elif have != kind:
            raise SearchAttributeError(
                f"search attribute {name} exists as {_type_name(have)}, the hub needs "
                f"{_type_name(kind)}: remove it or use another namespace"
            )
        else:
            lines.append(f"present {name} ({_type_name(kind)})")
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=ns, search_attributes=missing)
            )
        except RPCError as exc:
            raise SearchAttributeError(
                f"cannot add search attributes to {ns!r}: {exc.message}"
            ) from exc
    return lines


def _type_name(kind: int) -> str:
    try:
        return SearchAttributeIndexedValueType(int(kind)).name.title()
    except ValueError:
        return str(kind)
