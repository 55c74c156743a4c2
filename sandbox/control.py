"""``/_sandbox/*`` control endpoints: faults, rate limits, reset and bulk data (used by tests)."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.appkeys import FAULTS, STORE
from sandbox.faults import ChaosSpec, FaultSpec, RateLimitSpec
from sandbox.hubspot_models import PropertyInput
from sandbox.hubspot_state import MAX_BULK_COMPANIES, CrmError
from sandbox.middleware import BadRequest, read_json

M = TypeVar("M", bound=BaseModel)


async def _body(request: web.Request, model: type[M]) -> M | web.Response:
    try:
        return model.model_validate(await read_json(request))
    except (ValidationError, BadRequest) as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=400)


async def add_fault(request: web.Request) -> web.StreamResponse:
    spec = await _body(request, FaultSpec)
    if isinstance(spec, web.Response):
        return spec
    fault = request.app[FAULTS].add(spec)
    return web.json_response({"ok": True, "fault": fault.to_json()}, status=201)


async def list_faults(request: web.Request) -> web.StreamResponse:
    return web.json_response({"faults": request.app[FAULTS].pending()})


async def clear_faults(request: web.Request) -> web.StreamResponse:
    request.app[FAULTS].clear()
    return web.json_response({"ok": True})


async def set_rate_limit(request: web.Request) -> web.StreamResponse:
    spec = await _body(request, RateLimitSpec)
    if isinstance(spec, web.Response):
        return spec
    request.app[FAULTS].set_rate_limit(spec)
    return web.json_response({"ok": True, "rate_limits": request.app[FAULTS].rate_limits()})


async def get_rate_limits(request: web.Request) -> web.StreamResponse:
    return web.json_response({"rate_limits": request.app[FAULTS].rate_limits()})


async def set_chaos(request: web.Request) -> web.StreamResponse:
    spec = await _body(request, ChaosSpec)
    if isinstance(spec, web.Response):
        return spec
    request.app[FAULTS].set_chaos(spec)
    return web.json_response({"ok": True, **request.app[FAULTS].chaos_json()})


async def get_chaos(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[FAULTS].chaos_json())


async def clear_chaos(request: web.Request) -> web.StreamResponse:
    request.app[FAULTS].clear_chaos()
    return web.json_response({"ok": True, **request.app[FAULTS].chaos_json()})


async def reset(request: web.Request) -> web.StreamResponse:
    """Clear records, faults and rate limits, and re-seed from the (re-read) data file."""
    try:
        request.app[STORE].reset()
    except (ValidationError, ValueError, OSError) as exc:
        return web.json_response(
            {"ok": False, "error": f"demo data not reloaded: {exc}"}, status=400
        )
    request.app[FAULTS].reset()
    return web.json_response({"ok": True})


class BulkCompaniesSpec(BaseModel):
    """Body of ``POST /_sandbox/hubspot/companies/bulk``."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(..., ge=1, le=MAX_BULK_COMPANIES)
    id_start: int | None = Field(None, ge=1)
    properties: dict[str, PropertyInput] = Field(default_factory=dict)
    vary: bool = False


async def bulk_companies(request: web.Request) -> web.StreamResponse:
    """Create many synthetic HubSpot companies at once (load tests); reset removes them."""
    spec = await _body(request, BulkCompaniesSpec)
    if isinstance(spec, web.Response):
        return spec
    state = request.app[STORE].hubspot
    try:
        created = state.bulk_create_companies(
            spec.count, id_start=spec.id_start, properties=spec.properties, vary=spec.vary
        )
    except CrmError as exc:
        return web.json_response({"ok": False, "error": exc.message}, status=exc.status)
    return web.json_response(
        {
            "ok": True,
            "created": len(created),
            "first_id": created[0].id,
            "last_id": created[-1].id,
            "companies": len(state.objects["companies"]),
        },
        status=201,
    )


def setup(app: web.Application) -> None:
    app.router.add_post("/_sandbox/faults", add_fault)
    app.router.add_get("/_sandbox/faults", list_faults)
    app.router.add_delete("/_sandbox/faults", clear_faults)
    app.router.add_post("/_sandbox/ratelimit", set_rate_limit)
    app.router.add_get("/_sandbox/ratelimit", get_rate_limits)
    app.router.add_post("/_sandbox/chaos", set_chaos)
    app.router.add_get("/_sandbox/chaos", get_chaos)
    app.router.add_delete("/_sandbox/chaos", clear_chaos)
    app.router.add_post("/_sandbox/reset", reset)
    app.router.add_post("/_sandbox/hubspot/companies/bulk", bulk_companies)
