"""The pure parts of the CSAT and NPS surveys: signed links, quarters, NPS arithmetic, the
playbook, the routes, the templates, and the e-mail activity's recipient and links (with
the recording connectors: no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import ValidationError
from temporalio.testing import ActivityEnvironment

from activities.messaging import MessagingActivities, MessagingConfig
from activities.models import CustomerEmailRequest, EmailRecipient, MessageContext
from activities.surveys import ContactUpdateRequest, CsatTicketRecord, SurveyActivities
from connectors.base import CrmContact
from connectors.recording import (
    RecordingChat,
    RecordingCrm,
    RecordingHelpdesk,
    RecordingMailer,
)
from domain.events import CustomerEvent, EventSource
from domain.send_window import SendWindow
from domain.survey_links import (
    LinkCheck,
    csat_links,
    nps_links,
    verify_csat_link,
    verify_nps_link,
)
from domain.survey_plan import NpsPlan, SurveysPlan
from domain.surveys import (
    CsatAnswered,
    CsatInput,
    CsatRecipientRequest,
    NpsAnswered,
    NpsCategory,
    NpsContactsRequest,
    NpsInput,
    csat_workflow_id,
    net_promoter_score,
    next_quarter,
    nps_category,
    nps_send_time,
    nps_workflow_id,
    quarter_first_day,
    quarter_of,
    survey_id,
)
from playbooks.loader import CAMPAIGN_PLAYBOOKS, PACKAGE_DIR, load_playbook
from templates.renderer import render_email, render_slack
from tests.templates.test_rendering import HOSTILE_COMPANY, email_context, slack_context
from webhooks.routing import CSAT_ANSWER, NPS_ANSWER, route_for

SECRET = "unit-test-secret"
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
EXP = int((NOW + timedelta(days=30)).timestamp())
SURVEY = "0123456789abcdef"


def q(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


# ----------------------------------------------------------------------------- links


def test_csat_links_one_per_score_and_each_verifies() -> None:
    links = csat_links("https://hub.example/", SECRET, "5001", SURVEY, EXP)
    assert sorted(links) == [1, 2, 3, 4, 5]
    for score, url in links.items():
        assert url.startswith("https://hub.example/survey/csat?")
        assert SECRET not in url
        p = q(url)
        assert p["score"] == str(score) and p["survey"] == SURVEY and p["exp"] == str(EXP)
        check = verify_csat_link(SECRET, "5001", SURVEY, score, EXP, p["sig"], now=NOW)
        assert check is LinkCheck.VALID


@pytest.mark.parametrize(
    "change",
    [
        {"ticket_id": "5002"},
        {"survey": "fedcba9876543210"},
        {"score": 1},
        {"expires": EXP + 1},
        {"secret": "another-secret"},
        {"sig": "0" * 32},
        {"sig": "é"},
    ],
)
def test_a_changed_csat_link_is_invalid(change: dict[str, Any]) -> None:
    sig = q(csat_links("https://h", SECRET, "5001", SURVEY, EXP)[5])["sig"]
    args: dict[str, Any] = {
        "secret": SECRET,
        "ticket_id": "5001",
        "survey": SURVEY,
        "score": 5,
        "expires": EXP,
        "sig": sig,
    }
    args.update(change)
    assert verify_csat_link(**args, now=NOW) is LinkCheck.INVALID


def test_links_expire() -> None:
    sig = q(csat_links("https://h", SECRET, "5001", SURVEY, EXP)[3])["sig"]
    later = datetime.fromtimestamp(EXP + 1, UTC)
    assert verify_csat_link(SECRET, "5001", SURVEY, 3, EXP, sig, now=later) is LinkCheck.EXPIRED
    nps = nps_links("https://h", SECRET, "1003", "2003", "2026-Q4", SURVEY, EXP)
    sig = q(nps[7])["sig"]
    args = (SECRET, "1003", "2003", "2026-Q4", SURVEY, 7, EXP, sig)
    assert verify_nps_link(*args, now=NOW) is LinkCheck.VALID
    assert verify_nps_link(*args, now=later) is LinkCheck.EXPIRED


def test_nps_links_bind_customer_contact_quarter_and_score() -> None:
    links = nps_links("https://h", SECRET, "1003", "2003", "2026-Q4", SURVEY, EXP)
    assert sorted(links) == list(range(11))
    sig = q(links[9])["sig"]
    assert verify_nps_link(SECRET, "1003", "2003", "2026-Q4", SURVEY, 9, EXP, sig, now=NOW) is (
        LinkCheck.VALID
    )
    for changed in (
        ("1004", "2003", "2026-Q4", SURVEY, 9, EXP),
        ("1003", "2004", "2026-Q4", SURVEY, 9, EXP),
        ("1003", "2003", "2027-Q1", SURVEY, 9, EXP),
        ("1003", "2003", "2026-Q4", "f" * 16, 9, EXP),
        ("1003", "2003", "2026-Q4", SURVEY, 10, EXP),
        ("1003", "2003", "2026-Q4", SURVEY, 9, EXP + 60),
    ):
        customer, contact, quarter, survey, score, expires = changed
        check = verify_nps_link(
            SECRET, customer, contact, quarter, survey, score, expires, sig, now=NOW
        )
        assert check is LinkCheck.INVALID, changed


def test_survey_ids_are_stable_and_distinct() -> None:
    assert survey_id("csat-5001/20261123T120000/email:csat") == survey_id(
        "csat-5001/20261123T120000/email:csat"
    )
    assert survey_id("nps-1003/2026-Q4/ask:2003") != survey_id("nps-1003/2026-Q4/ask:2004")
    assert len(survey_id("x")) == 16


# -------------------------------------------------------------------------- quarters


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (date(2026, 1, 1), "2026-Q1"),
        (date(2026, 3, 31), "2026-Q1"),
        (date(2026, 4, 1), "2026-Q2"),
        (date(2026, 9, 30), "2026-Q3"),
        (date(2026, 12, 31), "2026-Q4"),
    ],
)
def test_quarter_of(day: date, quarter: str) -> None:
    assert quarter_of(day) == quarter
    assert quarter_of(quarter_first_day(quarter)) == quarter


def test_next_quarter_wraps_the_year() -> None:
    assert next_quarter("2026-Q3") == "2026-Q4"
    assert next_quarter("2026-Q4") == "2027-Q1"
    assert quarter_first_day("2027-Q1") == date(2027, 1, 1)


def test_send_time_is_the_local_send_hour_across_dst() -> None:
    window = SendWindow(send_hour=10)
    # 15 April 10:00 in New York is EDT (UTC-4); 15 January is EST (UTC-5).
    assert nps_send_time("2027-Q2", 15, "America/New_York", window) == datetime(
        2027, 4, 15, 14, tzinfo=UTC
    )
    assert nps_send_time("2027-Q1", 15, "America/New_York", window) == datetime(
        2027, 1, 15, 15, tzinfo=UTC
    )
    assert nps_send_time("2027-Q1", 1, None, window) == datetime(2027, 1, 1, 10, tzinfo=UTC)


def test_nps_categories_and_score() -> None:
    assert [nps_category(s).value for s in (0, 6, 7, 8, 9, 10)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]
    assert nps_category(7, detractor_max=7, promoter_min=9) is NpsCategory.DETRACTOR
    assert net_promoter_score([]) is None
    assert net_promoter_score([10, 9, 8, 3]) == 25.0
    assert net_promoter_score([0, 1]) == -100.0


# -------------------------------------------------------------------- playbook, inputs


def test_the_shipped_playbook_is_valid_with_its_templates() -> None:
    assert CAMPAIGN_PLAYBOOKS["surveys"] is SurveysPlan
    plan = load_playbook("surveys", SurveysPlan, PACKAGE_DIR)
    assert plan.csat.delay_hours == 24 and plan.csat.low_score_max == 2
    assert plan.nps.detractor_max == 6 and plan.nps.promoter_min == 9
    assert plan.nps.detractor_task.due_in_hours == 24
    assert plan.templates_used() == {
        "email": {"csat_survey", "nps_survey", "nps_advocacy"},
        "slack": {"csat_low_score", "nps_detractor"},
    }


def test_bad_playbooks_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="detractor_max"):
        NpsPlan(detractor_max=9, promoter_min=9)
    (tmp_path / "surveys.yaml").write_text("csat: {template: csat_survy}\n")
    from playbooks.loader import PlaybookError

    with pytest.raises(PlaybookError, match="csat_survy"):
        load_playbook("surveys", SurveysPlan, tmp_path)


def test_inputs_a_person_types() -> None:
    assert CsatInput.model_validate({"ticket_id": "5001"}).playbook == "surveys"
    assert NpsInput.model_validate({"customer_id": "1003"}).ask_this_quarter is True
    for bad in ({"ticket_id": "abc"}, {"ticket_id": "1", "playbook": "../x"}, {"ticket": "1"}):
        with pytest.raises(ValidationError):
            CsatInput.model_validate(bad)
    with pytest.raises(ValidationError):
        NpsAnswered(contact_id="2003", score=11)
    with pytest.raises(ValidationError):
        CsatAnswered(score=0)
    assert csat_workflow_id("5001") == "csat-5001" and nps_workflow_id("1003") == "nps-1003"


# ---------------------------------------------------------------------------- routes


def test_survey_answers_are_routed_to_their_workflows() -> None:
    csat = CustomerEvent(
        event_id=f"csat:5001:{SURVEY}",
        source=EventSource.SURVEY,
        type=CSAT_ANSWER,
        occurred_at=NOW,
        data={"ticket_id": "5001", "survey_id": SURVEY, "score": 2},
    )
    route = route_for(CSAT_ANSWER)
    assert route is not None and route.start_input is None  # signal only
    key = route.key(csat)
    assert key == "5001" and route.workflow_id(key) == "csat-5001"
    assert route.signal == "csat_answered" and route.signal_arg is not None
    assert route.signal_arg(csat) == CsatAnswered(
        score=2, survey_id=SURVEY, event_id=f"survey:csat:5001:{SURVEY}"
    )

    nps = CustomerEvent(
        event_id=f"nps:1003:2003:{SURVEY}",
        source=EventSource.SURVEY,
        type=NPS_ANSWER,
        customer_id="1003",
        occurred_at=NOW,
        data={"contact_id": "2003", "quarter": "2026-Q4", "survey_id": SURVEY, "score": 9},
    )
    route = route_for(NPS_ANSWER)
    assert route is not None and route.start_input is None
    key = route.key(nps)
    assert key == "1003" and route.workflow_id(key) == "nps-1003"
    assert route.signal == "nps_answered" and route.signal_arg is not None
    answer = route.signal_arg(nps)
    assert isinstance(answer, NpsAnswered)
    assert (answer.contact_id, answer.score, answer.quarter) == ("2003", 9, "2026-Q4")


# ------------------------------------------------------------------------- templates


@pytest.mark.parametrize("language", ["en", "es"])
def test_csat_email_has_one_link_per_score(language: str) -> None:
    links = csat_links("https://hub.example", SECRET, "5001", SURVEY, EXP)
    extra = {"ticket_id": "5001", "valid_days": 30}
    email = render_email(
        "csat_survey", email_context(csat_links=links, extra=extra), language=language
    )
    assert email.language == language
    for url in links.values():
        assert url in email.text
        assert url.replace("&", "&amp;") in email.html
    assert "5001" in email.subject or "5001" in email.text
    assert "30" in email.text


@pytest.mark.parametrize("language", ["en", "es"])
def test_nps_email_has_eleven_links(language: str) -> None:
    links = nps_links("https://hub.example", SECRET, "1003", "2003", "2026-Q4", SURVEY, EXP)
    email = render_email("nps_survey", email_context(nps_links=links), language=language)
    for url in links.values():
        assert url in email.text
        assert url.replace("&", "&amp;") in email.html


def test_without_links_the_surveys_ask_for_a_reply() -> None:
    assert (
        "reply to this e-mail with a number from 1"
        in render_email("csat_survey", email_context()).text
    )
    assert (
        "Responda a este correo con un número del 0"
        in render_email("nps_survey", email_context(), language="es").text
    )


def test_advocacy_links_come_from_the_playbook() -> None:
    extra = {"referral_url": "https://r.example/x", "case_study_url": "https://c.example/y"}
    email = render_email("nps_advocacy", email_context(extra=extra))
    assert "https://r.example/x" in email.html and "https://c.example/y" in email.text
    bare = render_email("nps_advocacy", email_context(company_name=HOSTILE_COMPANY))
    assert "https://r.example" not in bare.text and "<script>" not in bare.html


def test_slack_alerts_name_score_and_ticket_or_contact() -> None:
    low = render_slack("csat_low_score", slack_context(extra={"score": 1, "ticket_id": "5001"}))
    assert "CSAT 1/5" in low.text and "#5001" in low.text
    detractor = render_slack(
        "nps_detractor",
        slack_context(extra={"score": 4, "contact_id": "2003", "quarter": "2026-Q4"}),
    )
    assert "NPS detractor (4/10)" in detractor.text
    assert "2003" in str(detractor.blocks) and "1:1 call" in str(detractor.blocks)


# -------------------------------------------------------------- activities (recorded)


def messaging(crm: RecordingCrm, mailer: RecordingMailer, chat: RecordingChat) -> Any:
    return MessagingActivities(
        crm,
        mailer,
        chat,
        MessagingConfig(public_api_url="https://hub.example", survey_link_secret=SECRET),
    )


async def test_an_email_to_another_contact_follows_that_contacts_rules() -> None:
    crm = RecordingCrm(
        company_contacts={
            "1003": [
                CrmContact(id="2003", email="grace@x.example", first_name="Grace"),
                CrmContact(id="2004", email="leo@x.example", language="es", first_name="Leo"),
                CrmContact(id="2005", email="no@x.example", email_opt_out=True),
            ]
        }
    )
    mailer, chat = RecordingMailer(), RecordingChat()
    acts = messaging(crm, mailer, chat)
    env = ActivityEnvironment()
    extra = {
        "nps_survey": {
            "contact_id": "2004",
            "quarter": "2026-Q4",
            "survey_id": SURVEY,
            "expires": EXP,
        }
    }
    req = CustomerEmailRequest(
        customer_id="1003",
        template="nps_survey",
        idempotency_key="nps-1003/2026-Q4/ask:2004",
        context=MessageContext(day=0, extra=extra),
        send_window=SendWindow(quiet_start=0, quiet_end=0),
        recipient=EmailRecipient(contact_id="2004"),
    )
    result = await env.run(acts.send_customer_email, req)
    assert result.created and not result.suppressed
    (sent,) = mailer.sent
    assert sent.to == "leo@x.example" and sent.headers["Content-Language"] == "es"
    assert sent.headers["X-Cshub-Contact-Id"] == "2004"
    assert "contact=2004" in sent.headers["List-Unsubscribe"]
    assert "/survey/nps?customer=1003&contact=2004&quarter=2026-Q4" in sent.text
    assert SECRET not in sent.text

    opted_out = req.model_copy(
        update={"recipient": EmailRecipient(contact_id="2005"), "idempotency_key": "k2"}
    )
    result = await env.run(acts.send_customer_email, opted_out)
    assert result.suppressed and len(mailer.sent) == 1
    assert len(chat.posts) == 1  # the CSM is told


async def test_an_address_that_is_no_contact_still_gets_the_csat_in_english() -> None:
    class NoContacts(RecordingCrm):
        def find_contact_by_email(self, email: str, *, properties: Any = ()) -> None:
            return None

    crm, mailer = NoContacts(), RecordingMailer()
    acts = messaging(crm, mailer, RecordingChat())
    extra = {"csat_survey": {"ticket_id": "5001", "survey_id": SURVEY, "expires": EXP}}
    req = CustomerEmailRequest(
        customer_id="1007",
        template="csat_survey",
        idempotency_key="csat-5001/x/email:csat",
        context=MessageContext(day=0, extra=extra),
        send_window=SendWindow(quiet_start=0, quiet_end=0),
        recipient=EmailRecipient(email="Guest@Else.example"),
    )
    await ActivityEnvironment().run(acts.send_customer_email, req)
    (sent,) = mailer.sent
    assert sent.to == "Guest@Else.example"
    assert "email=Guest%40Else.example" in sent.headers["List-Unsubscribe"]
    assert "X-Cshub-Contact-Id" not in sent.headers
    assert sent.text.count("/survey/csat?ticket=5001") == 5


def test_survey_activities_with_recording_connectors() -> None:
    crm = RecordingCrm(company_contacts={"1003": [CrmContact(id="2003", email="grace@x.example")]})
    helpdesk = RecordingHelpdesk()
    acts = SurveyActivities(crm, helpdesk)
    env = ActivityEnvironment()

    refs = env.run(acts.nps_contacts, NpsContactsRequest(customer_id="1003"))
    assert [(r.contact_id, r.last_asked) for r in refs] == [("2003", None)]
    env.run(
        acts.update_contact,
        ContactUpdateRequest(contact_id="2003", properties={"cshub_nps_last_asked": "2026-10-15"}),
    )
    (ref,) = env.run(acts.nps_contacts, NpsContactsRequest(customer_id="1003"))
    assert ref.last_asked == date(2026, 10, 15)

    who = env.run(acts.csat_recipient, CsatRecipientRequest(ticket_id="42", customer_id="1003"))
    assert who.customer_id == "1003" and who.contact_id and who.email is None
    assert who.skip_reason is None

    record = CsatTicketRecord(ticket_id="42", score=2, answered_at=NOW)
    first = env.run(acts.record_csat_on_ticket, record)
    assert first.created
    assert {"cshub_csat", "csat_score_2"} <= set(helpdesk.get_ticket("42").tags)
    again = env.run(acts.record_csat_on_ticket, record)  # a retried activity
    assert not again.created


@pytest.mark.parametrize("extra", ["é", "\udcff", "\u200b", " "])
def test_a_genuine_signature_with_anything_appended_is_invalid(extra: str) -> None:
    sig = q(csat_links("https://h", SECRET, "5001", SURVEY, EXP)[3])["sig"]
    assert verify_csat_link(SECRET, "5001", SURVEY, 3, EXP, sig, now=NOW) is LinkCheck.VALID
    assert verify_csat_link(SECRET, "5001", SURVEY, 3, EXP, sig + extra, now=NOW) is (
        LinkCheck.INVALID
    )


def test_verification_accepts_the_listed_secrets_only() -> None:
    from urllib.parse import parse_qs, urlsplit

    from domain.survey_links import (
        LinkCheck,
        csat_links,
        exit_survey_links,
        verify_csat_link,
        verify_exit_survey,
    )

    now = datetime(2027, 1, 1, tzinfo=UTC)
    exp = int(now.timestamp()) + 60
    q = parse_qs(urlsplit(csat_links("https://x", "old", "7", "s" * 16, exp)[5]).query)
    sig = q["sig"][0]
    assert verify_csat_link(["new", "old"], "7", "s" * 16, 5, exp, sig, now) is LinkCheck.VALID
    assert verify_csat_link(["new"], "7", "s" * 16, 5, exp, sig, now) is LinkCheck.INVALID
    assert verify_csat_link("old", "7", "s" * 16, 5, exp, sig, now) is LinkCheck.VALID
    link = exit_survey_links("https://x", "old", "1", "c", expires=exp)["other"]
    exit_sig = parse_qs(urlsplit(link).query)["sig"][0]
    check = verify_exit_survey(["new", "old"], "1", "other", "c", exp, exit_sig, now)
    assert check is LinkCheck.VALID
    assert verify_exit_survey(["new"], "1", "other", "c", exp, exit_sig, now) is LinkCheck.INVALID
    for bad in ([], ["", " "], ""):  # an empty key signs nothing
        assert verify_csat_link(bad, "7", "s" * 16, 5, exp, sig, now) is LinkCheck.INVALID
