"""Process logging for the worker, the API and ``cshub dev``: plain text (default) or
JSON lines (``CSHUB_LOG_FORMAT=json``).

A JSON line carries ``time``, ``level``, ``logger``, ``message`` and, when known,
``workflow_id``, ``run_id``, ``workflow_type``, ``activity_type``, ``activity_id``,
``attempt``, ``task_queue`` and ``customer_id``. The Temporal details come from the
``temporal_workflow`` / ``temporal_activity`` dicts that the SDK's ``workflow.logger``
and ``activity.logger`` put on each record; ``customer_id`` from an explicit
``extra={"customer_id": ...}`` or else from the workflow id (``onboarding-1003``,
``health-outreach-1003-20250101T060000`` ...). Other explicit extras are kept when they
are plain values (str, int, float, bool); objects are never serialised, so a settings
object or a secret cannot end up in a line by accident.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from temporalio import activity, workflow


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Workflow ids that name a customer: <prefix>-<customer id>, see domain/*.py.
_CUSTOMER_WORKFLOW_ID = re.compile(
    r"^(?:health-outreach-(?P<outreach>.+)-\d{8}T\d{6}"
    r"|(?:onboarding|renewal|dunning|churn|winback|nps|usage)-(?P<customer>.+))$"
)

_WORKFLOW_FIELDS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_type": "workflow_type",
    "task_queue": "task_queue",
    "namespace": "namespace",
    "attempt": "attempt",
    "update_id": "update_id",
    "update_name": "update_name",
}
_ACTIVITY_FIELDS = {
    "workflow_id": "workflow_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_type": "activity_type",
    "activity_id": "activity_id",
    "attempt": "attempt",
    "task_queue": "task_queue",
    "namespace": "namespace",
}
# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_PLAIN = (str, int, float, bool)


def customer_id_from_workflow_id(workflow_id: str | None) -> str | None:
    """The customer a workflow is about, read from its id; None for ids that name none
    (a ticket, a sweep, a digest)."""
    if not workflow_id:
        return None
    match = _CUSTOMER_WORKFLOW_ID.match(workflow_id)
    if match is None:
        return None
    return match.group("outreach") or match.group("customer")


def context_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The workflow / activity / customer fields of a record, flattened."""
    out: dict[str, Any] = {}
    for source, names in (
        (getattr(record, "temporal_workflow", None), _WORKFLOW_FIELDS),
        (getattr(record, "temporal_activity", None), _ACTIVITY_FIELDS),
    ):
        if isinstance(source, Mapping):
            for key, name in names.items():
                value = source.get(key)
                if isinstance(value, _PLAIN):
                    out[name] = value
    for key, value in record.__dict__.items():
        if key in _STANDARD_ATTRS or key.startswith("_") or key in out:
            continue
        if isinstance(value, _PLAIN):
            out[key] = value
    if "customer_id" not in out:
        customer = customer_id_from_workflow_id(out.get("workflow_id"))
        if customer:
            out["customer_id"] = customer
    return out


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\u{ord(char):04x}")


class TextFormatter(logging.Formatter):
    """One line per record: CR, LF and other control characters in the message (a value
    a sender chose, such as an event id or a company name) are written escaped, so they
    cannot start a forged line. Tracebacks keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return _CONTROL.sub(_escape_control, super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in context_fields(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(fmt: LogFormat | str = LogFormat.TEXT, level: int | str = "INFO") -> None:
    """Set the root handler (stderr) for the process; replaces any earlier one."""
    handler = logging.StreamHandler(sys.stderr)
    json_lines = LogFormat(fmt) is LogFormat.JSON
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # One INFO line per HTTP request (each /metrics scrape) is noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The SDK appends "({'attempt': 1, 'workflow_id': ...})" to each message of its
    # workflow and activity loggers; in JSON those details are fields already.
    workflow.logger.workflow_info_on_message = not json_lines
    activity.logger.activity_info_on_message = not json_lines
