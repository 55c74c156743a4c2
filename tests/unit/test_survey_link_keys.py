"""Survey links: an empty key signs nothing and verifies nothing (a link forged with the
HMAC key "" was accepted before), and exit-survey links expire like the CSAT and NPS
ones (before, they never did)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from domain.survey_links import (
    EmptySecretError,
    LinkCheck,
    csat_links,
    exit_survey_links,
    nps_links,
    verify_csat_link,
    verify_exit_survey,
    verify_nps_link,
)

SECRET = "s" * 32
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
EXP = int((NOW + timedelta(days=30)).timestamp())
SURVEY = "0123456789abcdef"


def _forge(key: str, *parts: object) -> str:
    message = "|".join(str(p) for p in parts).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


@pytest.mark.parametrize("key", ["", "   "])
def test_links_signed_with_an_empty_key_are_refused(key: str) -> None:
    exit_sig = _forge(key, "exit", "1003", "too_expensive", "c1", EXP)
    assert verify_exit_survey(key, "1003", "too_expensive", "c1", EXP, exit_sig, NOW) is (
        LinkCheck.INVALID
    )
    legacy = _forge(key, "exit-survey", "1003", "too_expensive", "c1")
    assert verify_exit_survey(key, "1003", "too_expensive", "c1", None, legacy, NOW) is (
        LinkCheck.INVALID
    )
    csat_sig = _forge(key, "csat", "5001", SURVEY, 5, EXP)
    assert verify_csat_link(key, "5001", SURVEY, 5, EXP, csat_sig, NOW) is LinkCheck.INVALID
    nps_sig = _forge(key, "nps", "1003", "2001", "2026-Q4", SURVEY, 10, EXP)
    assert (
        verify_nps_link(key, "1003", "2001", "2026-Q4", SURVEY, 10, EXP, nps_sig, NOW)
        is LinkCheck.INVALID
    )


@pytest.mark.parametrize("key", ["", "  "])
def test_signing_with_an_empty_key_raises(key: str) -> None:
    with pytest.raises(EmptySecretError, match="SURVEY_LINK_SECRET"):
        exit_survey_links("https://hub.example", key, "1003", "c1", expires=EXP)
    with pytest.raises(EmptySecretError):
        csat_links("https://hub.example", key, "5001", SURVEY, EXP)
    with pytest.raises(EmptySecretError):
        nps_links("https://hub.example", key, "1003", "2001", "2026-Q4", SURVEY, EXP)


def _exit_args(url: str) -> tuple[str, str, str, int, str]:
    q = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    return q["customer"], q["reason"], q["campaign"], int(q["exp"]), q["sig"]


def test_exit_links_expire_and_sign_their_expiry() -> None:
    links = exit_survey_links("https://hub.example", SECRET, "1003", "c1", expires=EXP)
    for url in links.values():
        customer, reason, campaign, exp, sig = _exit_args(url)
        assert verify_exit_survey(SECRET, customer, reason, campaign, exp, sig, NOW) is (
            LinkCheck.VALID
        )
        later = NOW + timedelta(days=31)
        assert verify_exit_survey(SECRET, customer, reason, campaign, exp, sig, later) is (
            LinkCheck.EXPIRED
        )
        assert verify_exit_survey(SECRET, customer, reason, campaign, exp + 86400, sig, NOW) is (
            LinkCheck.INVALID
        )


def test_a_link_from_before_expiry_times_is_expired_not_accepted() -> None:
    legacy = _forge(SECRET, "exit-survey", "1003", "too_expensive", "c1")
    assert verify_exit_survey(SECRET, "1003", "too_expensive", "c1", None, legacy, NOW) is (
        LinkCheck.EXPIRED
    )
    forged = _forge("another-key-another-key-another-k", "exit-survey", "1003", "other", "c1")
    assert verify_exit_survey(SECRET, "1003", "other", "c1", None, forged, NOW) is (
        LinkCheck.INVALID
    )
