"""HubSpot CRM v3/v4 endpoints (objects, search, batch, associations, owners).

Served at HubSpot's own root paths, so ``HubSpot(access_token=..., host=<sandbox url>)``
talks to it unchanged. Tasks and notes created here, and every property update, are
recorded for the outbox.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from sandbox import hubspot_files
from sandbox.appkeys import STORE
from sandbox.clock import iso_ms, utcnow
from sandbox.errors import hubspot_error
from sandbox.hubspot_assoc import ASSOCIATION_TYPES, OBJECT_TYPE_IDS, canonical_type
from sandbox.hubspot_models import (
    BatchCreateBody,
    BatchReadBody,
    BatchUpdateBody,
    ObjectInput,
    PropertiesInput,
    SearchBody,
    V4AssociationSpec,
)
from sandbox.hubspot_search import search
from sandbox.hubspot_state import CrmError, CrmObject, HubSpotState, normalize_value
from sandbox.middleware import BadRequest, Handler, read_json
from sandbox.store import Store

JsonDict = dict[str, Any]
BaseModelT = TypeVar("BaseModelT", bound=BaseModel)

MAX_BATCH = 100
MAX_PAGE = 100
MAX_ASSOCIATION_PAGE = 500


def _api(handler: Handler) -> Handler:
    """Render ``CrmError``, body validation and JSON errors the way HubSpot does."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except CrmError as exc:
            return hubspot_error(
                exc.status, exc.category, exc.message, errors=exc.errors, context=exc.context
            )
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            return hubspot_error(400, "VALIDATION_ERROR", f"Invalid input JSON: {details}")
        except BadRequest as exc:
            return hubspot_error(400, "VALIDATION_ERROR", str(exc))

    return wrapper


def _store(request: web.Request) -> Store:
    return request.app[STORE]


def _object_type(request: web.Request, key: str = "type") -> str:
    name = request.match_info[key]
    object_type = canonical_type(name)
    if object_type is None:
        raise CrmError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
    return object_type


def _multi(request: web.Request, name: str) -> list[str] | None:
    """A list query parameter in either ``?p=a&p=b`` or ``?p=a,b`` form; None if absent."""
    values = request.query.getall(name, [])
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _association_types(request: web.Request) -> list[str]:
    names = _multi(request, "associations") or []
    return [t for t in (canonical_type(n) for n in names) if t is not None]


def _int_param(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise CrmError(400, "VALIDATION_ERROR", f"{name} must be an integer") from None
    return max(0, min(value, maximum))


def _offset(after: str | int | None) -> int:
    try:
        return max(0, int(after or 0))
    except ValueError:
        raise CrmError(400, "VALIDATION_ERROR", f"Invalid paging cursor after={after}") from None


def _paging(request: web.Request, next_after: int | None) -> JsonDict:
    if next_after is None:
        return {}
    link = request.url.update_query({"after": str(next_after)})
    return {"paging": {"next": {"after": str(next_after), "link": str(link)}}}


def _parse(model: type[BaseModelT], body: object) -> BaseModelT:
    return model.model_validate(body if body is not None else {})


def _object_json(
    state: HubSpotState,
    obj: CrmObject,
    properties: Sequence[str] | None,
    associations: Sequence[str] = (),
) -> JsonDict:
    result = obj.to_json(properties)
    linked = state.associations_json(obj, associations)
    if linked:
        result["associations"] = linked
    return result


def _resolve(
    state: HubSpotState, object_type: str, object_id: str, id_property: str | None
) -> CrmObject:
    if id_property:
        found = state.find(object_type, id_property, object_id)
        if found is None:
            raise CrmError(404, "OBJECT_NOT_FOUND", "resource not found")
        return found
    return state.get(object_type, object_id)


def _batch_json(results: list[JsonDict], errors: list[JsonDict], started: str) -> web.Response:
    body: JsonDict = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso_ms(utcnow()),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return web.json_response(body, status=207 if errors else 200)


def _check_batch_size(count: int) -> None:
    if count > MAX_BATCH:
        raise CrmError(
            400,
            "VALIDATION_ERROR",
            f"Batch input of {count} exceeds the limit of {MAX_BATCH} inputs",
            context={"limit": [str(MAX_BATCH)]},
        )


def _missing_error(object_type: str, ids: list[str], verb: str) -> JsonDict:
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not {verb} some {object_type.upper()} objects, they may be deleted "
        "or not exist. Check that ids are valid.",
        "context": {"ids": ids},
    }


