"""Signed one-click survey links, pinned to their exact form: every URL, every query key,
the signed message and its length (so a link e-mailed by one release still verifies in
the next), each field bound by the signature, and the expiry edge. Pure: no server."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from domain.survey_links import (
    LinkCheck,
    csat_links,
    exit_survey_links,
    nps_links,
    verify_csat_link,
    verify_exit_survey,
    verify_nps_link,
)
from domain.winback import ExitReason

SECRET = "s3cret-key"
SURVEY = "0123456789abcdef"
EXP = 1_800_000_000  # 2027-01-15 08:00 UTC
AT_EXP = datetime.fromtimestamp(EXP, UTC)


def mac(message: str, secret: str = SECRET) -> str:
    """The signature, computed here independently of the code under test."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def test_exit_survey_links_exactly() -> None:
    links = exit_survey_links(
        "https://hub.example/cshub-X/", SECRET, "1003", "wb-1003-d60", expires=EXP
    )
    assert list(links) == [r.value for r in ExitReason]
    for reason, url in links.items():
        sig = mac(f"exit|1003|{reason}|wb-1003-d60|{EXP}")
        assert url == (
            "https://hub.example/cshub-X/survey/exit"
            f"?customer=1003&reason={reason}&campaign=wb-1003-d60&exp={EXP}&sig={sig}"
        )
        check = verify_exit_survey(SECRET, "1003", reason, "wb-1003-d60", EXP, sig, AT_EXP)
        assert check is LinkCheck.VALID


def test_an_exit_link_from_before_expiry_times_reads_as_expired() -> None:
    """Links e-mailed before exit links expired (no ``exp``, the old signed message) never
    expired: they are told apart from forgeries and answered as expired."""
    old = mac("exit-survey|1003|too_expensive|c1")
    assert verify_exit_survey(SECRET, "1003", "too_expensive", "c1", None, old) is (
        LinkCheck.EXPIRED
    )
    assert verify_exit_survey(SECRET, "1003", "other", "c1", None, old) is LinkCheck.INVALID


def test_an_exit_link_expires_at_its_expiry_time() -> None:
    sig = mac(f"exit|1003|too_expensive|c1|{EXP}")
    at = verify_exit_survey(SECRET, "1003", "too_expensive", "c1", EXP, sig, AT_EXP)
    assert at is LinkCheck.VALID
    later = AT_EXP + timedelta(seconds=1)
    after = verify_exit_survey(SECRET, "1003", "too_expensive", "c1", EXP, sig, later)
    assert after is LinkCheck.EXPIRED


def test_a_base_url_without_a_trailing_slash() -> None:
    url = exit_survey_links("http://127.0.0.1:8000", SECRET, "7", "c", expires=EXP)["other"]
    assert url.startswith("http://127.0.0.1:8000/survey/exit?customer=7&reason=other&")


@pytest.mark.parametrize(
    ("secret", "customer", "reason", "campaign", "expires"),
    [
        ("another", "1003", "too_expensive", "c1", EXP),
        (SECRET, "1004", "too_expensive", "c1", EXP),
        (SECRET, "1003", "other", "c1", EXP),
        (SECRET, "1003", "too_expensive", "c2", EXP),
        (SECRET, "1003", "too_expensive", "c1", EXP + 1),
    ],
)
def test_an_exit_answer_with_any_field_changed_is_refused(
    secret: str, customer: str, reason: str, campaign: str, expires: int
) -> None:
    sig = mac(f"exit|1003|too_expensive|c1|{EXP}")
    ok = verify_exit_survey(SECRET, "1003", "too_expensive", "c1", EXP, sig, AT_EXP)
    assert ok is LinkCheck.VALID
    changed = verify_exit_survey(secret, customer, reason, campaign, expires, sig, AT_EXP)
    assert changed is LinkCheck.INVALID


