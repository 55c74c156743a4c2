"""E-mail languages: English is the reference, a translation (email/<lang>/…) is used when
the contact's language has a complete one, never mixed with English; subjects come from
every email/[<lang>/]subjects/*.yaml, and a name defined twice is an error.

The fallback and error cases run against a copy of the template folder in tmp_path, so
they do not depend on which e-mails happen to be translated.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from markupsafe import escape

from templates import renderer
from templates.renderer import (
    EMAIL_DEFAULTS,
    email_languages,
    email_template_names,
    primary_language,
    render_email,
)
from tests.templates.test_rendering import (
    EMAIL_REQUIRED,
    HOSTILE_COMPANY,
    LEFTOVER_SYNTAX,
    TIERS,
    all_parts,
    email_context,
)

ONBOARDING = (
    "welcome",
    "quick_win",
    "tips",
    "check_in",
    "success_story",
    "upgrade_expand",
    "progress_summary",
    "engagement",
    "milestone_celebration",
    "nudge",
    "onboarding_complete",
)
HEALTH = ("usage_limit_warning", "health_celebration")
SPANISH = sorted(renderer._names_in("es"))
HREF = re.compile(r'href="([^"]*)"')
# Layout and shared-copy strings that must not leak into a Spanish e-mail.
ENGLISH_LAYOUT = ("Hi ", "Best,", "Unsubscribe", "You are receiving", "Customer Success,")


# -------------------------------------------------------------------------- language tags


@pytest.mark.parametrize("tag", ["es", "es-MX", "ES", "es_419", " es-mx ", "Es-Ar"])
def test_spanish_tags(tag: str) -> None:
    assert primary_language(tag) == "es"


@pytest.mark.parametrize(
    "tag", [None, "", "en", "en-US", "EN", "fr", "x", "../es", "es/../..", "español"]
)
def test_other_tags_mean_their_primary_subtag_or_english(tag: str | None) -> None:
    assert primary_language(tag) in {"en", "fr"}
    email = render_email("welcome", email_context(), language=tag)
    assert email.language == "en"
    assert email.subject.startswith("Welcome to cshub")


@pytest.mark.parametrize("tag", ["es", "es-MX", "ES"])
def test_spanish_tags_pick_spanish(tag: str) -> None:
    email = render_email("welcome", email_context(), language=tag)
    assert email.language == "es"
    assert email.subject == "Acme Analytics, le damos la bienvenida a cshub: este es su primer paso"
    assert email.text.startswith("Hola, Ann:\n")
    assert '<html lang="es">' in email.html


def test_french_falls_back_to_english() -> None:
    english = render_email("welcome", email_context())
    french = render_email("welcome", email_context(), language="fr-CA")
    assert french.language == "en"
    # English text; the Canadian region still writes its numbers and dates (en_CA).
    assert french.locale == "en_CA"
    assert french.model_copy(update={"locale": english.locale}) == english
    assert '<html lang="en">' in french.html


def test_default_language_is_english() -> None:
    email = render_email("welcome", email_context())
    assert email.language == "en"
    assert render_email("welcome", email_context(), language=None) == email


def test_the_renderer_owns_lang() -> None:
    """A caller's own 'lang' key cannot switch the layout to another language."""
    email = render_email("welcome", email_context(lang="es"))
    assert email.language == "en" and email.text.startswith("Hi Ann,\n")


# ------------------------------------------------------------------- Spanish inventory


@pytest.mark.parametrize("name", ONBOARDING)
def test_every_onboarding_email_is_in_spanish(name: str) -> None:
    assert name in SPANISH
    assert email_languages(name) == ["en", "es"]


@pytest.mark.parametrize("name", HEALTH)
def test_every_health_email_is_in_spanish(name: str) -> None:
    assert name in SPANISH
    assert email_languages(name) == ["en", "es"]


def test_email_languages_of_an_unknown_name() -> None:
    with pytest.raises(renderer.TemplateNotFound):
        email_languages("no_such_template")


