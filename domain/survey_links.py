"""Signed one-click links for the exit, CSAT and NPS surveys: one link per answer, so a
customer answers with a single click and nobody can forge an answer for another customer
(or change the score, the survey or the expiry time of a link).

Links are signed with one secret and verified against a list (current first): rotating
the secret puts the old one second (``SURVEY_LINK_PREVIOUS_SECRETS``), so links already
in inboxes keep working until they expire, and a secret removed from the list stops
verifying anything signed with it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlencode

from domain.onboarding_survey import ONBOARDING_SURVEY_PATH
from domain.winback import ExitReason

EXIT_SURVEY_PATH = "/survey/exit"
EXIT_LINK_DAYS = 30
"""How long an exit-survey link is accepted after its e-mail was sent."""


class EmptySecretError(ValueError):
    """The survey-link secret is empty: a link signed with it would be forgeable."""


def _require_secret(secret: str) -> None:
    if not secret or not secret.strip():
        raise EmptySecretError("the survey-link secret (SURVEY_LINK_SECRET) is empty")


def _legacy_exit_signature(secret: str, customer_id: str, reason: str, campaign: str) -> str:
    """Links sent before exit links carried an expiry time (kept to tell them apart)."""
    message = f"exit-survey|{customer_id}|{reason}|{campaign}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def exit_survey_links(
    base_url: str, secret: str, customer_id: str, campaign: str, *, expires: int
) -> dict[str, str]:
    """Reason → URL for every exit reason. ``campaign`` ties the answer to one e-mail
    (one answer per e-mail, whichever reason is clicked first); ``expires`` (unix
    seconds) is signed with the rest."""
    _require_secret(secret)
    return {
        reason.value: _signed_url(
            base_url,
            EXIT_SURVEY_PATH,
            secret,
            "exit",
            {"customer": customer_id, "reason": reason.value, "campaign": campaign},
            expires,
        )
        for reason in ExitReason
    }


def _same(expected: str, given: str) -> bool:
    """Constant-time, on bytes: a non-ASCII character in ``given`` makes it differ (it is
    not dropped), and ``compare_digest`` never sees a non-ASCII str it would refuse."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


Secrets = str | Sequence[str]
"""One secret, or the accepted ones with the current (signing) one first."""


def _secrets(secrets: Secrets) -> tuple[str, ...]:
    """The usable keys: an empty key signs nothing (every link would be forgeable)."""
    found = (secrets,) if isinstance(secrets, str) else tuple(secrets)
    return tuple(s for s in found if s and s.strip())


def verify_exit_survey(
    secret: Secrets,
    customer_id: str,
    reason: str,
    campaign: str,
    expires: int | None,
    sig: str,
    now: datetime | None = None,
) -> LinkCheck:
    """``expires`` None: a link from before links expired; genuine ones say EXPIRED.
    ``secret`` may be a list (current first): every key is tried."""
    keys = _secrets(secret)
    if not keys:
        return LinkCheck.INVALID
    if expires is None:
        legacy = any(
            [_same(_legacy_exit_signature(k, customer_id, reason, campaign), sig) for k in keys]
        )
        return LinkCheck.EXPIRED if legacy else LinkCheck.INVALID
    return _check(
        keys, sig, expires, now or datetime.now(UTC), "exit", customer_id, reason, campaign
    )


# ---------------------------------------------------------------- CSAT and NPS
# One link per score. What is signed: the survey kind, who and what is asked, the
# survey id (one per e-mail: a second click on any link of the same e-mail is a double
# submission), the score and the expiry time (unix seconds), so none can be changed.

CSAT_SURVEY_PATH = "/survey/csat"
NPS_SURVEY_PATH = "/survey/nps"
CSAT_SCORES = tuple(range(1, 6))
NPS_SCORES = tuple(range(0, 11))


class LinkCheck(StrEnum):
    VALID = "valid"
    INVALID = "invalid"  # not signed by the hub, or a signed value was changed
    EXPIRED = "expired"  # genuine, but past its expiry time