def _to_associations(body: ObjectInput) -> list[tuple[str, int]]:
    return [(a.to.id, t.associationTypeId) for a in body.associations for t in a.types]


def _numeric(object_id: str) -> int | str:
    return int(object_id) if object_id.isdigit() else object_id


# -- /crm/v3/objects ------------------------------------------------------------------


def _id_cursor(after: str | None) -> int:
    """The list APIs' cursor: the smallest object id the page may start at."""
    if after is None or after == "":
        return 0
    if not after.isdigit():
        raise CrmError(400, "VALIDATION_ERROR", f"Invalid paging cursor after={after}")
    return int(after)


@_api
async def list_objects(request: web.Request) -> web.StreamResponse:
    """``GET /crm/v3/objects/{type}``: in id order, ``limit`` 1..100 (default 10). As in
    HubSpot, ``paging.next.after`` is the id after the last one returned (not an offset), so
    paging neither skips nor repeats records when others are created meanwhile."""
    state = _store(request).hubspot
    object_type = _object_type(request)
    limit = _int_param(request, "limit", 10, MAX_PAGE)
    if limit < 1:
        raise CrmError(400, "VALIDATION_ERROR", "limit must be at least 1")
    start = _id_cursor(request.query.get("after"))
    # Every HubSpot id is numeric (demo data and runtime ids alike). One more than the
    # page tells whether there is a next page; no full sort (100,000 companies, make bench).
    candidates = heapq.nsmallest(
        limit + 1,
        (o for o in state.objects[object_type].values() if int(o.id) >= start),
        key=lambda o: int(o.id),
    )
    page = candidates[:limit]
    properties, associations = _multi(request, "properties"), _association_types(request)
    body: JsonDict = {"results": [_object_json(state, o, properties, associations) for o in page]}
    more = len(candidates) > limit
    return web.json_response(body | _paging(request, int(page[-1].id) + 1 if more else None))


@_api
async def get_object(request: web.Request) -> web.StreamResponse:
    state = _store(request).hubspot
    object_type = _object_type(request)
    obj = _resolve(state, object_type, request.match_info["id"], request.query.get("idProperty"))
    return web.json_response(
        _object_json(state, obj, _multi(request, "properties"), _association_types(request))
    )


