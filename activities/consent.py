"""Who must not be e-mailed: contacts who unsubscribed (CRM opt-out property), contacts
who turned the e-mail's category off in the preference centre (``domain.preferences``;
billing and service e-mails are always sent) and addresses on the suppression list (``CSHUB_SUPPRESSION_FILE``: one address per line,
``#`` comments). The list is re-read when the file changes."""

from __future__ import annotations

import threading
from pathlib import Path

from connectors.base import Contact
from domain.preferences import blocked_by_preferences


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

    def reason_not_to_email(self, contact: Contact, template: str | None = None) -> str | None:
        """Why this contact must not get e-mail (this ``template``'s), or None when they may."""
        if contact.email_opt_out:
            return "unsubscribed"
        if template is not None:
            blocked = blocked_by_preferences(template, contact.email_opt_out_categories)
            if blocked is not None:
                return f"opted out of {blocked.value.replace('_', ' ')}"
        if contact.email.strip().lower() in self._current():
            return "on the suppression list"
        return None