def _sign(secret: str, *parts: object) -> str:
    _require_secret(secret)
    message = "|".join(str(p) for p in parts).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def _check(secrets: Secrets, sig: str, expires: int, now: datetime, *parts: object) -> LinkCheck:
    keys = _secrets(secrets)
    if not keys:
        return LinkCheck.INVALID  # an empty key signs nothing: every link would be forgeable
    if not any([_same(_sign(k, *parts, expires), sig) for k in keys]):
        return LinkCheck.INVALID
    if now.timestamp() > expires:
        return LinkCheck.EXPIRED
    return LinkCheck.VALID


def _signed_url(
    base_url: str,
    path: str,
    secret: str,
    purpose: str,
    fields: dict[str, str | int],
    expires: int,
) -> str:
    """``base_url`` + ``path`` with ``fields``, the expiry and the signature of the
    purpose, the fields' values (in order) and the expiry as its query."""
    sig = _sign(secret, purpose, *fields.values(), expires)
    query = urlencode({**fields, "exp": expires, "sig": sig})
    return f"{base_url.rstrip('/')}{path}?{query}"


def csat_links(
    base_url: str, secret: str, ticket_id: str, survey: str, expires: int
) -> dict[int, str]:
    """Score (1-5) → URL for one CSAT e-mail; ``expires`` is a unix time."""
    return {
        score: _signed_url(
            base_url,
            CSAT_SURVEY_PATH,
            secret,
            "csat",
            {"ticket": ticket_id, "survey": survey, "score": score},
            expires,
        )
        for score in CSAT_SCORES
    }


def verify_csat_link(
    secret: Secrets,
    ticket_id: str,
    survey: str,
    score: int,
    expires: int,
    sig: str,
    now: datetime | None = None,
) -> LinkCheck:
    return _check(secret, sig, expires, now or datetime.now(UTC), "csat", ticket_id, survey, score)


def nps_links(
    base_url: str,
    secret: str,
    customer_id: str,
    contact_id: str,
    quarter: str,
    survey: str,
    expires: int,
) -> dict[int, str]:
    """Score (0-10) → URL for one contact's NPS e-mail of one quarter."""
    return {
        score: _signed_url(
            base_url,
            NPS_SURVEY_PATH,
            secret,
            "nps",
            {
                "customer": customer_id,
                "contact": contact_id,
                "quarter": quarter,
                "survey": survey,
                "score": score,
            },
            expires,
        )
        for score in NPS_SCORES
    }


def verify_nps_link(
    secret: Secrets,
    customer_id: str,
    contact_id: str,
    quarter: str,
    survey: str,
    score: int,
    expires: int,
    sig: str,
    now: datetime | None = None,
) -> LinkCheck:
    return _check(
        secret,
        sig,
        expires,
        now or datetime.now(UTC),
        "nps",
        customer_id,
        contact_id,
        quarter,
        survey,
        score,
    )


# ---------------------------------------------------------------- onboarding surveys
# One link per e-mail, to the page with the questions: what is signed is the customer,
# the survey's onboarding day and the expiry time.


def onboarding_survey_link(
    base_url: str, secret: str, customer_id: str, day: int, expires: int
) -> str:
    return _signed_url(
        base_url,
        ONBOARDING_SURVEY_PATH,
        secret,
        "onboarding",
        {"customer": customer_id, "day": day},
        expires,
    )


TIMELINE_PATH = "/timeline"
TIMELINE_LINK_DAYS = 14
"""How long an *Open timeline* link on a Slack alert works (no bearer token needed)."""


def timeline_link(base_url: str, secret: str, customer_id: str, expires: int) -> str:
    """The customer's timeline for the people who can read the alerts channel: signed
    (customer and expiry), so the link opens in a browser without the API's token."""
    return _signed_url(
        base_url, TIMELINE_PATH, secret, "timeline", {"customer": customer_id}, expires
    )


def verify_onboarding_survey_link(
    secret: Secrets,
    customer_id: str,
    day: int,
    expires: int,
    sig: str,
    now: datetime | None = None,
) -> LinkCheck:
    return _check(secret, sig, expires, now or datetime.now(UTC), "onboarding", customer_id, day)


def verify_timeline_link(
    secrets: Secrets, customer_id: str, expires: int, sig: str, now: datetime | None = None
) -> LinkCheck:
    return _check(secrets, sig, expires, now or datetime.now(UTC), "timeline", customer_id)
