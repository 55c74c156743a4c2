"""E-mail preferences: which category each e-mail belongs to, which categories a contact
may turn off, and the signed links of the hub's preference centre.

A contact chooses categories (onboarding tips, product news, surveys) and a language on
the hub's own page; billing and service messages (payment failed, renewal reminders,
usage limits) are always on. The choice lives in the CRM (contact property
``cshub_email_opt_out_categories``, the categories turned off, ``;``-separated as HubSpot
stores a multiple checkbox) and the messaging activity reads it before every e-mail.

Links are signed with the survey-link secret (``SURVEY_LINK_SECRET``,
:mod:`domain.survey_links`): what is signed is the contact id, so nobody can change
another contact's preferences; the link has no expiry, as an unsubscribe link must keep
working in an old e-mail.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from urllib.parse import urlencode

from domain.survey_links import Secrets, _same, _secrets, _sign

OPT_OUT_PROPERTY = "cshub_email_opt_out_categories"
"""CRM contact property: the categories the contact turned off (``;``-separated)."""
CONSENT_UPDATED_PROPERTY = "cshub_consent_updated_at"
CONSENT_SOURCE_PROPERTY = "cshub_consent_source"
LANGUAGE_PROPERTY = "hs_language"
PREFERENCES_PATH = "/preferences"
ONE_CLICK_PATH = "/preferences/unsubscribe"
LANGUAGES = ("en", "es")
ALL_OPTIONAL = "all"
"""The one-click category of an always-on e-mail: turns off every optional category."""


class Category(StrEnum):
    ONBOARDING_TIPS = "onboarding_tips"
    PRODUCT_NEWS = "product_news"
    SURVEYS = "surveys"
    SERVICE = "service"
    """Billing and service messages: always on."""


OPTIONAL = (Category.ONBOARDING_TIPS, Category.PRODUCT_NEWS, Category.SURVEYS)


class ConsentSource(StrEnum):
    PREFERENCE_PAGE = "preference_page"
    ONE_CLICK = "one_click"  # RFC 8058 List-Unsubscribe-Post from the mail client


TEMPLATE_CATEGORIES: dict[str, Category] = {
    # Onboarding and adoption: the journey's tips and check-ins.
    "welcome": Category.ONBOARDING_TIPS,
    "quick_win": Category.ONBOARDING_TIPS,
    "tips": Category.ONBOARDING_TIPS,
    "check_in": Category.ONBOARDING_TIPS,
    "nudge": Category.ONBOARDING_TIPS,
    "engagement": Category.ONBOARDING_TIPS,
    "progress_summary": Category.ONBOARDING_TIPS,
    "success_story": Category.ONBOARDING_TIPS,
    "milestone_celebration": Category.ONBOARDING_TIPS,
    "onboarding_complete": Category.ONBOARDING_TIPS,
    "health_celebration": Category.ONBOARDING_TIPS,
    # Product news, offers, win-back.
    "upgrade_expand": Category.PRODUCT_NEWS,
    "churn_reengagement": Category.PRODUCT_NEWS,
    "nps_advocacy": Category.PRODUCT_NEWS,
    "advocacy_ask": Category.PRODUCT_NEWS,
    "winback_we_miss_you": Category.PRODUCT_NEWS,
    "winback_whats_new": Category.PRODUCT_NEWS,
    "winback_offer": Category.PRODUCT_NEWS,
    # Surveys.
    "csat_survey": Category.SURVEYS,
    "nps_survey": Category.SURVEYS,
    "winback_exit_survey": Category.SURVEYS,
    "onboarding_survey": Category.SURVEYS,
    # Billing and service: always sent.
    "dunning_payment_failed": Category.SERVICE,
    "dunning_payment_received": Category.SERVICE,
    "renewal_reminder": Category.SERVICE,
    "usage_limit_warning": Category.SERVICE,
}


def category_of(template: str) -> Category:
    """The template's category; a template nobody classified counts as a service
    message (sent), which a unit test keeps from happening by listing every template."""
    return TEMPLATE_CATEGORIES.get(template, Category.SERVICE)


def parse_opt_outs(value: str | None) -> frozenset[Category]:
    """The optional categories in a stored property value; unknown names are dropped."""
    names = {part.strip() for part in (value or "").split(";")}
    return frozenset(c for c in OPTIONAL if c.value in names)


def format_opt_outs(categories: Iterable[Category]) -> str:
    """The property value (in a stable order); service is never stored."""
    chosen = set(categories)
    return ";".join(c.value for c in OPTIONAL if c in chosen)


def blocked_by_preferences(template: str, opted_out: Iterable[str]) -> Category | None:
    """The category that stops this e-mail, or None when it may go."""
    category = category_of(template)
    if category is Category.SERVICE:
        return None
    return category if category.value in set(opted_out) else None


def preference_signature(secret: str, contact_id: str) -> str:
    return _sign(secret, "preferences", contact_id)


def verify_preference_signature(secrets: Secrets, contact_id: str, sig: str) -> bool:
    """Signed with any accepted secret (``SURVEY_LINK_PREVIOUS_SECRETS`` too: a link in
    an e-mail sent before a rotation keeps working); no usable secret: never valid."""
    found = False
    for secret in _secrets(secrets):
        found |= _same(preference_signature(secret, contact_id), sig)
    return found


def _url(base_url: str, path: str, query: dict[str, str]) -> str:
    return f"{base_url.rstrip('/')}{path}?{urlencode(query)}"


def preference_link(base_url: str, secret: str, contact_id: str) -> str:
    """The e-mail footer's link: the contact's preference page."""
    sig = preference_signature(secret, contact_id)
    return _url(base_url, PREFERENCES_PATH, {"contact": contact_id, "sig": sig})


def one_click_link(base_url: str, secret: str, contact_id: str, template: str) -> str:
    """The ``List-Unsubscribe`` URL: a POST turns off the e-mail's category (every optional
    one for an always-on e-mail); a GET shows the preference page."""
    category = category_of(template)
    name = ALL_OPTIONAL if category is Category.SERVICE else category.value
    sig = preference_signature(secret, contact_id)
    return _url(base_url, ONE_CLICK_PATH, {"contact": contact_id, "category": name, "sig": sig})
