"""Translate connector failures into Temporal's retry vocabulary.

Retryable failures keep Temporal's retry policy going and honour the remote system's
``Retry-After`` through ``next_retry_delay``; permanent ones stop retries at once with
the connector's message (system, call, object).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from connectors.errors import ConnectorError
from playbooks.loader import PlaybookError
from runtime.metrics import count_connector_error

NON_RETRYABLE_TYPES = ["PermanentConnectorError", "NotFoundError", "MissingRecipient"]


def to_application_error(exc: ConnectorError) -> ApplicationError:
    delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
    return ApplicationError(
        str(exc),
        type=type(exc).__name__,
        non_retryable=not exc.retryable,
        next_retry_delay=delay,
    )


@contextmanager
def connector_errors() -> Iterator[None]:
    try:
        yield
    except ConnectorError as exc:
        count_connector_error(exc)  # cshub_connector_errors_total{system, kind}
        raise to_application_error(exc) from exc


@contextmanager
def playbook_errors() -> Iterator[None]:
    """A broken or missing playbook file will not fix itself by retrying quickly, but an
    operator may fix it: fail the attempt loudly (non-retryable ``PlaybookError``) and
    let the workflow decide."""
    try:
        yield
    except PlaybookError as exc:
        raise ApplicationError(str(exc), type="PlaybookError", non_retryable=True) from exc
