"""Which language a survey page is written in, from the browser's Accept-Language."""

from __future__ import annotations

import pytest

from webhooks.survey_pages import TEXTS, Page, page_language, render_page


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,es;q=0.5", "es"),  # no French texts: the next one we have
        ("en;q=0.2, es;q=0.7", "es"),  # by q, not by order
        ("ES", "es"),
        ("de-DE", "en"),
        ("es;q=0", "en"),  # q=0 means "not this one"
        ("es;q=abc", "en"),
        ("*", "en"),
        (",,;;==", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_page_language(header: str | None, language: str) -> None:
    assert page_language(header) == language


def test_every_language_has_every_page() -> None:
    for language, texts in TEXTS.items():
        assert set(texts) == set(Page), language


def test_page_is_escaped_html_in_its_language() -> None:
    page = render_page(Page.THANKS, "es")
    assert page.startswith("<!doctype html><html lang=es>")
    assert "<h1 style='font-size:1.5rem'>Gracias</h1>" in page
