"""The statistics of an experiment, from counts per arm (pure: no I/O, no Temporal).

Everything numerical comes from maintained libraries, nothing hand-rolled:

* per-arm outcome rate with a Wilson score interval
  (``statsmodels.stats.proportion.proportion_confint(method="wilson")``);
* each arm against the control: the difference in rate with Newcombe's hybrid score
  interval (``confint_proportions_2indep(method="newcomb")``) and a two-sided score test
  (``test_proportions_2indep(method="score")``, the two-proportion z-test with the
  Miettinen-Nurminen variance); with several arms compared, Bonferroni: each comparison
  is significant below ``alpha / comparisons``;
* sample-ratio mismatch: chi-square of the assigned counts against the configured
  weights (``scipy.stats.chisquare``), flagged below p = 0.001;
* sample size and minimum detectable effect: ``NormalIndPower`` on Cohen's h
  (``proportion_effectsize``), two-sided.

The functions accept numpy arrays where they take counts, so the calibration tests run
thousands of simulated experiments in one call.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, Field
from scipy.stats import chisquare
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    test_proportions_2indep,
)

from domain.experiments import CustomerOutcome, Experiment, GuardrailMetric

SRM_ALPHA = 0.001
"""Sample-ratio mismatch is flagged below this p-value (the usual, strict threshold:
a real mismatch gives tiny p-values; a stricter bar keeps false alarms rare)."""
MIN_MEASURED_PER_ARM = 30
"""Below this many measured customers in an arm the verdict is "not enough customers
yet" whatever the p-value says (the normal approximations are not trusted)."""


# ----------------------------------------------------------------------------- primitives
def wilson_interval(
    successes: ArrayLike, n: ArrayLike, alpha: float = 0.05
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


class Comparison(BaseModel):
    diff: float
    ci_low: float
    ci_high: float
    p_value: float


def compare_rates(
    k1: ArrayLike, n1: ArrayLike, k0: ArrayLike, n0: ArrayLike, alpha: float = 0.05
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Arm 1 against the control 0: (difference p1 - p0, interval low, high, p-value).
    Vectorised over numpy arrays of counts; every n must be positive."""
    k1a, n1a, k0a, n0a = (np.asarray(x, dtype=float) for x in (k1, n1, k0, n0))
    diff = k1a / n1a - k0a / n0a
    low, high = confint_proportions_2indep(
        k1a, n1a, k0a, n0a, method="newcomb", compare="diff", alpha=alpha
    )
    test = test_proportions_2indep(k1a, n1a, k0a, n0a, method="score", compare="diff")
    p = np.asarray(test.pvalue, dtype=float)
    # Both arms all-success or all-failure: no evidence of any difference.
    p = np.where(np.isnan(p), 1.0, p)
    return diff, np.asarray(low, dtype=float), np.asarray(high, dtype=float), p


def srm_p_value(assigned: list[int], shares: list[float]) -> float | None:
    """Chi-square p-value of the assigned counts against the configured shares."""
    total = sum(assigned)
    if total == 0 or len(assigned) < 2:
        return None
    expected = [total * s for s in shares]
    return float(chisquare(assigned, f_exp=expected).pvalue)


def sample_size(baseline: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Customers per arm (two equal arms) to detect ``baseline`` → ``baseline + effect``
    with ``power`` at two-sided ``alpha``."""
    target = baseline + effect
    if not 0 < baseline < 1 or not 0 < target < 1 or effect == 0:
        raise ValueError(
            f"baseline {baseline:g} and baseline + effect {target:g} must both be "
            "strictly between 0 and 1, and the effect non-zero"
        )
    h = abs(float(proportion_effectsize(target, baseline)))
    n = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=1.0)
    return math.ceil(float(n))


def minimum_detectable_effect(
    baseline: float, per_arm: int, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest rise over ``baseline`` detectable with ``per_arm`` customers per arm."""
    if per_arm < 2:
        raise ValueError("need at least 2 customers per arm")
    h = float(NormalIndPower().solve_power(nobs1=per_arm, alpha=alpha, power=power, ratio=1.0))
    phi = 2 * math.asin(math.sqrt(baseline)) + h
    target = math.sin(min(phi, math.pi) / 2) ** 2
    return target - baseline


# ----------------------------------------------------------------------------- the report
class ArmCounts(BaseModel):
    assigned: int = 0
    measured: int = 0
    successes: int = 0
    guardrails: dict[str, int] = Field(default_factory=dict)
    """Customers (read) that hit each guardrail metric."""


def tally(experiment: Experiment, outcomes: list[CustomerOutcome]) -> dict[str, ArmCounts]:
    counts = {a.name: ArmCounts() for a in experiment.arms}
    for o in outcomes:
        c = counts.setdefault(o.arm, ArmCounts())
        c.assigned += 1
        if o.measured:
            c.measured += 1
            c.successes += int(o.success)
        for metric, hit in o.guardrails.items():
            c.guardrails[metric] = c.guardrails.get(metric, 0) + int(hit)
    return counts


class GuardrailFigures(BaseModel):
    metric: str
    customers: int
    rate: float | None
    diff_vs_control: float | None = None
    max_increase: float
    flagged: bool = False


class ArmFigures(BaseModel):
    arm: str
    holdout: bool
    control: bool
    plan: str | None
    share: float
    """Configured share of eligible customers."""
    customers: int
    """Assigned (every customer the experiment placed in this arm)."""
    measured: int
    """Customers whose outcome window has closed: the denominator of ``rate``."""
    pending: int
    successes: int
    rate: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    diff_vs_control: float | None = None
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    p_value: float | None = None
    significant: bool = False
    guardrails: list[GuardrailFigures] = Field(default_factory=list)


class ExperimentReport(BaseModel):
    experiment: str
    play: str
    status: str
    outcome: str
    control: str
    alpha: float
    comparison_alpha: float
    """``alpha`` over the number of comparisons (Bonferroni)."""
    customers: int
    measured: int
    pending: int
    arms: list[ArmFigures]
    p_value: float | None
    """The primary comparison's: the best variant against the control (or the control
    against the hold-out when the experiment has no other variant)."""
    primary: str | None
    srm_p_value: float | None
    srm_flagged: bool
    needed_per_arm: int
    """Measured customers per arm to detect ``minimum_effect`` at the control's rate."""
    more_needed: int
    """Further customers (in total, at the configured shares) to enter until every compared
    arm has ``needed_per_arm``."""
    verdict: str
    guardrails_flagged: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f} pts"