@pytest.mark.parametrize(
    "sig",
    [
        mac(f"exit|1003|too_expensive|c1|{EXP}")[:31],
        mac(f"exit|1003|too_expensive|c1|{EXP}") + "0",
        hmac.new(
            SECRET.encode(), f"exit|1003|too_expensive|c1|{EXP}".encode(), hashlib.sha256
        ).hexdigest(),
        mac(f"exit|1003|too_expensive|c1|{EXP}").upper(),
        "é" * 32,
        "\udcff" * 32,  # a lone surrogate, as a broken query decoder may hand over
        "",
    ],
)
def test_a_mangled_exit_signature_is_refused(sig: str) -> None:
    check = verify_exit_survey(SECRET, "1003", "too_expensive", "c1", EXP, sig, AT_EXP)
    assert check is LinkCheck.INVALID


def test_csat_links_exactly() -> None:
    links = csat_links("https://hub.example/", SECRET, "5001", SURVEY, EXP)
    assert list(links) == [1, 2, 3, 4, 5]
    for score, url in links.items():
        sig = mac(f"csat|5001|{SURVEY}|{score}|{EXP}")
        assert url == (
            "https://hub.example/survey/csat"
            f"?ticket=5001&survey={SURVEY}&score={score}&exp={EXP}&sig={sig}"
        )


def test_nps_links_exactly() -> None:
    base = "https://hub.example/cshub-X/"  # only slashes are stripped from the base
    links = nps_links(base, SECRET, "1003", "2003", "2026-Q4", SURVEY, EXP)
    assert list(links) == list(range(11))
    for score, url in links.items():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("https", "hub.example")
        assert parts.path == "/cshub-X/survey/nps"
        assert parse_qsl(parts.query) == [
            ("customer", "1003"),
            ("contact", "2003"),
            ("quarter", "2026-Q4"),
            ("survey", SURVEY),
            ("score", str(score)),
            ("exp", str(EXP)),
            ("sig", mac(f"nps|1003|2003|2026-Q4|{SURVEY}|{score}|{EXP}")),
        ]


def test_a_link_is_valid_up_to_and_including_its_expiry_second() -> None:
    csat = mac(f"csat|5001|{SURVEY}|4|{EXP}")
    check = verify_csat_link(SECRET, "5001", SURVEY, 4, EXP, csat, now=AT_EXP)
    assert check is LinkCheck.VALID
    later = AT_EXP + timedelta(microseconds=1)
    check = verify_csat_link(SECRET, "5001", SURVEY, 4, EXP, csat, now=later)
    assert check is LinkCheck.EXPIRED
    nps = mac(f"nps|1003|2003|2026-Q4|{SURVEY}|0|{EXP}")
    args = (SECRET, "1003", "2003", "2026-Q4", SURVEY, 0, EXP, nps)
    assert verify_nps_link(*args, now=AT_EXP) is LinkCheck.VALID
    assert verify_nps_link(*args, now=later) is LinkCheck.EXPIRED


def test_without_a_clock_the_links_are_checked_against_now() -> None:
    past = int((datetime.now(UTC) - timedelta(minutes=5)).timestamp())
    future = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    for expires, expected in ((past, LinkCheck.EXPIRED), (future, LinkCheck.VALID)):
        csat = mac(f"csat|5001|{SURVEY}|2|{expires}")
        assert verify_csat_link(SECRET, "5001", SURVEY, 2, expires, csat) is expected
        nps = mac(f"nps|1003|2003|2026-Q4|{SURVEY}|10|{expires}")
        check = verify_nps_link(SECRET, "1003", "2003", "2026-Q4", SURVEY, 10, expires, nps)
        assert check is expected


def test_a_forged_link_is_invalid_even_when_expired() -> None:
    forged = mac(f"csat|5001|{SURVEY}|5|{EXP}", secret="guess")
    later = AT_EXP + timedelta(days=1)
    assert verify_csat_link(SECRET, "5001", SURVEY, 5, EXP, forged, now=later) is (
        LinkCheck.INVALID
    )
