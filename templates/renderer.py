"""Render customer e-mails and CSM Slack messages from the Jinja2 files beside this module.

Layout of the folder::

    email/<name>.html.j2            HTML part; extends email/_layout.html.j2 (autoescaped)
    email/<name>.txt.j2             plain-text part; extends email/_layout.txt.j2 (not escaped)
    email/subjects/<family>.yaml    name -> Jinja string for the subject line (not escaped);
                                    every *.yaml there is loaded and merged (onboarding,
                                    renewal, dunning, churn, winback …); a name defined in
                                    two files is an error naming both
    email/<lang>/<name>.html.j2     a translation (``lang`` = ISO 639 code, e.g. ``es``),
    email/<lang>/<name>.txt.j2      same variables as the English version; may extend the
    email/<lang>/subjects/*.yaml    shared layouts, which read ``lang``
    slack/<name>.json.j2            a JSON object {"text": fallback, "blocks": [Block Kit]}

English (the top-level files) is the reference: every e-mail has an English version, and
a translation is optional. ``render_email(name, ctx, language="es-MX")`` uses the Spanish
version when all three of its parts (subject, HTML, text) exist, and English for all three
otherwise, never a mix. The renderer sets ``lang`` (the language actually used) in the
context for the layouts, and ``locale`` (the Babel locale of the full tag, e.g. ``es_MX``)
for the money, count and date filters of templates/formatting.py; a macro file that uses
them is imported ``with context``. Files whose name starts with ``_`` are partials
(layouts, macros, shared copy) and are not templates of their own.

Variables are strict: a template that uses a variable the caller did not pass fails with
``jinja2.UndefinedError`` naming it, instead of sending "Hi ," to a customer. The only
exceptions are the keys documented as nullable or optional (``EMAIL_DEFAULTS`` /
``SLACK_DEFAULTS``), which get their default when absent; templates guard those
themselves. ``extra`` and ``company`` are dicts: ``None`` for them means ``{}``.
Rendering is pure (no I/O beyond reading these files), so it is safe to call from an
activity and cheap to call repeatedly: the environment and compiled templates are cached.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, UndefinedError
from pydantic import BaseModel

from domain.score_text import delta_text, score_text
from domain.strict_yaml import DuplicateKeyError, load_yaml_file
from templates import formatting

__all__ = [
    "DEFAULT_LANGUAGE",
    "DEFAULT_SLACK_LOCALE",
    "EMAIL_DEFAULTS",
    "SLACK_DEFAULTS",
    "RenderedEmail",
    "RenderedSlack",
    "TemplateNotFound",
    "email_languages",
    "email_template_names",
    "primary_language",
    "render_email",
    "render_slack",
    "slack_template_names",
    "subjects_dir",
]

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent
EMAIL_DIR = TEMPLATES_DIR / "email"
SLACK_DIR = TEMPLATES_DIR / "slack"
SUBJECTS_DIRNAME = "subjects"

DEFAULT_LANGUAGE = "en"
"""The language of the top-level e-mail files, and the fallback for every other."""
DEFAULT_SLACK_LOCALE = "en-US"
"""The locale of numbers and dates in Slack messages when the team sets none."""

# Keys documented as "may be None" / optional: a caller may leave them out.
# milestone_title and nudge_message are deliberately absent: the templates that use them
# need a real value, so leaving them out must fail loudly.
EMAIL_DEFAULTS: Mapping[str, Any] = {
    "contact_first_name": None,
    "phase_name": None,
    "next_step": None,
    "survey_url": None,
    "extra": {},  # workflow-specific values (attempt_day, days_left, discount_percent …)
    "company": {},  # CRM company properties
    "exit_survey_links": None,  # exit reason -> signed one-click URL
}
SLACK_DEFAULTS: Mapping[str, Any] = {
    "csm_slack_id": None,
    "reason": None,
    "summary": None,
    "crm_url": None,
    "next_step": None,
    "tier": None,  # lifecycle workflows may not know the plan
    # The account executive (company property cshub_account_executive_id), for the
    # health alerts: None when the company has none.
    "ae_slack_id": None,
    "ae_name": None,
    "extra": {},
}
# Dict-valued keys: None from a caller means "nothing", like leaving them out.
_DICT_KEYS = frozenset({"extra", "company"})

# Block Kit limits (https://api.slack.com/reference/block-kit/blocks). Values come from
# CRM data of arbitrary length; clipping here beats Slack rejecting the whole message.
_HEADER_MAX = 150
_SECTION_TEXT_MAX = 3000
_FIELD_MAX = 2000
_BUTTON_TEXT_MAX = 75
_FALLBACK_MAX = 3000

_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")
# A translation folder is named by an ISO 639 code; this also keeps "../x" out of paths.
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


class RenderedEmail(BaseModel):
    subject: str
    text: str
    html: str
    language: str = DEFAULT_LANGUAGE
    """The language actually rendered (``en`` when the requested one has no version)."""
    locale: str = formatting.DEFAULT_LOCALE
    """The Babel locale of money, counts and dates (``es_MX``, ``en_GB``, ``en_US``)."""


class RenderedSlack(BaseModel):
    text: str
    blocks: list[dict[str, Any]]


class TemplateNotFound(LookupError):
    """No template of that name (or one of its parts is missing) in the folder looked in."""

    def __init__(self, name: str, folder: Path, detail: str = "") -> None:
        self.name = name
        self.folder = folder
        message = f"template {name!r} not found in {folder}"
        super().__init__(f"{message}: {detail}" if detail else message)


# --------------------------------------------------------------------------- filters


def slack_escape(value: object) -> str:
    """Escape the three characters Slack mrkdwn treats as control characters.

    Without this a company called ``<!channel>`` would ping the whole channel.
    """
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MRKDWN_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>")
_MRKDWN_BARE = re.compile(r"<([^<>|]+)>")


def mrkdwn_plain(text: str) -> str:
    """A Slack mrkdwn text as a person reads it, for places that are not Slack (a
    journey's action list, the timeline): ``<url|label>`` -> ``label``, ``<@U1>`` ->
    ``@U1``, ``<!here>`` -> ``@here``, ``<url>`` -> ``url``, and the escapes undone (``Quill &amp; Co`` ->
    ``Quill & Co``). Links first: an escaped ``&lt;`` is text, never a link."""
    text = _MRKDWN_LINK.sub(lambda m: m.group(2), text)
    text = _MRKDWN_BARE.sub(lambda m: re.sub(r"^!", "@", m.group(1)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_mention(slack_id: str | None, fallback_name: str) -> str:
    """``<@ID>`` when the id looks like a Slack user id, else the (escaped) name."""
    if slack_id and _SLACK_ID.match(slack_id):
        return f"<@{slack_id}>"
    return slack_escape(fallback_name)


def percent(done: int, total: int) -> int:
    """Whole percentage of ``done`` out of ``total``, clamped to 0..100 (0 when total is 0)."""
    if total <= 0:
        return 0
    return max(0, min(100, round(100 * done / total)))


# ------------------------------------------------------------------------ environment


@functools.cache
def _environment_at(root: Path) -> Environment:
    def autoescape(template_name: str | None) -> bool:
        # HTML parts only; text parts, subjects (from_string) and Slack JSON are not HTML.
        return template_name is not None and template_name.endswith(".html.j2")

    env = Environment(
        loader=FileSystemLoader(root),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["slack_escape"] = slack_escape
    env.filters["score"] = score_text  # health scores: "5.7", not "5.77"
    env.filters["score_delta"] = delta_text
    env.globals["slack_mention"] = slack_mention
    env.globals["percent"] = percent
    formatting.install(env)  # money, number, duration, plural, long_date (by `locale`)
    return env


def _environment() -> Environment:
    return _environment_at(TEMPLATES_DIR)


def _relative(path: Path) -> str:
    """``email/es/subjects/onboarding.yaml`` rather than an absolute path, when possible."""
    try:
        return str(path.relative_to(TEMPLATES_DIR))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------- subjects


class _Subject(NamedTuple):
    template: Template
    source: Path
    """The YAML file that defines it, for error messages."""


def _language_dir(language: str) -> Path:
    return EMAIL_DIR if language == DEFAULT_LANGUAGE else EMAIL_DIR / language


def _prefix(language: str) -> str:
    """Where a language's files live, relative to ``email/``: ``""`` or ``"es/"``."""
    return "" if language == DEFAULT_LANGUAGE else f"{language}/"


def subjects_dir(language: str = DEFAULT_LANGUAGE) -> Path:
    """``email/subjects`` for English, ``email/<language>/subjects`` for a translation."""
    return _language_dir(language) / SUBJECTS_DIRNAME


@functools.cache
def _load_subjects(folder: Path) -> dict[str, _Subject]:
    """Every ``*.yaml`` in ``folder``, merged. A name in two files is an error naming both."""
    env = _environment()
    found: dict[str, _Subject] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            raw = load_yaml_file(path) or {}
        except DuplicateKeyError as exc:
            raise ValueError(str(exc)) from exc
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            raise ValueError(f"{path} must map template names to subject strings")
        for name, source in raw.items():
            if name in found:
                raise ValueError(
                    f"the subject of e-mail {name!r} is defined twice, in {found[name].source} "
                    f"and in {path}: keep one"
                )
            found[name] = _Subject(env.from_string(source), path)
    return found


def _subjects(language: str = DEFAULT_LANGUAGE) -> dict[str, _Subject]:
    return _load_subjects(subjects_dir(language))


# ------------------------------------------------------------------------ inventory


def _stems(folder: Path, suffix: str) -> set[str]:
    return {
        p.name.removesuffix(suffix)
        for p in folder.glob(f"*{suffix}")
        if p.is_file() and not p.name.startswith("_")
    }


def _names_in(language: str) -> set[str]:
    """Every e-mail name with at least one part in ``language`` (complete or not)."""
    folder = _language_dir(language)
    return _stems(folder, ".html.j2") | _stems(folder, ".txt.j2") | set(_subjects(language))


def _translation_languages() -> list[str]:
    """Languages with a folder of their own under ``email/`` (English is the top level)."""
    if not EMAIL_DIR.is_dir():
        return []
    return sorted(
        p.name
        for p in EMAIL_DIR.iterdir()
        if p.is_dir() and _LANGUAGE_CODE.match(p.name) and p.name != DEFAULT_LANGUAGE
    )


def _missing_parts(name: str, language: str) -> list[str]:
    """The parts of ``name`` that ``language`` lacks, relative to ``email/``."""
    folder, prefix = _language_dir(language), _prefix(language)
    missing = [
        f"{prefix}{name}{suffix}"
        for suffix in (".html.j2", ".txt.j2")
        if not (folder / f"{name}{suffix}").is_file()
    ]
    if name not in _subjects(language):
        missing.append(f"a subject in {prefix}{SUBJECTS_DIRNAME}/*.yaml")
    return missing


def email_template_names() -> list[str]:
    """Every e-mail name that has at least one English part (a test checks each has all
    three). Translations never add names: English is the reference."""
    return sorted(_names_in(DEFAULT_LANGUAGE))


def slack_template_names() -> list[str]:
    return sorted(_stems(SLACK_DIR, ".json.j2"))


def _require_english(name: str) -> None:
    if name not in email_template_names():
        raise TemplateNotFound(name, EMAIL_DIR, f"known: {', '.join(email_template_names())}")
    missing = _missing_parts(name, DEFAULT_LANGUAGE)
    if missing:
        raise TemplateNotFound(name, EMAIL_DIR, f"missing {', '.join(missing)}")


def email_languages(name: str) -> list[str]:
    """The languages ``render_email(name, …)`` can produce: ``en`` first, then every
    language with a complete translation (HTML, text and subject), alphabetically.

    Raises TemplateNotFound like ``render_email`` for an unknown or incomplete name.
    """
    _require_english(name)
    translated = [lang for lang in _translation_languages() if not _missing_parts(name, lang)]
    return [DEFAULT_LANGUAGE, *translated]


def primary_language(language: str | None) -> str:
    """The primary subtag of a language tag, lower-case: ``es-MX``, ``ES`` or ``es_419``
    give ``es``. None, empty or malformed tags give ``en``."""
    if not language:
        return DEFAULT_LANGUAGE
    primary = re.split(r"[-_]", language.strip(), maxsplit=1)[0].lower()
    return primary if _LANGUAGE_CODE.match(primary) else DEFAULT_LANGUAGE


def _language_for(name: str, requested: str | None) -> str:
    """The requested language when ``name`` has a complete version in it, else English."""
    wanted = primary_language(requested)
    if wanted == DEFAULT_LANGUAGE or wanted not in _translation_languages():
        return DEFAULT_LANGUAGE
    missing = _missing_parts(name, wanted)
    if not missing:
        return wanted
    if name in _names_in(wanted):
        # Half a translation is a mistake (a test catches it); English beats a mix.
        log.warning("e-mail %r: the %r version lacks %s; sending English", name, wanted, missing)
    return DEFAULT_LANGUAGE


# -------------------------------------------------------------------------- rendering


def _with_defaults(defaults: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(defaults))  # templates get their own {} for extra/company
    merged.update(context)
    for key in _DICT_KEYS:
        if key in merged and merged[key] is None:
            merged[key] = {}
    return merged


def _render(template_name: str, context: Mapping[str, Any]) -> str:
    try:
        return _environment().get_template(template_name).render(context)
    except UndefinedError as exc:
        # Keep the type (callers treat it as a programming error, not retryable) but say
        # which template failed: "'company_name' is undefined" alone is hard to trace.
        raise UndefinedError(f"{template_name}: {exc.message}") from exc


_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy_text(text: str) -> str:
    """Plain-text parts: no trailing spaces, at most one blank line in a row."""
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"


def _one_line(text: str) -> str:
    """Subjects go into a mail header: one line, single spaces (no header injection)."""
    return " ".join(text.split())


def render_email(
    name: str, context: Mapping[str, Any], language: str | None = DEFAULT_LANGUAGE
) -> RenderedEmail:
    """Render the subject, plain-text and HTML parts of the e-mail ``name``.

    ``language`` is a language tag (``es``, ``es-MX``, ``ES``; None means English): its
    primary subtag picks the translation when ``name`` has a complete one, English
    otherwise. ``RenderedEmail.language`` says which was used. The context gets ``lang``
    (that language) for the layouts, and ``locale``, the full tag's Babel locale in that
    language (``es-MX`` → ``es_MX``, ``en-GB`` → ``en_GB``), for the money, count and
    date filters; a ``lang`` or ``locale`` passed by the caller is replaced.
    """
    _require_english(name)
    lang = _language_for(name, language)
    ctx = _with_defaults(EMAIL_DEFAULTS, context)
    ctx["lang"] = lang
    ctx["locale"] = formatting.locale_for(language, lang)

    subject_entry = _subjects(lang)[name]
    try:
        subject = _one_line(subject_entry.template.render(ctx))
    except UndefinedError as exc:
        where = f"{_relative(subject_entry.source)}[{name}]"
        raise UndefinedError(f"{where}: {exc.message}") from exc
    if not subject:
        raise ValueError(f"e-mail {name!r} ({lang}) rendered an empty subject")
    base = f"email/{_prefix(lang)}{name}"
    text = _tidy_text(_render(f"{base}.txt.j2", ctx))
    html = _render(f"{base}.html.j2", ctx)
    return RenderedEmail(subject=subject, text=text, html=html, language=lang, locale=ctx["locale"])


def render_slack(
    name: str, context: Mapping[str, Any], locale: str | None = DEFAULT_SLACK_LOCALE
) -> RenderedSlack:
    """Render the Slack message ``name``: fallback text plus validated Block Kit blocks.

    The messages are in English; ``locale`` (the team's, setting ``CSHUB_TEAM_LOCALE``: ``en-US``,
    ``en-GB``, ``es-ES`` …) writes their money, counts and dates."""
    if name not in slack_template_names():
        raise TemplateNotFound(name, SLACK_DIR, f"known: {', '.join(slack_template_names())}")
    path = f"slack/{name}.json.j2"
    ctx = _with_defaults(SLACK_DEFAULTS, context)
    ctx["locale"] = formatting.locale_for(locale, _slack_language(locale))
    source = _render(path, ctx)
    try:
        payload = json.loads(source)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} did not render valid JSON: {exc}") from exc
    text, blocks = _validate_slack(path, payload)
    return RenderedSlack(text=_clip(text, _FALLBACK_MAX), blocks=[_clip_block(b) for b in blocks])