# ---------------------------------------------------------------------- Spanish content


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("name", SPANISH)
def test_spanish_renders_for_every_tier(name: str, tier: str) -> None:
    ctx = email_context(tier=tier)
    email = render_email(name, ctx, language="es")

    assert email.language == "es"
    assert email.subject.strip() and "\n" not in email.subject
    for part in (email.subject, email.text, email.html):
        assert not LEFTOVER_SYNTAX.search(part), part
        assert "None" not in part
    assert email.html.startswith("<!DOCTYPE html>")
    assert '<html lang="es">' in email.html
    assert email.text.startswith("Hola, Ann:\n")
    assert "Hola, Ann:" in email.html
    assert "Saludos cordiales," in email.text and "Saludos cordiales," in email.html
    assert ctx["company_name"] in email.html
    assert ctx["csm_name"] in email.text and ctx["csm_name"] in email.html
    assert str(escape(ctx["unsubscribe_url"])) in email.html
    assert ctx["unsubscribe_url"] in email.text
    assert email.text.endswith("\n") and "\n\n\n" not in email.text
    for english in ENGLISH_LAYOUT:
        assert english not in email.text and english not in email.html, english


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("name", SPANISH)
def test_spanish_has_the_same_structure_as_english(name: str, tier: str) -> None:
    """Same links and buttons in the same order, same list length; different words."""
    ctx = email_context(tier=tier)
    english = render_email(name, ctx)
    spanish = render_email(name, ctx, language="es")
    assert HREF.findall(spanish.html) == HREF.findall(english.html)
    assert spanish.html.count("<li") == english.html.count("<li")
    assert spanish.html.count('class="btn"') == english.html.count('class="btn"')
    assert spanish.text.count("\n- ") == english.text.count("\n- ")
    assert spanish.subject != english.subject
    assert spanish.text != english.text


@pytest.mark.parametrize("name", SPANISH)
def test_spanish_footer_has_the_unsubscribe_link(name: str) -> None:
    ctx = email_context()
    email = render_email(name, ctx, language="es-MX")
    url = str(escape(ctx["unsubscribe_url"]))
    assert re.search(rf'<a href="{re.escape(url)}"[^>]*>Darse de baja</a>', email.html)
    assert f"Darse de baja de estos correos: {ctx['unsubscribe_url']}\n" in (email.text)
    assert "Recibe este correo porque Acme Analytics tiene una cuenta de cshub." in email.text


@pytest.mark.parametrize("name", SPANISH)
def test_spanish_without_first_name(name: str) -> None:
    omitted = email_context()
    del omitted["contact_first_name"]
    for ctx in (
        email_context(contact_first_name=None),
        email_context(contact_first_name=""),
        omitted,
    ):
        email = render_email(name, ctx, language="es")
        assert email.text.startswith("Hola:\n")
        assert "Hola:</p>" in email.html


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("name", SPANISH)
def test_spanish_with_every_nullable_key_none(name: str, tier: str) -> None:
    nulls = dict.fromkeys(EMAIL_DEFAULTS)
    email = render_email(name, email_context(tier=tier, **nulls), language="es")
    assert email.language == "es"
    assert "None" not in all_parts(email)
    assert "https://survey" not in all_parts(email)


@pytest.mark.parametrize("name", SPANISH)
def test_spanish_escapes_a_hostile_company_name(name: str) -> None:
    ctx = email_context(company_name=HOSTILE_COMPANY, tier="community")
    email = render_email(name, ctx, language="es")
    assert "<script>" not in email.html
    assert str(escape(HOSTILE_COMPANY)) in email.html
    assert HOSTILE_COMPANY in email.text


@pytest.mark.parametrize("name", SPANISH)
def test_spanish_needs_the_same_keys_as_english(name: str) -> None:
    required = EMAIL_REQUIRED[name]
    for tier in TIERS:
        ctx = {k: v for k, v in email_context(tier=tier).items() if k in required}
        assert render_email(name, ctx, language="es").language == "es"
    for key in sorted(required):
        ctx = {k: v for k, v in email_context().items() if k in required and k != key}
        with pytest.raises(UndefinedError, match=key):
            render_email(name, ctx, language="es")


def test_spanish_content_follows_the_tier() -> None:
    def text(name: str, tier: str) -> str:
        return render_email(name, email_context(tier=tier), language="es").text

    assert "foro de la comunidad" in text("welcome", "community")
    assert "foro de la comunidad" not in text("welcome", "enterprise")
    assert "patrocinador ejecutivo" in text("welcome", "enterprise")
    assert "el plan Professional agrega" in text("upgrade_expand", "community")
    assert "el plan Enterprise agrega" in text("upgrade_expand", "professional")
    assert "Cambiar a Professional" in text("nudge", "community")
    assert "Cambiar a Professional" not in text("nudge", "starter")
    subjects = {
        t: render_email("upgrade_expand", email_context(tier=t), language="es").subject
        for t in TIERS
    }
    assert (
        subjects["community"] == "¿Quiere ir más allá? Lo que Professional aporta a Acme Analytics"
    )
    assert subjects["enterprise"] == "Hasta dónde puede llegar Acme Analytics con cshub"


def test_spanish_progress_and_personalisation() -> None:
    email = render_email("milestone_celebration", email_context(), language="es")
    assert email.subject == "Hito alcanzado: First production workflow live"
    assert "1 de 4 hitos de incorporación completados (25%)" in email.text
    assert "1 de 4 hitos de incorporación completados (25%)" in email.html
    assert 'width="25%"' in email.html
    assert "Connect your CRM" in email.text  # playbook text is passed through as given


