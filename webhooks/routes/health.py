"""``GET /healthz`` (for load balancers) and ``GET /metrics`` (Prometheus, when on)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from runtime.metrics import scrape
from runtime.store import StoreError
from webhooks.routes.base import HubDep

router = APIRouter()


class HealthBody(BaseModel):
    status: str
    temporal: str
    store: str = "ok"
    backlog: int = 0
    oldest_pending_s: float = 0.0


@router.get(
    "/healthz",
    summary="The API's store (it takes webhooks), its Temporal connection, the backlog",
    response_model=HealthBody,
    responses={503: {"model": HealthBody, "description": "The hub's store is unreadable"}},
)
async def healthz(hub: HubDep) -> JSONResponse:
    ok = await hub.temporal.healthy()
    try:
        backlog = await hub.ledger.io(hub.ledger.backlog)
        store_ok = True
    except StoreError:
        store_ok = False
    body = HealthBody(
        status="ok" if ok and store_ok else "degraded",
        temporal="ok" if ok else "unreachable",
        store="ok" if store_ok else "unreachable",
        backlog=backlog.pending if store_ok else 0,
        oldest_pending_s=round(backlog.oldest_age_s(), 3) if store_ok else 0.0,
    )
    # Webhooks are taken while Temporal is down (stored, forwarded later): only a
    # store that cannot be read takes the API out of a load balancer.
    return JSONResponse(body.model_dump(), 200 if store_ok else 503)


def add_metrics_route(app: FastAPI, metrics_url: str) -> None:
    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """Prometheus text: the webhook counters and the SDK metrics of the API's
        Temporal client (the runtime's exporter, read over loopback)."""
        status, body, content_type = await scrape(metrics_url)
        return Response(body, status, media_type=content_type)
