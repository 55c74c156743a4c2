"""``cshub ai …`` and ``cshub risk …``: risk intelligence from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
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
    from runtime.text_classifier import classify

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


risk_app = typer.Typer(help="The churn-risk model: train, explain.", no_args_is_help=True)


@risk_app.command("train")
def risk_train(
    from_csv: Annotated[
        Path, typer.Option("--from-csv", help="CSV export of past customers, one row each")
    ],
    label: Annotated[str, typer.Option(help="Column saying whether the customer churned")],
    positive: Annotated[
        str | None, typer.Option(help="The label value meaning churned (default: yes/1/true)")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="Column identifying the customer (ignored)")
    ] = None,
    holdout: Annotated[float, typer.Option(help="Share of rows kept for evaluation")] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the split and the model")] = 23,
    as_json: Annotated[bool, typer.Option("--json", help="Print the model card as JSON")] = False,
) -> None:
    """Train the churn-risk model on a CSV export, print its hold-out evaluation (next to
    a logistic regression's) and save it as the next version under the data folder."""
    from cshub.risk_model import TrainingError, train_from_csv

    try:
        card = train_from_csv(
            from_csv, label, positive=positive, id_column=id_column, holdout=holdout, seed=seed
        )
    except TrainingError as exc:
        typer.echo(f"cannot train: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if as_json:
        typer.echo(card.model_dump_json())
        return
    typer.echo(
        f"model {card.model} saved to {card.path}\n"
        f"rows {card.rows} ({card.positives} churned, label {card.label} = {card.positive!r}); "
        f"trained on {card.train_rows}, evaluated on {card.holdout_rows} held out\n"
        f"hold-out AUC {card.auc:.3f} (logistic regression on the same split: "
        f"{card.baseline_auc:.3f}); Brier score {card.brier:.3f}\n"
        f"numeric: {', '.join(card.numeric) or '-'}\n"
        f"categorical: {', '.join(card.categorical) or '-'}"
        + (f"\nleft out: {', '.join(card.ignored)}" if card.ignored else "")
    )


@risk_app.command("explain")
def risk_explain(
    customer_id: Annotated[str, typer.Argument(help="CRM company id, e.g. 1005")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The customer's churn probability under the current model and the inputs that
    drive it, in words; says so when no model was trained yet."""
    from connectors.errors import ConnectorError
    from cshub.risk_model import TrainingError, load_current
    from runtime.settings import SettingsError, load_settings
    from wiring.connectors import build_connectors

    loaded = load_current()
    if loaded is None:
        typer.echo(
            "no churn-risk model yet: train one with `cshub risk train --from-csv FILE "
            "--label COLUMN`; until then risk stays out of every decision",
            err=True,
        )
        raise typer.Exit(code=3)
    wanted = [*loaded.card.numeric, *loaded.card.categorical]
    try:
        crm = build_connectors(load_settings()).crm
        found = crm.batch_read_companies([customer_id], wanted)
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from None
    except ConnectorError as exc:
        typer.echo(f"the CRM did not answer: {exc}", err=True)
        raise typer.Exit(code=1) from None
    if not found:
        typer.echo(f"no CRM company with id {customer_id}", err=True)
        raise typer.Exit(code=2)
    company = found[0]
    row: dict[str, object] = dict(company.properties)
    try:
        why = loaded.explain(row)
    except TrainingError as exc:
        typer.echo(f"cannot score {customer_id}: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if as_json:
        typer.echo(json.dumps({"customer_id": customer_id, **why.model_dump(mode="json")}))
        return
    missing = [c for c in wanted if not row.get(c)]
    typer.echo(
        f"{company.name} (customer {customer_id}) · model {why.model}\n"
        f"churn probability: {why.probability * 100:.0f} %"
    )
    for f in why.factors:
        typer.echo(f"  {f.words}")
    if missing:
        typer.echo(f"  (no value on the CRM company for: {', '.join(missing)}; typical used)")
