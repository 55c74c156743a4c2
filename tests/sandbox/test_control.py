"""Fault injection, rate limits, reset, request log and authentication."""

from __future__ import annotations

import time

import httpx

HS = {"Authorization": "Bearer t"}
COMPANY = "/crm/v3/objects/companies/1001"


async def test_faults_are_consumed_then_listed_and_cleared(http: httpx.AsyncClient) -> None:
    fault = {"system": "hubspot", "status": 503, "count": 2, "path_contains": "/companies/1001"}
    created = await http.post("/_sandbox/faults", json=fault)
    assert created.status_code == 201
    assert [(await http.get(COMPANY, headers=HS)).status_code for _ in range(3)] == [503, 503, 200]
    other = await http.get("/crm/v3/objects/companies/1002", headers=HS)
    assert other.status_code == 200

    await http.post("/_sandbox/faults", json={"system": "zendesk", "status": 500, "method": "PUT"})
    [pending] = (await http.get("/_sandbox/faults")).json()["faults"]
    assert (pending["system"], pending["remaining"], pending["method"]) == ("zendesk", 1, "PUT")
    assert (await http.delete("/_sandbox/faults")).status_code == 200
    assert (await http.get("/_sandbox/faults")).json()["faults"] == []


async def test_fault_bodies_follow_each_system(http: httpx.AsyncClient) -> None:
    for system in ("hubspot", "zendesk", "slack"):
        await http.post("/_sandbox/faults", json={"system": system, "status": 500})
    hubspot = await http.get(COMPANY, headers=HS)
    zendesk = await http.get("/api/v2/tickets/5001.json", auth=("a@b.example/token", "t"))
    slack = await http.post("/api/auth.test", headers=HS)
    assert hubspot.status_code == zendesk.status_code == slack.status_code == 500
    assert hubspot.json()["category"] == "INTERNAL_ERROR"
    assert zendesk.json()["error"] == "InternalServerError"
    assert slack.json() == {
        "ok": False,
        "error": "internal_error",
        "detail": "Injected fault: HTTP 500",
    }


async def test_delay_without_status_serves_late(http: httpx.AsyncClient) -> None:
    await http.post("/_sandbox/faults", json={"system": "hubspot", "delay_s": 0.3})
    started = time.monotonic()
    response = await http.get(COMPANY, headers=HS)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


async def test_invalid_fault_is_rejected(http: httpx.AsyncClient) -> None:
    for bad in (
        {"system": "stripe", "status": 500},
        {"system": "slack"},
        {"system": "slack", "status": 200},
    ):
        assert (await http.post("/_sandbox/faults", json=bad)).status_code == 400


