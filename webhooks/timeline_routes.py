"""``GET /customers/{customer_id}/timeline``: every automated action the hub took for a
customer (what, when, which workflow and step, outcome), newest first, read from the
action record (:mod:`activities.action_log`), which outlives Temporal's retention.

Auth: ``Authorization: Bearer <token>``, a token of ``CSHUB_API_TOKENS``; 401 otherwise
(and always when no token is configured).

``GET /timeline?customer=…&exp=…&sig=…``: the same timeline as a page, for the *Open
timeline* button of a Slack alert: the link is signed (customer and expiry, with the
survey-link secrets, ``domain.survey_links.timeline_link``) and works for
``TIMELINE_LINK_DAYS`` without a token; a forged link is 403, an expired one 410.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from activities.action_log import SqlActionStore
from domain.journeys import CUSTOMER_ID_PATTERN
from domain.survey_links import TIMELINE_PATH, LinkCheck, verify_timeline_link
from runtime.settings import Settings


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def bearer_ok(request: Request, tokens: list[str]) -> bool:
    """A bearer token of ``tokens`` (constant time in the candidate)."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    given = credential.strip() if scheme.lower() == "bearer" else ""
    if not given or not tokens:
        return False
    found = False
    for token in tokens:
        found |= hmac.compare_digest(_digest(given), _digest(token))
    return found


def add_timeline_route(app: FastAPI, settings: Settings) -> None:
    tokens = settings.api_tokens
    db = settings.cshub_database_url or settings.cshub_actions_db

    def require_token(request: Request) -> None:
        """A dependency, so it runs before the query is validated: without a token the
        answer is 401 whatever else is wrong with the request."""
        if not bearer_ok(request, tokens):
            raise HTTPException(
                401,
                detail="send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": 'Bearer realm="cshub"'},
            )

    @app.get(
        "/customers/{customer_id}/timeline",
        summary="Every automated action taken for a customer, newest first",
        responses={401: {"description": "No or unknown bearer token (CSHUB_API_TOKENS)"}},
    )
    async def customer_timeline(
        customer_id: str,
        since: Annotated[
            str | None, Query(description="30d, 12h, 2w, or an ISO date / date-time")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        # A default, not Annotated: the dependency is local, postponed annotations could
        # not resolve it.
        _auth: None = Depends(require_token),
    ) -> JSONResponse:
        if re.fullmatch(CUSTOMER_ID_PATTERN, customer_id) is None:
            return JSONResponse({"error": "invalid_customer_id", "detail": customer_id[:80]}, 422)
        try:
            start = parse_since(since)
        except ValueError as exc:
            return JSONResponse({"error": "invalid_since", "detail": str(exc)}, 422)
        return JSONResponse(read_timeline(db, customer_id, start, limit))


def add_signed_timeline_route(app: FastAPI, settings: Settings) -> None:
    db = settings.cshub_database_url or settings.cshub_actions_db

    @app.get(
        TIMELINE_PATH,
        summary="A customer's timeline from a signed, expiring link (Slack's Open timeline)",
        response_class=HTMLResponse,
        responses={
            403: {"description": "Not a link the hub signed"},
            410: {"description": "Expired"},
        },
    )
    async def signed_timeline(
        customer: Annotated[str, Query(max_length=64)],
        exp: Annotated[int, Query()],
        sig: Annotated[str, Query(max_length=128)],
    ) -> HTMLResponse:
        check = verify_timeline_link(settings.survey_link_secrets, customer, exp, sig)
        if check is LinkCheck.INVALID or re.fullmatch(CUSTOMER_ID_PATTERN, customer) is None:
            return HTMLResponse("<p>This timeline link is not valid.</p>", 403)
        if check is LinkCheck.EXPIRED:
            return HTMLResponse(
                "<p>This timeline link has expired: open it again from a newer alert.</p>", 410
            )
        return HTMLResponse(timeline_page(customer, read_timeline(db, customer, None, 500)))


def timeline_page(customer_id: str, rows: list[dict[str, Any]]) -> str:
    """The timeline as a plain HTML table, newest first (every value escaped)."""
    columns = ("last_at", "workflow_id", "step", "channel", "kind", "outcome", "summary")
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(r.get(c) or ''))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Timeline of customer "
        f"{escape(customer_id)}</title></head><body><h1>Timeline of customer "
        f"{escape(customer_id)}</h1><p>{len(rows)} actions, newest first.</p>"
        f"<table border='1' cellpadding='4'><tr>{head}</tr>{body}</table></body></html>"
    )


def parse_since(since: str | None) -> datetime | None:
    if not since:
        return None
    from domain.periods import parse_when

    return parse_when(since, datetime.now(UTC))


def read_timeline(
    db: Any, customer_id: str, since: datetime | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """The customer's rows as JSON-ready dicts, newest first."""
    store = SqlActionStore(db)
    try:
        rows = store.for_customer(customer_id, since=since, limit=limit)
    finally:
        store.close()
    return [r.model_dump(mode="json") for r in rows]