def analyze(
    experiment: Experiment,
    counts: dict[str, ArmCounts],
    *,
    warnings: list[str] | None = None,
) -> ExperimentReport:
    """Every figure of the report and the plain-language verdict."""
    shares = experiment.shares()
    control = experiment.control_arm
    alpha = experiment.alpha
    comparisons = len(experiment.arms) - 1
    comparison_alpha = alpha / comparisons
    c0 = counts.get(control.name, ArmCounts())
    arms: list[ArmFigures] = []
    for a in experiment.arms:
        c = counts.get(a.name, ArmCounts())
        fig = ArmFigures(
            arm=a.name,
            holdout=a.holdout,
            control=a.name == control.name,
            plan=a.plan,
            share=shares[a.name],
            customers=c.assigned,
            measured=c.measured,
            pending=c.assigned - c.measured,
            successes=c.successes,
            rate=c.successes / c.measured if c.measured else None,
        )
        if c.measured:
            low, high = wilson_interval(c.successes, c.measured, alpha)
            fig.ci_low, fig.ci_high = float(low), float(high)
        if not fig.control and c.measured and c0.measured:
            d, lo, hi, p = compare_rates(c.successes, c.measured, c0.successes, c0.measured, alpha)
            fig.diff_vs_control = float(d)
            fig.diff_ci_low, fig.diff_ci_high = float(lo), float(hi)
            fig.p_value = float(p)
            fig.significant = float(p) < comparison_alpha
        fig.guardrails = _guardrails(experiment, c, c0, is_control=fig.control)
        arms.append(fig)

    by_name = {f.arm: f for f in arms}
    variants = [f for f in arms if not f.control and not f.holdout]
    compared = variants or [f for f in arms if f.holdout]
    primary = min(
        (f for f in compared if f.p_value is not None),
        key=lambda f: (f.p_value, f.arm),
        default=None,
    )
    srm = srm_p_value(
        [counts.get(a.name, ArmCounts()).assigned for a in experiment.arms],
        [shares[a.name] for a in experiment.arms],
    )
    srm_flagged = srm is not None and srm < SRM_ALPHA

    base_rate = by_name[control.name].rate
    if base_rate is None or not 0 < base_rate < 1:
        base_rate = experiment.outcome.baseline
    effect = experiment.outcome.minimum_effect
    if base_rate + effect >= 1:
        effect = -effect
    needed = sample_size(base_rate, effect, alpha=comparison_alpha, power=experiment.power)
    in_play = [by_name[control.name], *compared]
    # Customers already in (pending ones included) will be measured in time: count only
    # the further customers who must enter, at the configured shares.
    total_needed = max(math.ceil((needed - f.customers) / f.share) for f in in_play)
    more = max(0, total_needed)

    flagged = [
        f"{f.arm}: {g.metric} {_pct(g.rate or 0)} ({_pts(g.diff_vs_control or 0)} vs {control.name})"
        for f in arms
        for g in f.guardrails
        if g.flagged
    ]
    verdict = _verdict(experiment, by_name, compared, srm, srm_flagged, needed, more)
    return ExperimentReport(
        experiment=experiment.name,
        play=experiment.play.value,
        status=experiment.status.value,
        outcome=f"{experiment.outcome.milestone} reached by day {experiment.outcome.by_day}",
        control=control.name,
        alpha=alpha,
        comparison_alpha=comparison_alpha,
        customers=sum(f.customers for f in arms),
        measured=sum(f.measured for f in arms),
        pending=sum(f.pending for f in arms),
        arms=arms,
        p_value=primary.p_value if primary else None,
        primary=f"{primary.arm} vs {control.name}" if primary else None,
        srm_p_value=srm,
        srm_flagged=srm_flagged,
        needed_per_arm=needed,
        more_needed=more,
        verdict=verdict,
        guardrails_flagged=flagged,
        warnings=list(warnings or []),
    )