@_api
async def create_object(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    object_type = _object_type(request)
    body = _parse(ObjectInput, await read_json(request))
    obj = store.hubspot.create(object_type, body.properties, _to_associations(body))
    store.record_crm_created(obj)
    return web.json_response(obj.to_json(list(body.properties)), status=201)


@_api
async def update_object(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    object_type = _object_type(request)
    body = _parse(PropertiesInput, await read_json(request))
    target = _resolve(
        store.hubspot, object_type, request.match_info["id"], request.query.get("idProperty")
    )
    obj = store.hubspot.update(object_type, target.id, body.properties)
    store.record_crm_update(
        object_type, obj.id, {k: normalize_value(v) for k, v in body.properties.items()}
    )
    return web.json_response(obj.to_json(list(body.properties)))


@_api
async def search_objects(request: web.Request) -> web.StreamResponse:
    state = _store(request).hubspot
    object_type = _object_type(request)
    body = _parse(SearchBody, await read_json(request))
    found = search(
        list(state.objects[object_type].values()),
        body,
        lambda obj, to_type: list(state.associations(obj.object_type, obj.id, to_type)),
    )
    limit = min(body.limit, MAX_PAGE)
    start = _offset(body.after)
    page = found[start : start + limit]
    result: JsonDict = {
        "total": len(found),
        "results": [o.to_json(body.properties or None) for o in page],
    }
    if start + limit < len(found):
        result["paging"] = {"next": {"after": str(start + limit)}}
    return web.json_response(result)


@_api
async def batch_read(request: web.Request) -> web.StreamResponse:
    started = iso_ms(utcnow())
    state = _store(request).hubspot
    object_type = _object_type(request)
    body = _parse(BatchReadBody, await read_json(request))
    _check_batch_size(len(body.inputs))
    results: list[JsonDict] = []
    missing: list[str] = []
    for ref in body.inputs:
        obj = (
            state.find(object_type, body.idProperty, ref.id)
            if body.idProperty
            else state.objects[object_type].get(ref.id)
        )
        if obj is None:
            missing.append(ref.id)
        else:
            results.append(obj.to_json(body.properties or None))
    errors = [_missing_error(object_type, missing, "get")] if missing else []
    return _batch_json(results, errors, started)


@_api
async def batch_update(request: web.Request) -> web.StreamResponse:
    started = iso_ms(utcnow())
    store = _store(request)
    state = store.hubspot
    object_type = _object_type(request)
    body = _parse(BatchUpdateBody, await read_json(request))
    _check_batch_size(len(body.inputs))
    for item in body.inputs:  # all-or-nothing on invalid values, as HubSpot does
        state.validate(object_type, item.properties, creating=False)
    results: list[JsonDict] = []
    missing: list[str] = []
    for item in body.inputs:
        if item.id not in state.objects[object_type]:
            missing.append(item.id)
            continue
        obj = state.update(object_type, item.id, item.properties)
        store.record_crm_update(
            object_type, obj.id, {k: normalize_value(v) for k, v in item.properties.items()}
        )
        results.append(obj.to_json(list(item.properties)))
    errors = [_missing_error(object_type, missing, "update")] if missing else []
    return _batch_json(results, errors, started)


@_api
async def batch_create(request: web.Request) -> web.StreamResponse:
    started = iso_ms(utcnow())
    store = _store(request)
    object_type = _object_type(request)
    body = _parse(BatchCreateBody, await read_json(request))
    _check_batch_size(len(body.inputs))
    for item in body.inputs:
        store.hubspot.validate(object_type, item.properties, creating=True)
    results: list[JsonDict] = []
    for item in body.inputs:
        obj = store.hubspot.create(object_type, item.properties, _to_associations(item))
        store.record_crm_created(obj)
        results.append(obj.to_json(list(item.properties)))
    response = _batch_json(results, [], started)
    response.set_status(201)
    return response


# -- /crm/v4 associations -------------------------------------------------------------


@_api
async def associate_default(request: web.Request) -> web.StreamResponse:
    started = iso_ms(utcnow())
    state = _store(request).hubspot
    from_type, to_type = _object_type(request, "from"), _object_type(request, "to")
    from_id, to_id = request.match_info["from_id"], request.match_info["to_id"]
    assoc = state.associate_default(from_type, from_id, to_type, to_id)

    def spec(type_id: int) -> JsonDict:
        return {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}

    results = [
        {"from": {"id": from_id}, "to": {"id": to_id}, "associationSpec": spec(assoc.type_id)},
        {"from": {"id": to_id}, "to": {"id": from_id}, "associationSpec": spec(assoc.inverse_id)},
    ]
    return _batch_json(results, [], started)


@_api
async def associate_labels(request: web.Request) -> web.StreamResponse:
    state = _store(request).hubspot
    from_type, to_type = _object_type(request, "from"), _object_type(request, "to")
    from_id, to_id = request.match_info["from_id"], request.match_info["to_id"]
    raw = await read_json(request)
    if not isinstance(raw, list):
        raise BadRequest("Expected a JSON array of association specs")
    specs = [V4AssociationSpec.model_validate(item) for item in raw]
    state.get(to_type, to_id)
    for item in specs:
        known = ASSOCIATION_TYPES.get(item.associationTypeId)
        if known is None or known.to_type != to_type:
            raise CrmError(
                400,
                "VALIDATION_ERROR",
                f"association type id {item.associationTypeId} does not go from {from_type} "
                f"to {to_type}",
            )
        state.associate(from_type, from_id, to_id, item.associationTypeId)
    labels = sorted({t.label for s in specs if (t := ASSOCIATION_TYPES[s.associationTypeId]).label})
    return web.json_response(
        {
            "fromObjectTypeId": OBJECT_TYPE_IDS[from_type],
            "fromObjectId": _numeric(from_id),
            "toObjectTypeId": OBJECT_TYPE_IDS[to_type],
            "toObjectId": _numeric(to_id),
            "labels": labels,
        },
        status=201,
    )


@_api
async def list_associations(request: web.Request) -> web.StreamResponse:
    state = _store(request).hubspot
    from_type, to_type = _object_type(request, "from"), _object_type(request, "to")
    from_id = request.match_info["from_id"]
    state.get(from_type, from_id)
    linked = list(state.associations(from_type, from_id, to_type).items())
    limit = _int_param(request, "limit", MAX_ASSOCIATION_PAGE, MAX_ASSOCIATION_PAGE)
    start = _offset(request.query.get("after"))
    results = [
        {
            "toObjectId": _numeric(to_id),
            "associationTypes": [
                {
                    "category": "HUBSPOT_DEFINED",
                    "typeId": type_id,
                    "label": ASSOCIATION_TYPES[type_id].label,
                }
                for type_id in sorted(type_ids)
            ],
        }
        for to_id, type_ids in linked[start : start + limit]
    ]
    more = start + limit < len(linked)
    return web.json_response(
        {"results": results} | _paging(request, start + limit if more else None)
    )


# -- /crm/v3/owners -------------------------------------------------------------------


@_api
async def get_owner(request: web.Request) -> web.StreamResponse:
    state = _store(request).hubspot
    owner_id = request.match_info["id"]
    by_user_id = request.query.get("idProperty") == "userId"
    owner = next(
        (o for o in state.owners.values() if (str(o.user_id) if by_user_id else o.id) == owner_id),
        None,
    )
    if owner is None:
        raise CrmError(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [owner_id]})
    return web.json_response(owner.to_json())


@_api
async def list_owners(request: web.Request) -> web.StreamResponse:
    state = _store(request).hubspot
    email = request.query.get("email")
    owners = [o for o in state.owners.values() if not email or o.email.lower() == email.lower()]
    limit = _int_param(request, "limit", 100, 500)
    start = _offset(request.query.get("after"))
    body: JsonDict = {"results": [o.to_json() for o in owners[start : start + limit]]}
    more = start + limit < len(owners)
    return web.json_response(body | _paging(request, start + limit if more else None))


def setup(app: web.Application) -> None:
    hubspot_files.setup(app)
    objects = "/crm/v3/objects/{type}"
    v4 = "/crm/v4/objects/{from}/{from_id}/associations"
    app.router.add_post(f"{objects}/search", search_objects)
    app.router.add_post(f"{objects}/batch/read", batch_read)
    app.router.add_post(f"{objects}/batch/update", batch_update)
    app.router.add_post(f"{objects}/batch/create", batch_create)
    app.router.add_get(objects, list_objects)
    app.router.add_post(objects, create_object)
    app.router.add_get(objects + "/{id}", get_object)
    app.router.add_patch(objects + "/{id}", update_object)
    app.router.add_put(v4 + "/default/{to}/{to_id}", associate_default)
    app.router.add_put(v4 + "/{to}/{to_id}", associate_labels)
    app.router.add_get(v4 + "/{to}", list_associations)
    app.router.add_get("/crm/v3/owners/{id}", get_owner)
    app.router.add_get("/crm/v3/owners", list_owners)
    app.router.add_get("/crm/v3/owners/", list_owners)
