"""Injected failures and rate limits, for testing how the hub retries.

A *fault* answers the next N matching requests with an error status (and/or a delay)
instead of serving them. A *rate limit* is a sliding window per system that answers 429
once more than ``max_requests`` arrived within ``window_s`` seconds. *Chaos* answers a
random share of a system's requests with an error (429 with Retry-After, 500, 503) and
delays another share past the clients' timeouts (the answer, and the write, still happen:
the nastiest case for idempotency). All are driven over HTTP (``/_sandbox/faults``,
``/_sandbox/ratelimit``, ``/_sandbox/chaos``) so tests in other processes can use them.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

System = Literal["hubspot", "zendesk", "slack"]
SYSTEMS: tuple[System, ...] = ("hubspot", "zendesk", "slack")


class FaultSpec(BaseModel):
    """Body of ``POST /_sandbox/faults``."""

    model_config = ConfigDict(extra="forbid")

    system: System
    status: int | None = Field(None, ge=400, le=599)
    count: int = Field(1, ge=1)
    retry_after: float | None = Field(None, ge=0)
    path_contains: str | None = None
    method: str | None = None
    delay_s: float | None = Field(None, ge=0, le=300)
    body: Any = None  # replaces the system's usual error body when given

    @model_validator(mode="after")
    def _does_something(self) -> FaultSpec:
        if self.status is None and not self.delay_s:
            raise ValueError("a fault needs a status, a delay_s, or both")
        return self


class RateLimitSpec(BaseModel):
    """Body of ``POST /_sandbox/ratelimit``; ``max_requests`` null switches it off."""

    model_config = ConfigDict(extra="forbid")

    system: System
    max_requests: int | None = Field(..., ge=1)
    window_s: float = Field(10.0, gt=0)


class ChaosSpec(BaseModel):
    """Body of ``POST /_sandbox/chaos``: random trouble at a rate (``make chaos``)."""

    model_config = ConfigDict(extra="forbid")

    system: System
    error_rate: float = Field(0.0, ge=0, le=1)
    statuses: list[int] = Field(default_factory=lambda: [429, 500, 503], min_length=1)
    retry_after: float = Field(1.0, ge=0)
    timeout_rate: float = Field(0.0, ge=0, le=1)
    timeout_s: float = Field(12.0, ge=0, le=300)
    """Longer than the connectors' 10 s timeout: the client gives up, the server serves."""
    seed: int | None = None

    @model_validator(mode="after")
    def _valid(self) -> ChaosSpec:
        if any(not 400 <= status <= 599 for status in self.statuses):
            raise ValueError("statuses must be HTTP errors (400-599)")
        if self.error_rate + self.timeout_rate > 1:
            raise ValueError("error_rate + timeout_rate must not exceed 1")
        return self


@dataclass
class _Chaos:
    spec: ChaosSpec
    rng: random.Random

    def roll(self) -> FaultSpec | None:
        draw = self.rng.random()
        spec = self.spec
        if draw < spec.error_rate:
            status = self.rng.choice(spec.statuses)
            return FaultSpec(
                system=spec.system,
                status=status,
                retry_after=spec.retry_after if status in (429, 503) else None,
            )
        if draw < spec.error_rate + spec.timeout_rate:
            return FaultSpec(system=spec.system, delay_s=spec.timeout_s)
        return None


@dataclass
class Fault:
    id: int
    spec: FaultSpec
    remaining: int

    def matches(self, system: str, method: str, path: str) -> bool:
        spec = self.spec
        return (
            spec.system == system
            and (spec.path_contains is None or spec.path_contains in path)
            and (spec.method is None or spec.method.upper() == method.upper())
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.spec.model_dump(exclude_none=True),
            "remaining": self.remaining,
        }


@dataclass(frozen=True)
class LimitDecision:
    """Outcome of one request against a rate limit."""

    allowed: bool
    max_requests: int
    remaining: int
    window_s: float
    retry_after: int  # whole seconds until a slot frees up (only meaningful if not allowed)


@dataclass
class _Window:
    spec: RateLimitSpec
    hits: deque[float] = field(default_factory=deque)

    def admit(self, now: float) -> LimitDecision:
        assert self.spec.max_requests is not None
        limit, window = self.spec.max_requests, self.spec.window_s
        while self.hits and self.hits[0] <= now - window:
            self.hits.popleft()
        allowed = len(self.hits) < limit
        if allowed:
            self.hits.append(now)
        retry_after = 0 if allowed else max(1, math.ceil(self.hits[0] + window - now))
        return LimitDecision(allowed, limit, limit - len(self.hits), window, retry_after)


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._faults: list[Fault] = []
        self._windows: dict[str, _Window] = {}
        self._chaos: dict[str, _Chaos] = {}
        self._chaos_served: Counter[tuple[str, str]] = Counter()

    def add(self, spec: FaultSpec) -> Fault:
        with self._lock:
            fault = Fault(next(self._ids), spec, spec.count)
            self._faults.append(fault)
            return fault

    def take(self, system: str, method: str, path: str) -> Fault | None:
        """The first pending fault matching this request, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(system, method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def set_chaos(self, spec: ChaosSpec) -> None:
        with self._lock:
            self._chaos[spec.system] = _Chaos(spec, random.Random(spec.seed))

    def clear_chaos(self) -> None:
        with self._lock:
            self._chaos.clear()

    def roll_chaos(self, system: str) -> FaultSpec | None:
        """A random fault for this request when chaos is on for ``system`` (counted)."""
        with self._lock:
            chaos = self._chaos.get(system)
            fault = chaos.roll() if chaos is not None else None
            if fault is not None:
                kind = "timeout" if fault.status is None else str(fault.status)
                self._chaos_served[(system, kind)] += 1
            return fault

    def chaos_json(self) -> dict[str, Any]:
        with self._lock:
            served: dict[str, dict[str, int]] = {}
            for (system, kind), n in sorted(self._chaos_served.items()):
                served.setdefault(system, {})[kind] = n
            return {
                "chaos": {s: c.spec.model_dump() for s, c in self._chaos.items()},
                "served": served,
            }

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_rate_limit(self, spec: RateLimitSpec) -> None:
        with self._lock:
            if spec.max_requests is None:
                self._windows.pop(spec.system, None)
            else:
                self._windows[spec.system] = _Window(spec)

    def rate_limits(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {s: w.spec.model_dump() for s, w in self._windows.items()}

    def admit(self, system: str) -> LimitDecision | None:
        """Count a request against the system's limit; None when no limit is set."""
        with self._lock:
            window = self._windows.get(system)
            return None if window is None else window.admit(time.monotonic())

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._windows.clear()
            self._chaos.clear()
            self._chaos_served.clear()