def _guardrails(
    experiment: Experiment, c: ArmCounts, c0: ArmCounts, *, is_control: bool
) -> list[GuardrailFigures]:
    out: list[GuardrailFigures] = []
    for g in experiment.guardrails:
        metric = GuardrailMetric(g.metric).value
        hits = c.guardrails.get(metric, 0)
        rate = hits / c.assigned if c.assigned else None
        base = c0.guardrails.get(metric, 0) / c0.assigned if c0.assigned else None
        diff = None if is_control or rate is None or base is None else rate - base
        out.append(
            GuardrailFigures(
                metric=metric,
                customers=hits,
                rate=rate,
                diff_vs_control=diff,
                max_increase=g.max_increase,
                flagged=diff is not None and diff > g.max_increase,
            )
        )
    return out


def _verdict(
    experiment: Experiment,
    arms: dict[str, ArmFigures],
    compared: list[ArmFigures],
    srm: float | None,
    srm_flagged: bool,
    needed: int,
    more: int,
) -> str:
    control = arms[experiment.control_arm.name]
    if srm_flagged:
        return (
            f"sample ratio mismatch (p = {srm:.2g}): the arms did not get their configured "
            "shares, so assignment or recording is broken; fix that before reading the outcome"
        )
    thin = [f for f in [control, *compared] if f.measured < MIN_MEASURED_PER_ARM]
    if thin:
        pending = sum(f.pending for f in arms.values())
        return (
            f"not enough customers yet: {', '.join(f'{f.arm} {f.measured}' for f in thin)} "
            f"measured (at least {MIN_MEASURED_PER_ARM} per arm before any verdict; "
            f"{pending} pending); about {needed} per arm to detect "
            f"{_pts(experiment.outcome.minimum_effect).lstrip('+')}"
        )
    level = f"{100 * (1 - experiment.alpha):g}%"
    sentences: list[str] = []
    for f in sorted(compared, key=lambda f: (f.p_value or 1.0, f.arm)):
        if not f.significant or f.diff_vs_control is None:
            continue
        ci = f"{level} CI {_pts(f.diff_ci_low or 0)} to {_pts(f.diff_ci_high or 0)}"
        if f.holdout and f.diff_vs_control < 0:
            sentences.append(
                f"the play works: {control.arm} beats the hold-out {f.arm}, "
                f"{_pct(control.rate or 0)} vs {_pct(f.rate or 0)} "
                f"({_pts(-f.diff_vs_control)}, {level} CI {_pts(-(f.diff_ci_high or 0))} to "
                f"{_pts(-(f.diff_ci_low or 0))}, p = {f.p_value:.2g})"
            )
        elif f.holdout:
            sentences.append(
                f"the play does harm: the hold-out {f.arm} does better than {control.arm}, "
                f"{_pct(f.rate or 0)} vs {_pct(control.rate or 0)} "
                f"({_pts(f.diff_vs_control)}, {ci}, p = {f.p_value:.2g})"
            )
        elif f.diff_vs_control > 0:
            sentences.append(
                f"{f.arm} is better than {control.arm}: {_pct(f.rate or 0)} vs "
                f"{_pct(control.rate or 0)} ({_pts(f.diff_vs_control)}, {ci}, p = {f.p_value:.2g})"
            )
        else:
            sentences.append(
                f"{f.arm} is worse than {control.arm}: {_pct(f.rate or 0)} vs "
                f"{_pct(control.rate or 0)} ({_pts(f.diff_vs_control)}, {ci}, p = {f.p_value:.2g})"
            )
    if sentences:
        return "; ".join(sentences)
    if more > 0:
        return (
            f"no difference detectable at this size: {more} more customers needed "
            f"(about {needed} measured per arm to detect "
            f"{_pts(experiment.outcome.minimum_effect).lstrip('+')})"
        )
    return (
        f"no difference: with {min(f.measured for f in [control, *compared])}+ measured per "
        f"arm, any real difference is likely smaller than "
        f"{_pts(experiment.outcome.minimum_effect).lstrip('+')}"
    )


def report_json(report: ExperimentReport) -> dict[str, Any]:
    """The report as plain JSON data (``--json``, the simulator)."""
    return report.model_dump(mode="json")
