"""``cshub report experiment``, ``cshub experiment size`` and ``cshub simulate
experiment``: read an experiment back from Temporal, plan its size, dry-run it.

The report reads what the journeys recorded, never a guess:

* visibility lists the workflows tagged ``Experiment = '<name>'`` (their ``Variant`` and
  ``CustomerId`` search attributes say who got which arm: these counts feed the
  sample-ratio check);
* each journey's ``progress`` query (answered by a worker, also for closed runs) gives
  the plan day, the milestones reached and on which day, cancellations and suppressed
  e-mails: :func:`domain.experiments.journey_outcome` turns that into the outcome;
* :mod:`domain.experiment_stats` computes the figures and the verdict.

A journey that cannot be read is counted as assigned, not measured, and named in the
report's warnings.
"""

from __future__ import annotations

import asyncio
import textwrap
from datetime import timedelta
from pathlib import Path

import numpy as np
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from domain import search_attributes as sa
from domain.experiment_stats import (
    ArmCounts,
    ExperimentReport,
    analyze,
    sample_size,
    tally,
)
from domain.experiments import CustomerOutcome, Experiment, hashed_arm, journey_outcome
from domain.onboarding import OnboardingProgress, OnboardingStatus

CONCURRENCY = 20
QUERY_TIMEOUT = timedelta(seconds=10)
WARNINGS_SHOWN = 10


class ExperimentReportError(Exception):
    """The report could not be made (Temporal unreachable or refusing)."""


def _latest(executions: list[WorkflowExecution]) -> list[WorkflowExecution]:
    latest: dict[str, WorkflowExecution] = {}
    for ex in executions:
        have = latest.get(ex.id)
        if have is None or (ex.start_time or 0) > (have.start_time or 0):  # type: ignore[operator]
            latest[ex.id] = ex
    return sorted(latest.values(), key=lambda e: e.id)


def outcome_from_progress(
    experiment: Experiment, arm: str, progress: OnboardingProgress
) -> CustomerOutcome:
    milestone_days: dict[str, int] = {}
    for a in progress.actions:
        if a.step.startswith("milestone:") and a.step.count(":") == 1:
            milestone_days.setdefault(a.step.removeprefix("milestone:"), a.day)
    return journey_outcome(
        experiment,
        customer_id=progress.customer_id,
        arm=arm,
        day=progress.day,
        over=progress.status in (OnboardingStatus.COMPLETED, OnboardingStatus.CANCELLED),
        cancelled=progress.status is OnboardingStatus.CANCELLED,
        milestone_days=milestone_days,
        milestones_missed=progress.milestones_missed,
        emails_suppressed=sum(
            1 for a in progress.actions if a.channel == "email" and a.outcome == "suppressed"
        ),
    )


async def collect_outcomes(
    client: Client,
    experiment: Experiment,
    *,
    extra_filter: str | None = None,
    concurrency: int = CONCURRENCY,
) -> tuple[list[CustomerOutcome], list[str]]:
    query = f"Experiment = '{experiment.name}' AND WorkflowType = 'OnboardingWorkflow'"
    if extra_filter:
        query += f" AND ({extra_filter})"
    try:
        executions = [ex async for ex in client.list_workflows(query, page_size=1000)]
    except RPCError as exc:
        raise ExperimentReportError(f"Temporal refused the visibility query: {exc}") from None
    gate = asyncio.Semaphore(concurrency)
    warnings: list[str] = []

    async def read(ex: WorkflowExecution) -> CustomerOutcome | None:
        arm = ex.typed_search_attributes.get(sa.VARIANT)
        customer = ex.typed_search_attributes.get(sa.CUSTOMER_ID) or ex.id.removeprefix(
            "onboarding-"
        )
        if arm is None:
            warnings.append(f"{ex.id}: no Variant search attribute, skipped")
            return None
        if experiment.arm(arm) is None:
            warnings.append(f"{ex.id}: arm {arm!r} is not in the experiment file, skipped")
            return None
        async with gate:
            try:
                progress = await client.get_workflow_handle(ex.id, run_id=ex.run_id).query(
                    "progress", result_type=OnboardingProgress, rpc_timeout=QUERY_TIMEOUT
                )
            except Exception as exc:  # a worker down, a failed run that cannot replay ...
                warnings.append(f"{ex.id}: progress could not be read ({exc}); not measured")
                return CustomerOutcome(customer_id=customer, arm=arm, measured=False)
        return outcome_from_progress(experiment, arm, progress)

    found = await asyncio.gather(*(read(ex) for ex in _latest(executions)))
    return [o for o in found if o is not None], warnings


async def experiment_report(
    client: Client, experiment: Experiment, *, extra_filter: str | None = None
) -> ExperimentReport:
    outcomes, warnings = await collect_outcomes(client, experiment, extra_filter=extra_filter)
    shown = warnings[:WARNINGS_SHOWN]
    if len(warnings) > WARNINGS_SHOWN:
        shown.append(f"... and {len(warnings) - WARNINGS_SHOWN} more")
    return analyze(experiment, tally(experiment, outcomes), warnings=shown)


# ------------------------------------------------------------------------- text and chart
def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _pts(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.1f}"


