"""``cshub ai …`` and ``cshub risk …``: risk intelligence from the command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

ai_app = typer.Typer(help="Read what customers write (offline classifiers).", no_args_is_help=True)


@ai_app.command("sentiment")
def ai_sentiment(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array of {text, language, label, ...}")
    ] = False,
) -> None:
    """Classify texts read one per line from standard input: language (en / es),
    sentiment (negative / neutral / positive, score -1..1) and churn-intent signals."""
    from cshub.text_classifier import classify

    texts = [line.strip() for line in sys.stdin if line.strip()]
    if not texts:
        typer.echo("no text on standard input (one text per line)", err=True)
        raise typer.Exit(code=2)
    verdicts = classify(texts)
    if as_json:
        typer.echo(json.dumps([v.model_dump(mode="json") for v in verdicts], ensure_ascii=False))
        return
    for v in verdicts:
        signals = ", ".join(v.signals) or "-"
        typer.echo(f"{v.label:<8} {v.score:+.2f} {v.language}  signals: {signals}  | {v.text}")
