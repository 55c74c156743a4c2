"""Stripe's API, the part the hub reads (``/v1/customers``, ``/v1/subscriptions``,
``/v1/invoices``), plus creates and updates so tests and demos can set data up with the
official ``stripe`` library: ``StripeClient(key, base_addresses={"api": <sandbox url>})``.

Request bodies are form-encoded as Stripe's (``metadata[cshub_customer_id]=1004``);
answers and errors have Stripe's shapes (``{"error": {"type", "code", "message"}}``, 404
``resource_missing``). A deleted customer is ``{"id", "object": "customer", "deleted":
true}``, as Stripe returns it. Any ``Bearer sk_…`` / ``rk_…`` key is accepted.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.appkeys import STORE

JsonDict = dict[str, Any]
_KINDS = {
    "customers": ("customer", "cus_"),
    "subscriptions": ("subscription", "sub_"),
    "invoices": ("invoice", "in_"),
}


def _error(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> web.Response:
    error: JsonDict = {"type": "invalid_request_error", "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return web.json_response({"error": error}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _authed(handler: Handler) -> Handler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not re.match(r"^(sk|rk)_", key.strip()):
            return _error(401, "You did not provide an API key.")
        return await handler(request)

    return wrapper


def _form(fields: Any) -> JsonDict:
    """``metadata[a]=1&items[0][price]=p`` → ``{"metadata": {"a": "1"}, "items": {"0": …}}``."""
    out: JsonDict = {}
    for key, value in fields.items():
        parts = re.findall(r"[^\[\]]+", key)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts:
            node[parts[-1]] = str(value)
    return out


def _objects(request: web.Request) -> tuple[str, dict[str, JsonDict]]:
    kind = request.match_info["kind"]
    if kind not in _KINDS:
        raise web.HTTPNotFound()
    return kind, request.app[STORE].stripe[kind]


@_authed
async def retrieve(request: web.Request) -> web.StreamResponse:
    kind, objects = _objects(request)
    obj = objects.get(request.match_info["id"])
    if obj is None:
        name = _KINDS[kind][0]
        return _error(
            404, f"No such {name}: '{request.match_info['id']}'", "resource_missing", "id"
        )
    return web.json_response(obj)


@_authed
async def create(request: web.Request) -> web.StreamResponse:
    kind, objects = _objects(request)
    name, prefix = _KINDS[kind]
    fields = _form(await request.post())
    obj_id = f"{prefix}{uuid.uuid4().hex[:14]}"
    obj: JsonDict = {
        "id": obj_id,
        "object": name,
        "created": int(time.time()),
        "livemode": False,
        "metadata": fields.pop("metadata", {}),
    }
    if kind == "customers":
        obj.update(email=fields.get("email"), name=fields.get("name"))
    else:
        customer = fields.get("customer")
        if customer not in request.app[STORE].stripe["customers"]:
            return _error(400, f"No such customer: '{customer}'", "resource_missing", "customer")
        obj["customer"] = customer
        if kind == "subscriptions":
            obj.update(status="active", items={"object": "list", "data": []})
        else:
            obj.update(
                status="open",
                currency=fields.get("currency", "usd"),
                subscription=fields.get("subscription"),
            )
    objects[obj_id] = obj
    return web.json_response(obj)


@_authed
async def update(request: web.Request) -> web.StreamResponse:
    kind, objects = _objects(request)
    obj = objects.get(request.match_info["id"])
    if obj is None:
        return _error(404, f"No such {_KINDS[kind][0]}", "resource_missing", "id")
    fields = _form(await request.post())
    metadata = {**obj.get("metadata", {}), **fields.pop("metadata", {})}
    obj["metadata"] = {k: v for k, v in metadata.items() if v != ""}  # "" unsets a key
    for key in ("email", "name", "status"):
        if key in fields:
            obj[key] = fields[key]
    return web.json_response(obj)


@_authed
async def delete(request: web.Request) -> web.StreamResponse:
    kind, objects = _objects(request)
    obj_id = request.match_info["id"]
    if obj_id not in objects:
        return _error(404, f"No such {_KINDS[kind][0]}", "resource_missing", "id")
    name = _KINDS[kind][0]
    if kind == "customers":
        objects[obj_id] = {"id": obj_id, "object": name, "deleted": True}
    else:
        objects[obj_id]["status"] = "canceled"
    return web.json_response(objects[obj_id])


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/{kind}/{id}", retrieve)
    app.router.add_post("/v1/{kind}", create)
    app.router.add_post("/v1/{kind}/{id}", update)
    app.router.add_delete("/v1/{kind}/{id}", delete)
