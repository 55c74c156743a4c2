"""Failure classification shared by every connector.

Every outside failure becomes one of two kinds so that activities can decide how Temporal
retries them without knowing which system failed:

* :class:`RetryableConnectorError` - timeouts, connection errors, 5xx, 429. ``retry_after``
  carries the delay the remote system asked for (``Retry-After`` or rate-limit headers).
* :class:`PermanentConnectorError` - any other 4xx (bad token, validation error, missing
  object). Retrying cannot help; the message says what to fix.

The message always names the system, the call and the object, e.g.
``hubspot get_company(company 1001): 404 not found``.
"""

from __future__ import annotations

from temporalio.exceptions import CancelledError as _TemporalCancelled

ActivityCancelled = _TemporalCancelled
"""Raised *into* a blocking SDK call when Temporal cancels a threaded activity (worker
shutdown, heartbeat timeout, workflow cancel). Not a failure of the outside system:
connectors let it through untouched so the attempt is retried, never classified as a
permanent error."""


class ConnectorError(Exception):
    """Base class: a call to an outside system failed."""

    retryable: bool = False

    def __init__(
        self,
        system: str,
        operation: str,
        target: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.system = system
        self.operation = operation
        self.target = target
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"{system} {operation}({target}): {detail}")


class RetryableConnectorError(ConnectorError):
    """Transient: try again later (after ``retry_after`` seconds when given)."""

    retryable = True


class PermanentConnectorError(ConnectorError):
    """Will never succeed as sent: do not retry."""

    retryable = False


class NotFoundError(PermanentConnectorError):
    """The object the call names does not exist in the remote system."""