def test_spanish_subject_error_names_the_file() -> None:
    ctx = email_context()
    del ctx["company_name"]
    with pytest.raises(UndefinedError, match=r"email/es/subjects/onboarding\.yaml\[welcome\]"):
        render_email("welcome", ctx, language="es")


# ------------------------------------------------------------ fallback and subject files


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the template folder, used by the renderer for this test."""
    root = tmp_path / "templates"
    shutil.copytree(renderer.TEMPLATES_DIR / "email", root / "email")
    shutil.copytree(renderer.TEMPLATES_DIR / "slack", root / "slack")
    monkeypatch.setattr(renderer, "TEMPLATES_DIR", root)
    monkeypatch.setattr(renderer, "EMAIL_DIR", root / "email")
    monkeypatch.setattr(renderer, "SLACK_DIR", root / "slack")
    return root / "email"


def _add_english_only(email_dir: Path) -> None:
    (email_dir / "only_en.html.j2").write_text(
        '{% extends "email/_layout.html.j2" %}{% block content %}<p>English only.</p>{% endblock %}',
        encoding="utf-8",
    )
    (email_dir / "only_en.txt.j2").write_text(
        '{% extends "email/_layout.txt.j2" %}{% block content %}English only.{% endblock %}',
        encoding="utf-8",
    )
    (email_dir / "subjects" / "extra.yaml").write_text(
        'only_en: "Only in English for {{ company_name }}"\n', encoding="utf-8"
    )


def test_english_only_template_renders_english_for_spanish(tree: Path) -> None:
    _add_english_only(tree)
    assert "only_en" in email_template_names()
    assert email_languages("only_en") == ["en"]
    email = render_email("only_en", email_context(), language="es-MX")
    assert email.language == "en"
    assert email.subject == "Only in English for Acme Analytics"
    assert email.text.startswith("Hi Ann,\n") and "English only." in email.text
    assert '<html lang="en">' in email.html and "Unsubscribe</a>" in email.html


@pytest.mark.parametrize("part", ["nudge.html.j2", "nudge.txt.j2", "subject"])
def test_incomplete_translation_is_english_for_all_parts(
    tree: Path, part: str, caplog: pytest.LogCaptureFixture
) -> None:
    if part == "subject":
        subjects = tree / "es" / "subjects" / "onboarding.yaml"
        lines = subjects.read_text(encoding="utf-8").splitlines(keepends=True)
        subjects.write_text("".join(x for x in lines if not x.startswith("nudge:")), "utf-8")
    else:
        (tree / "es" / part).unlink()
    english = render_email("nudge", email_context())
    with caplog.at_level(logging.WARNING, logger=renderer.__name__):
        email = render_email("nudge", email_context(), language="es")
    assert email == english
    assert email.language == "en"
    assert email_languages("nudge") == ["en"]
    assert "'nudge'" in caplog.text and "sending English" in caplog.text
    assert email_languages("welcome") == ["en", "es"]  # the others are unaffected


def test_a_name_only_translated_is_unknown(tree: Path) -> None:
    shutil.copy(tree / "es" / "nudge.html.j2", tree / "es" / "orphan.html.j2")
    assert "orphan" not in email_template_names()
    with pytest.raises(renderer.TemplateNotFound):
        render_email("orphan", email_context(), language="es")


@pytest.mark.parametrize("language", ["en", "es"])
def test_subjects_from_every_file_are_merged(tree: Path, language: str) -> None:
    folder = renderer.subjects_dir(language)
    (folder / "renewal.yaml").write_text('renewal_x: "Renewal {{ company_name }}"\n', "utf-8")
    assert "renewal_x" in renderer._subjects(language)
    assert "welcome" in renderer._subjects(language)


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_subject_defined_in_two_files_is_an_error_naming_both(tree: Path, language: str) -> None:
    folder = renderer.subjects_dir(language)
    (folder / "renewal.yaml").write_text('welcome: "Twice"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="'welcome' is defined twice") as err:
        render_email("welcome", email_context(), language=language)
    assert str(folder / "onboarding.yaml") in str(err.value)
    assert str(folder / "renewal.yaml") in str(err.value)
    if language == "en":
        with pytest.raises(ValueError, match="defined twice"):
            email_template_names()


def test_a_subject_defined_twice_in_one_file_is_an_error(tree: Path) -> None:
    path = tree / "subjects" / "onboarding.yaml"
    path.write_text(path.read_text(encoding="utf-8") + 'welcome: "Again"\n', "utf-8")
    with pytest.raises(ValueError, match=r"key 'welcome' given twice") as err:
        email_template_names()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert f"{path}, line {len(lines)}:" in str(err.value)


@pytest.mark.parametrize("content", ["- a list\n", "welcome: 3\n", "welcome: [unclosed\n"])
def test_a_bad_subject_file_names_itself(tree: Path, content: str) -> None:
    path = tree / "subjects" / "dunning.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as err:
        email_template_names()
    assert str(path) in str(err.value)
