"""HubSpot's CRM pipelines API for deals: ``GET /crm/v3/pipelines/deals`` (and one
pipeline by id), ``POST`` to add one (stages as HubSpot takes them). The pipelines
themselves: sandbox.hubspot_pipeline_data."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from aiohttp import web

from sandbox.appkeys import STORE
from sandbox.clock import iso_ms, utcnow
from sandbox.errors import hubspot_error
from sandbox.hubspot_pipeline_data import pipeline_json
from sandbox.middleware import read_json

JsonDict = dict[str, Any]


def _pipelines(request: web.Request) -> dict[str, JsonDict] | None:
    if request.match_info["type"].lower() not in ("deals", "deal", "0-3"):
        return None
    return request.app[STORE].deal_pipelines


async def list_pipelines(request: web.Request) -> web.StreamResponse:
    pipelines = _pipelines(request)
    if pipelines is None:
        return web.json_response({"results": []})
    return web.json_response({"results": [copy.deepcopy(p) for p in pipelines.values()]})


async def get_pipeline(request: web.Request) -> web.StreamResponse:
    pipeline = (_pipelines(request) or {}).get(request.match_info["id"])
    if pipeline is None:
        return hubspot_error(404, "OBJECT_NOT_FOUND", "pipeline not found")
    return web.json_response(pipeline)


async def create_pipeline(request: web.Request) -> web.StreamResponse:
    """Body as HubSpot's: ``{"label", "displayOrder", "stages": [{"label",
    "displayOrder", "metadata": {"isClosed"?, "probability"}}]}``; stage ids are new
    numbers."""
    pipelines = _pipelines(request)
    body = await read_json(request)
    if pipelines is None or not isinstance(body, dict) or not isinstance(body.get("stages"), list):
        return hubspot_error(400, "VALIDATION_ERROR", "a deal pipeline needs label and stages")
    pid = str(uuid.uuid4().int % 10**9)
    stages = [
        (
            str(uuid.uuid4().int % 10**10),
            str(s.get("label", "")),
            str(s.get("metadata", {}).get("isClosed", "false")).lower(),
            str(s.get("metadata", {}).get("probability", "0.0")),
        )
        for s in body["stages"]
        if isinstance(s, dict)
    ]
    pipeline = pipeline_json(
        pid, str(body.get("label", "")), len(pipelines), stages, iso_ms(utcnow())
    )
    pipelines[pid] = pipeline
    return web.json_response(pipeline, status=201)


def setup(app: web.Application) -> None:
    app.router.add_get("/crm/v3/pipelines/{type}", list_pipelines)
    app.router.add_post("/crm/v3/pipelines/{type}", create_pipeline)
    app.router.add_get("/crm/v3/pipelines/{type}/{id}", get_pipeline)