async def test_rate_limit_window(http: httpx.AsyncClient) -> None:
    limit = {"system": "hubspot", "max_requests": 3, "window_s": 30}
    assert (await http.post("/_sandbox/ratelimit", json=limit)).status_code == 200
    answers = [await http.get(COMPANY, headers=HS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[1].headers["X-HubSpot-RateLimit-Remaining"] == "1"
    limited = answers[3]
    assert limited.headers["X-HubSpot-RateLimit-Max"] == "3"
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    assert limited.json()["errorType"] == "RATE_LIMIT"
    other_system = await http.get("/api/v2/tickets/5001.json", auth=("a@b.example/token", "t"))
    assert other_system.status_code == 200
    await http.post("/_sandbox/ratelimit", json={"system": "hubspot", "max_requests": None})
    assert (await http.get(COMPANY, headers=HS)).status_code == 200


async def test_reset_reseeds_and_clears(http: httpx.AsyncClient) -> None:
    await http.patch(COMPANY, headers=HS, json={"properties": {"name": "Renamed"}})
    await http.post("/_sandbox/faults", json={"system": "slack", "status": 500, "count": 5})
    await http.post("/_sandbox/ratelimit", json={"system": "zendesk", "max_requests": 1})
    assert (await http.post("/_sandbox/reset")).json() == {"ok": True}
    company = (await http.get(COMPANY, headers=HS)).json()
    assert company["properties"]["name"] == "Brightleaf Studio"
    assert (await http.get("/_sandbox/faults")).json()["faults"] == []
    assert (await http.get("/_sandbox/ratelimit")).json()["rate_limits"] == {}
    outbox = (await http.get("/api/outbox")).json()
    assert all(v == [] for v in outbox.values())


async def test_request_log_and_clearing(http: httpx.AsyncClient) -> None:
    await http.post("/_sandbox/faults", json={"system": "hubspot", "status": 429})
    await http.get(COMPANY, headers=HS)
    await http.get(COMPANY, headers=HS)
    await http.get(COMPANY)  # no credentials
    await http.get("/api/outbox")  # the sandbox's own pages are not logged
    log = (await http.get("/api/requests")).json()
    assert [(r["system"], r["method"], r["path"], r["status"]) for r in log] == [
        ("hubspot", "GET", COMPANY, 429),
        ("hubspot", "GET", COMPANY, 200),
        ("hubspot", "GET", COMPANY, 401),
    ]
    latest = await http.get("/api/requests?limit=1")
    assert latest.headers["X-Total-Count"] == "3" and latest.json()[0]["status"] == 401
    await http.patch(COMPANY, headers=HS, json={"properties": {"name": "Renamed"}})
    assert (await http.delete("/api/outbox")).status_code == 200
    assert (await http.get("/api/requests")).json() == []
    assert (await http.get("/api/outbox")).json()["crm_updates"] == []
    company = (await http.get(COMPANY, headers=HS)).json()  # data is kept
    assert company["properties"]["name"] == "Renamed"


async def test_authentication_and_unknown_paths(http: httpx.AsyncClient) -> None:
    hubspot = await http.get(COMPANY)
    assert hubspot.status_code == 401 and hubspot.json()["category"] == "INVALID_AUTHENTICATION"
    zendesk = await http.get("/api/v2/tickets/5001.json")
    assert zendesk.status_code == 401
    unknown_type = await http.get("/crm/v3/objects/widgets/1", headers=HS)
    assert unknown_type.status_code == 400
    no_route = await http.get("/crm/v3/nothing/here", headers=HS)
    assert no_route.status_code == 404 and no_route.json()["status"] == "error"
    bad_json = await http.post("/crm/v3/objects/companies/search", headers=HS, content=b"{not json")
    assert bad_json.status_code == 400 and bad_json.json()["category"] == "VALIDATION_ERROR"


async def test_chaos_answers_a_seeded_share_with_errors_and_counts_them(
    http: httpx.AsyncClient,
) -> None:
    chaos = {"system": "hubspot", "error_rate": 0.5, "statuses": [429, 500], "seed": 7}
    assert (await http.post("/_sandbox/chaos", json=chaos)).status_code == 200
    answers = [(await http.get(COMPANY, headers=HS)) for _ in range(40)]
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {200, 429, 500}
    assert 10 <= statuses.count(200) <= 30
    assert all(a.headers["Retry-After"] == "1" for a in answers if a.status_code == 429)
    served = (await http.get("/_sandbox/chaos")).json()["served"]["hubspot"]
    assert served == {"429": statuses.count(429), "500": statuses.count(500)}
    zendesk = await http.get("/api/v2/tickets/5001.json", auth=("a@b.example/token", "t"))
    assert zendesk.status_code == 200  # other systems untouched

    await http.post("/_sandbox/chaos", json=chaos)  # same seed: same sequence
    again = [(await http.get(COMPANY, headers=HS)).status_code for _ in range(40)]
    assert again == statuses
    assert (await http.delete("/_sandbox/chaos")).json()["chaos"] == {}
    assert (await http.get(COMPANY, headers=HS)).status_code == 200


async def test_chaos_timeouts_serve_late(http: httpx.AsyncClient) -> None:
    chaos = {"system": "slack", "timeout_rate": 1.0, "timeout_s": 0.3}
    await http.post("/_sandbox/chaos", json=chaos)
    started = time.monotonic()
    assert (await http.post("/api/auth.test", headers=HS)).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert (await http.get("/_sandbox/chaos")).json()["served"] == {"slack": {"timeout": 1}}


async def test_invalid_chaos_is_rejected(http: httpx.AsyncClient) -> None:
    for bad in (
        {"system": "hubspot", "error_rate": 1.5},
        {"system": "hubspot", "statuses": [200]},
        {"system": "hubspot", "error_rate": 0.7, "timeout_rate": 0.5},
        {"system": "smtp"},
    ):
        assert (await http.post("/_sandbox/chaos", json=bad)).status_code == 400
