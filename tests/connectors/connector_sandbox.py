"""A client for the sandbox's own inspection and fault-injection endpoints (tests only)."""

from __future__ import annotations

from typing import Any

import httpx


class SandboxClient:
    """The sandbox's own inspection and fault-injection endpoints."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.url: str = handle.http_url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.url, timeout=5)

    async def outbox(self) -> dict[str, Any]:
        resp = await self.http.get("/api/outbox")
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    async def requests(self, system: str, path_contains: str) -> list[dict[str, Any]]:
        resp = await self.http.get("/api/requests")
        resp.raise_for_status()
        return [r for r in resp.json() if r["system"] == system and path_contains in r["path"]]

    async def fault(self, system: str, status: int | None, **extra: Any) -> None:
        body = {"system": system, "status": status, "count": 1, **extra}
        resp = await self.http.post("/_sandbox/faults", json=body)
        resp.raise_for_status()
