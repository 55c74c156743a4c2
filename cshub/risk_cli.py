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


def _history_status() -> tuple[dict[str, int], int, bool]:
    """(outcomes recorded, outcomes needed of each kind, whether the model decides).
    Reads the store only when it exists (a reading command creates no empty file)."""
    from playbooks.loader import load_detector_rules
    from runtime.risk_history import open_risk_history
    from runtime.settings import load_settings

    rule = load_detector_rules().churn_risk
    needed = rule.min_outcomes if rule is not None else 0
    settings = load_settings()
    counts = {"churned": 0, "renewed": 0}
    if settings.cshub_database_url or settings.cshub_risk_db.exists():
        history = open_risk_history(settings.cshub_risk_db, settings.cshub_database_url)
        try:
            counts = history.outcome_counts()
        finally:
            history.close()
    deciding = rule is not None and min(counts["churned"], counts["renewed"]) >= needed
    return counts, needed, deciding


@risk_app.command("train")
def risk_train(
    from_csv: Annotated[
        Path | None,
        typer.Option("--from-csv", help="CSV export of past customers, one row each"),
    ] = None,
    from_history: Annotated[
        bool,
        typer.Option(
            "--from-history",
            help="Train on the hub's own history: the rows the sweep scored, labelled by "
            "the outcomes recorded since (churned, renewed)",
        ),
    ] = False,
    label: Annotated[
        str | None, typer.Option(help="Column saying whether the customer churned")
    ] = None,
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
    """Train the churn-risk model on a CSV export (or the hub's own history), print its
    hold-out evaluation (next to a logistic regression's) and save it as the next
    version under the data folder."""
    from runtime.risk_model import TrainingError, rows_frame, train_frame, train_from_csv

    if (from_csv is None) == (not from_history):
        typer.echo(
            "say where to learn from: --from-csv FILE --label COLUMN, or --from-history", err=True
        )
        raise typer.Exit(code=2)
    try:
        if from_csv is not None:
            if not label:
                typer.echo("--from-csv needs --label COLUMN (the churned column)", err=True)
                raise typer.Exit(code=2)
            card = train_from_csv(
                from_csv, label, positive=positive, id_column=id_column, holdout=holdout, seed=seed
            )
        else:
            card = train_frame(
                rows_frame(_history_rows()),
                "churned",
                source="history",
                positive="yes",
                holdout=holdout,
                seed=seed,
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


def _history_rows() -> list[dict[str, object]]:
    from playbooks.loader import load_detector_rules
    from runtime.risk_history import open_risk_history, training_rows
    from runtime.settings import load_settings

    rule = load_detector_rules().churn_risk
    settings = load_settings()
    if not (settings.cshub_database_url or settings.cshub_risk_db.exists()):
        typer.echo(
            f"no risk history at {settings.cshub_risk_db} (CSHUB_RISK_DB): the worker records "
            "it as the health sweep runs",
            err=True,
        )
        raise typer.Exit(code=2)
    history = open_risk_history(settings.cshub_risk_db, settings.cshub_database_url)
    try:
        return list(training_rows(history, rule.horizon_days if rule else 90))
    finally:
        history.close()


@risk_app.command("backtest")
def risk_backtest(
    history: Annotated[
        bool,
        typer.Option(
            "--history", help="Replay the hub's recorded history instead of a generated portfolio"
        ),
    ] = False,
    customers: Annotated[
        int, typer.Option(min=40, max=100_000, help="Generated portfolio: customers")
    ] = 1000,
    weeks: Annotated[int, typer.Option(min=30, max=520, help="Generated portfolio: weeks")] = 104,
    seed: Annotated[int, typer.Option(help="Seed of the portfolio and of the split")] = 23,
    high_risk: Annotated[
        float | None,
        typer.Option(
            min=1,
            max=100,
            help="Warn from this estimate, percent (default: playbooks/risk's high_risk)",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON")] = False,
) -> None:
    """Does the churn-risk model warn better and earlier than the health-score bands?
    Trains the model on half the customers and prints, on the other half, the AUC of
    each and the median days between the first warning and the churn (the generated
    portfolio's churn mechanism: cshub/risk_backtest.py)."""
    from cshub.risk_backtest import from_history, generated
    from runtime.risk_model import TrainingError

    try:
        if history:
            from runtime.risk_history import open_risk_history
            from runtime.settings import load_settings

            settings = load_settings()
            if not (settings.cshub_database_url or settings.cshub_risk_db.exists()):
                typer.echo(f"no risk history at {settings.cshub_risk_db} (CSHUB_RISK_DB)", err=True)
                raise typer.Exit(code=2)
            store = open_risk_history(settings.cshub_risk_db, settings.cshub_database_url)
            try:
                result = from_history(store, seed=seed, high_risk=high_risk)
            finally:
                store.close()
        else:
            result = generated(customers, weeks, seed, high_risk=high_risk)
    except (TrainingError, ValueError) as exc:
        typer.echo(f"cannot backtest: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if as_json:
        typer.echo(result.model_dump_json())
        return
    m, b = result.model, result.health_bands
    typer.echo(
        f"{result.source}: {result.customers} customers, {result.churned} churned, "
        f"{result.test_rows} labelled rows held out\n"
        f"{'':<20}{'AUC':>7}{'median lead':>14}{'warned':>8}\n"
        f"{'churn-risk model':<20}{m.auc:>7.3f}{m.median_lead_days:>10.0f} days{m.warned:>8}\n"
        f"{'health-score bands':<20}{b.auc:>7.3f}{b.median_lead_days:>10.0f} days{b.warned:>8}\n"
        f"the model warns {result.lead_gain_days:+.0f} days earlier (median; warning at "
        f"{result.high_risk:g} % for the model, At risk or Critical for the bands)"
    )


@risk_app.command("explain")
def risk_explain(
    customer_id: Annotated[str, typer.Argument(help="CRM company id, e.g. 1005")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The customer's churn probability under the current model and the inputs that
    drive it, in words; says so when no model was trained yet."""
    from connectors.errors import ConnectorError
    from runtime.risk_model import TrainingError, load_current
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
    counts, needed, deciding = _history_status()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "customer_id": customer_id,
                    **why.model_dump(mode="json"),
                    "deciding": deciding,
                    "outcomes": counts,
                    "outcomes_needed": needed,
                }
            )
        )
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
    if not deciding:
        typer.echo(
            f"learning: the hub has recorded {counts['churned']} churned and "
            f"{counts['renewed']} renewed outcomes and needs {needed} of each before this "
            "estimate decides anything; until then it is shown, never acted on"
        )
