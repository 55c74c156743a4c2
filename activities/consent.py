"""Who must not be e-mailed: contacts who unsubscribed (CRM opt-out property) and
addresses on the suppression list (``CSHUB_SUPPRESSION_FILE``: one address per line,
``#`` comments). The list is re-read when the file changes."""

from __future__ import annotations

import threading
from pathlib import Path

from connectors.base import Contact


class SuppressionList:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._mtime: float | None = None
        self._emails: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def _current(self) -> frozenset[str]:
        if self._path is None:
            return frozenset()
        try:
            mtime = self._path.stat().st_mtime
        except FileNotFoundError:
            return frozenset()
        with self._lock:
            if mtime != self._mtime:
                lines = self._path.read_text(encoding="utf-8").splitlines()
                self._emails = frozenset(
                    line.split("#", 1)[0].strip().lower()
                    for line in lines
                    if line.split("#", 1)[0].strip()
                )
                self._mtime = mtime
            return self._emails

    def reason_not_to_email(self, contact: Contact) -> str | None:
        """Why this contact must not get e-mail, or None when they may."""
        if contact.email_opt_out:
            return "unsubscribed"
        if contact.email.strip().lower() in self._current():
            return "on the suppression list"
        return None
