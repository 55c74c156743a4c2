"""What customers write, read offline: language, sentiment and churn-intent signals on
worked examples, and ``cshub ai sentiment`` as a person runs it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cshub.cli import app
from domain.text_signals import Language, Sentiment, Signal, detect_language, intent_signals
from runtime.text_classifier import classify


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Thanks, the export works again!", Language.EN),
        ("Gracias, la exportación ya funciona.", Language.ES),
        ("¿Dónde invito a mis analistas?", Language.ES),
        ("Where do I invite my analysts?", Language.EN),
    ],
)
def test_language(text: str, language: Language) -> None:
    assert detect_language(text) is language


@pytest.mark.parametrize(
    ("text", "signals"),
    [
        ("We want to cancel our subscription at the end of the month", [Signal.CANCELLATION]),
        ("We will not renew unless this is fixed", [Signal.CANCELLATION]),
        ("Queremos darnos de baja del plan Professional", [Signal.CANCELLATION]),
        ("We are evaluating Zapier as an alternative tool", [Signal.COMPETITOR]),
        ("Nos vamos a pasar a la competencia", [Signal.COMPETITOR]),
        ("Still waiting for a reply after 3 days", [Signal.WAITING]),
        ("Llevamos dos semanas esperando y sin respuesta", [Signal.WAITING]),
        ("I need to speak to a manager about this", [Signal.ESCALATION]),
        ("Quiero hablar con un supervisor", [Signal.ESCALATION]),
        ("You charged us twice, please refund", [Signal.BILLING_DISPUTE]),
        ("La factura es incorrecta: cargo duplicado", [Signal.BILLING_DISPUTE]),
        ("Where do I add seats to our plan?", []),
        ("¿Podéis mandarme la factura de noviembre?", []),
    ],
)
def test_intent_signals(text: str, signals: list[Signal]) -> None:
    assert intent_signals(text) == signals


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("The new dashboard is great, thanks for the quick help!", Sentiment.POSITIVE),
        ("This is the worst support I have ever had.", Sentiment.NEGATIVE),
        ("I can't log in since this morning.", Sentiment.NEGATIVE),  # a negated statement
        ("Can you send me the November invoice?", Sentiment.NEUTRAL),
        ("Muy contentos con el equipo, gracias por todo.", Sentiment.POSITIVE),
        ("El soporte es pésimo y muy lento.", Sentiment.NEGATIVE),
        ("No es nada bueno, una decepción.", Sentiment.NEGATIVE),  # negation flips "bueno"
        ("Genial, pero el informe sigue fallando", Sentiment.NEGATIVE),  # after "pero" weighs
        ("¿Podéis mandarme la factura de noviembre?", Sentiment.NEUTRAL),
        ("Great product, but we will cancel our subscription", Sentiment.NEGATIVE),  # signal
    ],
)
def test_sentiment_labels(text: str, label: Sentiment) -> None:
    (verdict,) = classify([text])
    assert verdict.label is label, verdict
    assert -1 <= verdict.score <= 1


def test_cli_reads_stdin_and_prints_json() -> None:
    texts = "Still waiting for an answer, we will cancel our subscription\nMuy bien, gracias\n"
    result = CliRunner().invoke(app, ["ai", "sentiment", "--json"], input=texts)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [o["language"] for o in out] == ["en", "es"]
    assert out[0]["label"] == "negative" and out[0]["signals"] == ["cancellation", "waiting"]
    assert out[1] == {
        "text": "Muy bien, gracias",
        "language": "es",
        "label": "positive",
        "score": out[1]["score"],
        "signals": [],
    }
    assert out[1]["score"] > 0.3
    empty = CliRunner().invoke(app, ["ai", "sentiment"], input="\n")
    assert empty.exit_code == 2 and "no text on standard input" in empty.output
