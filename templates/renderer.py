"""Render customer e-mails and CSM Slack messages from the Jinja2 files beside this module.

Layout of the folder::

    email/<name>.html.j2   HTML part; extends email/_layout.html.j2 (autoescaped)
    email/<name>.txt.j2    plain-text part; extends email/_layout.txt.j2 (not escaped)
    email/subjects.yaml    name -> Jinja string for the subject line (not escaped)
    slack/<name>.json.j2   a JSON object {"text": fallback, "blocks": [Block Kit blocks]}

Files whose name starts with ``_`` are partials (layouts, macros) and are not templates
of their own.

Variables are strict: a template that uses a variable the caller did not pass fails with
``jinja2.UndefinedError`` naming it, instead of sending "Hi ," to a customer. The only
exceptions are the keys documented as nullable or optional, which default to ``None``
when absent (``EMAIL_DEFAULTS`` / ``SLACK_DEFAULTS``); templates guard those themselves.
Rendering is pure (no I/O beyond reading these files), so it is safe to call from an
activity and cheap to call repeatedly: the environment and compiled templates are cached.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, UndefinedError
from pydantic import BaseModel

__all__ = [
    "EMAIL_DEFAULTS",
    "SLACK_DEFAULTS",
    "RenderedEmail",
    "RenderedSlack",
    "TemplateNotFound",
    "email_template_names",
    "render_email",
    "render_slack",
    "slack_template_names",
]

TEMPLATES_DIR = Path(__file__).parent
EMAIL_DIR = TEMPLATES_DIR / "email"
SLACK_DIR = TEMPLATES_DIR / "slack"
SUBJECTS_FILE = EMAIL_DIR / "subjects.yaml"

# Keys documented as "may be None" / optional: a caller may leave them out.
# milestone_title and nudge_message are deliberately absent: the templates that use them
# need a real value, so leaving them out must fail loudly.
EMAIL_DEFAULTS: Mapping[str, Any] = {
    "contact_first_name": None,
    "phase_name": None,
    "next_step": None,
    "survey_url": None,
}
SLACK_DEFAULTS: Mapping[str, Any] = {
    "csm_slack_id": None,
    "reason": None,
    "summary": None,
    "crm_url": None,
    "next_step": None,
}

# Block Kit limits (https://api.slack.com/reference/block-kit/blocks). Values come from
# CRM data of arbitrary length; clipping here beats Slack rejecting the whole message.
_HEADER_MAX = 150
_SECTION_TEXT_MAX = 3000
_FIELD_MAX = 2000
_BUTTON_TEXT_MAX = 75
_FALLBACK_MAX = 3000

_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")


class RenderedEmail(BaseModel):
    subject: str
    text: str
    html: str


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
def _environment() -> Environment:
    def autoescape(template_name: str | None) -> bool:
        # HTML parts only; text parts, subjects (from_string) and Slack JSON are not HTML.
        return template_name is not None and template_name.endswith(".html.j2")

    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["slack_escape"] = slack_escape
    env.globals["slack_mention"] = slack_mention
    env.globals["percent"] = percent
    return env


@functools.cache
def _subjects() -> dict[str, Template]:
    raw = yaml.safe_load(SUBJECTS_FILE.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ValueError(f"{SUBJECTS_FILE} must map template names to subject strings")
    env = _environment()
    return {name: env.from_string(source) for name, source in raw.items()}


def _stems(folder: Path, suffix: str) -> set[str]:
    return {
        p.name.removesuffix(suffix)
        for p in folder.glob(f"*{suffix}")
        if p.is_file() and not p.name.startswith("_")
    }


def email_template_names() -> list[str]:
    """Every e-mail name that has at least one part (a test checks each has all three)."""
    names = _stems(EMAIL_DIR, ".html.j2") | _stems(EMAIL_DIR, ".txt.j2") | set(_subjects())
    return sorted(names)


def slack_template_names() -> list[str]:
    return sorted(_stems(SLACK_DIR, ".json.j2"))


def _with_defaults(defaults: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    merged.update(context)
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


def render_email(name: str, context: Mapping[str, Any]) -> RenderedEmail:
    """Render the subject, plain-text and HTML parts of the e-mail ``name``."""
    if name not in email_template_names():
        raise TemplateNotFound(name, EMAIL_DIR, f"known: {', '.join(email_template_names())}")
    missing = [
        f"{name}{suffix}"
        for suffix in (".html.j2", ".txt.j2")
        if not (EMAIL_DIR / f"{name}{suffix}").is_file()
    ]
    subjects = _subjects()
    if name not in subjects:
        missing.append(f"a subject in {SUBJECTS_FILE.name}")
    if missing:
        raise TemplateNotFound(name, EMAIL_DIR, f"missing {', '.join(missing)}")

    ctx = _with_defaults(EMAIL_DEFAULTS, context)
    try:
        subject = _one_line(subjects[name].render(ctx))
    except UndefinedError as exc:
        raise UndefinedError(f"email/{SUBJECTS_FILE.name}[{name}]: {exc.message}") from exc
    if not subject:
        raise ValueError(f"e-mail {name!r} rendered an empty subject")
    text = _tidy_text(_render(f"email/{name}.txt.j2", ctx))
    html = _render(f"email/{name}.html.j2", ctx)
    return RenderedEmail(subject=subject, text=text, html=html)


def render_slack(name: str, context: Mapping[str, Any]) -> RenderedSlack:
    """Render the Slack message ``name``: fallback text plus validated Block Kit blocks."""
    if name not in slack_template_names():
        raise TemplateNotFound(name, SLACK_DIR, f"known: {', '.join(slack_template_names())}")
    path = f"slack/{name}.json.j2"
    source = _render(path, _with_defaults(SLACK_DEFAULTS, context))
    try:
        payload = json.loads(source)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} did not render valid JSON: {exc}") from exc
    text, blocks = _validate_slack(path, payload)
    return RenderedSlack(text=_clip(text, _FALLBACK_MAX), blocks=[_clip_block(b) for b in blocks])


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