def render_text(r: ExperimentReport) -> str:
    lines = [
        f"Experiment {r.experiment} ({r.play}, {r.status}): {r.outcome}",
        f"{r.customers} customers, {r.measured} measured, {r.pending} pending "
        f"(window still open); control: {r.control}",
        "",
        f"{'arm':<22} {'share':>6} {'customers':>9} {'measured':>8} {'rate':>7} "
        f"{f'{100 * (1 - r.alpha):g}% CI':>15} {'diff pts':>9} {'diff CI':>15} {'p':>8}",
    ]
    for a in r.arms:
        tag = " (hold-out)" if a.holdout else " (control)" if a.control else ""
        ci = f"{_pct(a.ci_low)}-{_pct(a.ci_high)}" if a.ci_low is not None else "-"
        dci = (
            f"{_pts(a.diff_ci_low)} to {_pts(a.diff_ci_high)}" if a.diff_ci_low is not None else "-"
        )
        p = f"{a.p_value:.3g}" if a.p_value is not None else "-"
        lines.append(
            f"{(a.arm + tag)[:22]:<22} {100 * a.share:>5.0f}% {a.customers:>9} {a.measured:>8} "
            f"{_pct(a.rate):>7} {ci:>15} {_pts(a.diff_vs_control):>9} {dci:>15} {p:>8}"
        )
    srm = "-" if r.srm_p_value is None else f"{r.srm_p_value:.3g}"
    lines += [
        "",
        f"sample-ratio check: p = {srm}" + ("  ** MISMATCH **" if r.srm_flagged else " (ok)"),
        f"comparisons at alpha {r.comparison_alpha:.3g} each (Bonferroni over "
        f"{len(r.arms) - 1}); {r.needed_per_arm} measured per arm needed for the minimum effect",
    ]
    guard = [(a.arm, g) for a in r.arms for g in a.guardrails]
    if guard:
        lines.append("guardrails:")
        for arm, g in guard:
            flag = "  ** over the limit **" if g.flagged else ""
            lines.append(
                f"  {arm:<14} {g.metric:<17} {g.customers:>5} ({_pct(g.rate)}, "
                f"{_pts(g.diff_vs_control)} pts vs control, limit +{100 * g.max_increase:.1f}){flag}"
            )
    lines += ["", f"verdict: {r.verdict}"]
    lines += [f"warning: {w}" for w in r.warnings]
    return "\n".join(lines)


def write_chart(r: ExperimentReport, path: Path) -> Path:
    """Each arm's outcome rate with its interval, the control's as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [a.arm + (" (hold-out)" if a.holdout else "") for a in r.arms]
    rates = [100 * (a.rate or 0.0) for a in r.arms]
    low = [100 * ((a.rate or 0.0) - (a.ci_low or 0.0)) if a.rate is not None else 0 for a in r.arms]
    high = [
        100 * ((a.ci_high or 0.0) - (a.rate or 0.0)) if a.rate is not None else 0 for a in r.arms
    ]
    colors = ["#9e9e9e" if a.holdout else "#1565c0" if a.control else "#2e7d32" for a in r.arms]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.bar(names, rates, yerr=[low, high], capsize=6, color=colors)
    for i, a in enumerate(r.arms):
        ax.annotate(
            f"{_pct(a.rate)}\nn={a.measured}",
            (i, rates[i] + high[i]),
            textcoords="offset points",
            xytext=(0, 4),
            ha="center",
            fontsize=8,
        )
    control = next(a for a in r.arms if a.control)
    if control.rate is not None:
        ax.axhline(100 * control.rate, color="#1565c0", linestyle="--", linewidth=1)
    ax.set_ylabel(f"{r.outcome} (%)")
    ax.set_title(
        textwrap.fill(f"{r.experiment}: {r.verdict}", 90, max_lines=3, placeholder=" ..."),
        fontsize=8,
    )
    ax.set_ylim(0, max(100.0, *(rates or [0])))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- the dry run
def simulate(
    experiment: Experiment,
    *,
    customers: int,
    effect: float,
    seed: int = 0,
    baseline: float | None = None,
    holdout_effect: float = 0.0,
) -> ExperimentReport:
    """``customers`` made-up customers assigned by the experiment's real hash (ids
    ``sim-<seed>-<i>``, so each seed draws a new population), outcomes drawn with the
    given true effect: the control at ``baseline`` (the file's ``outcome.baseline``),
    every other variant at ``baseline + effect``, the hold-out at ``baseline +
    holdout_effect``; every window closed. Then the same analysis as the real report."""
    base = experiment.outcome.baseline if baseline is None else baseline
    control = experiment.control_arm.name
    rate: dict[str, float] = {}
    for a in experiment.arms:
        p = base if a.name == control else base + (holdout_effect if a.holdout else effect)
        if not 0 <= p <= 1:
            raise ValueError(f"arm {a.name}: rate {p:g} is outside 0..1 (baseline {base:g})")
        rate[a.name] = p
    assigned: dict[str, int] = {a.name: 0 for a in experiment.arms}
    for i in range(customers):
        assigned[hashed_arm(experiment, f"sim-{seed}-{i}").name] += 1
    rng = np.random.default_rng(seed)
    counts = {
        name: ArmCounts(
            assigned=n, measured=n, successes=int(rng.binomial(n, rate[name])) if n else 0
        )
        for name, n in assigned.items()
    }
    return analyze(experiment, counts)


def size_text(
    baseline: float,
    effect: float,
    *,
    alpha: float,
    power: float,
    arms: int,
    holdout_share: float,
) -> str:
    per_arm = sample_size(baseline, effect, alpha=alpha, power=power)
    total = per_arm * arms
    lines = [
        f"To detect {100 * baseline:.1f}% -> {100 * (baseline + effect):.1f}% "
        f"({100 * effect:+.1f} pts) with {100 * power:.0f}% power at alpha {alpha:g} "
        f"(two-sided):",
        f"  {per_arm} measured customers per arm, {total} for {arms} equal arms",
    ]
    if holdout_share > 0:
        # The hold-out needs per_arm too: it sets how many customers must enter.
        entering = int(np.ceil(per_arm / holdout_share))
        lines.append(
            f"  with a {100 * holdout_share:.0f}% hold-out compared against the control: "
            f"{entering} customers entering the experiment"
        )
    return "\n".join(lines)
