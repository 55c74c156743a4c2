"""Typed keys under which the aiohttp application holds the sandbox's shared objects."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from sandbox.faults import FaultInjector
from sandbox.store import Store


@dataclass
class SandboxInfo:
    """Where the sandbox listens (filled in once the sockets are bound)."""

    http_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 0


STORE = web.AppKey("sandbox_store", Store)
FAULTS = web.AppKey("sandbox_faults", FaultInjector)
INFO = web.AppKey("sandbox_info", SandboxInfo)
