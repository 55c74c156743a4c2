"""Signed one-click links for the exit survey: one link per answer, so a churned customer
answers with a single click and nobody can forge an answer for another customer."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from domain.lifecycle import ExitReason

EXIT_SURVEY_PATH = "/survey/exit"


def _signature(secret: str, customer_id: str, reason: str, campaign: str) -> str:
    message = f"exit-survey|{customer_id}|{reason}|{campaign}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def exit_survey_links(
    base_url: str, secret: str, customer_id: str, campaign: str
) -> dict[str, str]:
    """Reason → URL for every exit reason. ``campaign`` ties the answer to one e-mail."""
    links = {}
    for reason in ExitReason:
        query = urlencode(
            {
                "customer": customer_id,
                "reason": reason.value,
                "campaign": campaign,
                "sig": _signature(secret, customer_id, reason.value, campaign),
            }
        )
        links[reason.value] = f"{base_url.rstrip('/')}{EXIT_SURVEY_PATH}?{query}"
    return links


def verify_exit_survey(secret: str, customer_id: str, reason: str, campaign: str, sig: str) -> bool:
    expected = _signature(secret, customer_id, reason, campaign)
    return hmac.compare_digest(expected, sig.encode("ascii", "ignore").decode())