def _slack_language(locale: str | None) -> str:
    """Slack messages are English text, but a team may write numbers and dates its own
    way (``es-ES``: ``1.000 JPY``, ``1 de marzo de 2027``): the locale keeps its language."""
    return primary_language(locale)


def _validate_slack(path: str, payload: object) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(payload, dict):
        raise ValueError(f"{path} must render a JSON object, got {type(payload).__name__}")
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{path} must render a non-empty fallback 'text'")
    blocks = payload.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        raise ValueError(f"{path} must render a non-empty 'blocks' list")
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ValueError(f"{path}: blocks[{i}] is not an object with a 'type'")
    if len(blocks) > 50:
        raise ValueError(f"{path}: {len(blocks)} blocks (Slack allows 50)")
    return text, blocks


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_text_object(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = _clip(obj["text"], limit)


def _clip_block(block: dict[str, Any]) -> dict[str, Any]:
    kind = block["type"]
    if kind == "header":
        _clip_text_object(block.get("text"), _HEADER_MAX)
    elif kind == "section":
        _clip_text_object(block.get("text"), _SECTION_TEXT_MAX)
        for field in block.get("fields") or []:
            _clip_text_object(field, _FIELD_MAX)
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            _clip_text_object(accessory.get("text"), _BUTTON_TEXT_MAX)
    elif kind == "context":
        for element in block.get("elements") or []:
            _clip_text_object(element, _SECTION_TEXT_MAX)
    elif kind == "actions":
        for element in block.get("elements") or []:
            if isinstance(element, dict):
                _clip_text_object(element.get("text"), _BUTTON_TEXT_MAX)
    return block
