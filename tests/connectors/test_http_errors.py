"""Classification rules shared by every connector (no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.errors import NotFoundError, PermanentConnectorError, RetryableConnectorError
from connectors.http_errors import (
    HUBSPOT_DAILY_LIMIT_RETRY_S,
    classify_http,
    parse_retry_after,
    reading_response,
    remote_message,
    transport_error,
)


def test_404_is_not_found_and_names_system_call_and_object() -> None:
    err = classify_http(
        "hubspot",
        "get_company",
        "company 1001",
        404,
        {"Content-Type": "application/json"},
        b'{"status":"error","message":"resource not found","category":"OBJECT_NOT_FOUND"}',
    )
    assert isinstance(err, NotFoundError)
    assert not err.retryable
    assert str(err) == "hubspot get_company(company 1001): 404 resource not found"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_and_timeouts_are_retryable(status: int) -> None:
    err = classify_http("zendesk", "get_ticket", "ticket 1", status, None, None)
    assert isinstance(err, RetryableConnectorError)
    assert err.status == status


def test_429_reads_retry_after_seconds_case_insensitively() -> None:
    err = classify_http("slack", "post_message", "channel x", 429, [("retry-after", "7")], None)
    assert isinstance(err, RetryableConnectorError)
    assert err.retry_after == 7


def test_429_reads_retry_after_http_date() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now=now) == 30
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon") is None


def test_429_falls_back_to_hubspot_interval_header() -> None:
    err = classify_http(
        "hubspot",
        "create_task",
        "company 1",
        429,
        {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
        {"status": "error", "errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
    )
    assert err.retry_after == 10


def test_hubspot_daily_limit_waits_at_least_an_hour() -> None:
    err = classify_http(
        "hubspot", "get_company", "company 1", 429, {}, {"policyName": "DAILY", "message": "x"}
    )
    assert err.retryable
    assert err.retry_after == HUBSPOT_DAILY_LIMIT_RETRY_S


def test_other_4xx_is_permanent_with_remote_message() -> None:
    err = classify_http(
        "zendesk",
        "update_ticket",
        "ticket 5",
        422,
        None,
        '{"error":"RecordInvalid","description":"Record validation errors"}',
    )
    assert type(err) is PermanentConnectorError
    assert err.detail == "422 RecordInvalid: Record validation errors"


def test_body_without_message_uses_reason_phrase() -> None:
    err = classify_http("hubspot", "get_owner", "owner 1", 401, None, b"")
    assert err.detail == "401 unauthorized"


def test_remote_message_shapes() -> None:
    assert remote_message({"ok": False, "error": "channel_not_found"}) == "channel_not_found"
    assert remote_message({"error": {"title": "Forbidden", "message": "nope"}}) == "Forbidden: nope"
    assert remote_message("x" * 1000) is not None
    assert len(remote_message("x" * 1000) or "") == 300


def test_transport_error_is_retryable() -> None:
    err = transport_error("hubspot", "get_company", "company 1", ConnectionRefusedError(111, "no"))
    assert err.retryable
    assert "ConnectionRefusedError" in str(err)


def test_reading_response_turns_surprises_into_permanent_errors() -> None:
    with (
        pytest.raises(PermanentConnectorError, match="unexpected response") as info,
        reading_response("hubspot", "get_owner", "owner 1"),
    ):
        raise KeyError("email")
    assert str(info.value).startswith("hubspot get_owner(owner 1): unexpected response")
