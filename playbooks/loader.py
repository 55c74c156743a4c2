"""Load and validate playbook files.

Onboarding plans live in ``playbooks/onboarding/<name>.yaml``, the campaign playbooks in
``playbooks/<kind>.yaml`` (renewal, dunning, churn, winback); ``CSHUB_PLAYBOOKS_DIR``
points at another folder with the same layout. Errors name the file and the field, so
``cshub playbooks validate`` can list every problem at once.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from domain.alert_escalation import AlertsPlaybook
from domain.churn import ChurnPlan
from domain.contact_pressure import ContactPressurePolicy
from domain.dunning import DunningPlan
from domain.experiments import Experiment
from domain.health_model import HealthModel, HealthModels, HealthModelsConfig
from domain.health_outreach import OutreachPlan
from domain.holiday_rules import (
    HolidayRuleError,
    HolidayRules,
    coverage_problem,
    holiday_dates,
    years_around,
)
from domain.onboarding_plan import OnboardingPlan
from domain.onboarding_schedule import build_schedule
from domain.renewal_plan import RenewalPlan
from domain.risk_detectors import DetectorRules
from domain.sla_policy import SlaPolicy
from domain.strict_yaml import DuplicateKeyError, load_yaml_file
from domain.survey_plan import SurveysPlan
from domain.ticket_routing import RoutingRules
from domain.tiers import Tier
from domain.winback import WinBackPlan
from domain.year_plan import YearPlan

PACKAGE_DIR = Path(__file__).parent


def playbooks_dir() -> Path:
    return Path(os.environ.get("CSHUB_PLAYBOOKS_DIR") or PACKAGE_DIR)


@dataclass(frozen=True)
class PlaybookProblem:
    file: Path
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class PlaybookError(Exception):
    """A playbook file is missing or invalid; ``problems`` lists each issue."""

    def __init__(self, problems: list[PlaybookProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def _duplicate(path: Path, exc: DuplicateKeyError) -> PlaybookProblem:
    return PlaybookProblem(path, f"line {exc.line}", exc.reason)


def parse_plan_file(
    path: Path, known_templates: dict[str, set[str]] | None = None
) -> OnboardingPlan:
    """Parse one plan file; raise PlaybookError listing every problem found."""

    def mapping(raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise PlaybookError([PlaybookProblem(path, "(file)", "must be a mapping of fields")])
        return raw

    plan = _parse_model_file(path, OnboardingPlan, mapping)
    problems = _name_problems(path, plan.name)
    try:
        build_schedule(plan)
    except ValueError as exc:
        problems.append(PlaybookProblem(path, "(schedule)", str(exc)))
    if known_templates is not None:
        problems.extend(_missing_templates(path, plan, known_templates))
    if problems:
        raise PlaybookError(problems)
    return plan


def _name_problems(path: Path, name: str) -> list[PlaybookProblem]:
    """A file whose ``name`` field is not its file name: the problem, or none."""
    if name == path.stem:
        return []
    return [PlaybookProblem(path, "name", f"is {name!r}; must match the file name {path.stem!r}")]


class _UsesTemplates(Protocol):
    def templates_used(self) -> dict[str, set[str]]: ...


def _missing_templates(
    path: Path, plan: _UsesTemplates, known: dict[str, set[str]]
) -> list[PlaybookProblem]:
    return [
        PlaybookProblem(path, f"{kind} template", f"{name!r} does not exist in templates/{kind}/")
        for kind, names in plan.templates_used().items()
        for name in sorted(names - known.get(kind, set()))
    ]


M = TypeVar("M", bound=BaseModel)


CAMPAIGN_PLAYBOOKS: dict[str, type[BaseModel]] = {
    "renewal": RenewalPlan,
    "dunning": DunningPlan,
    "churn": ChurnPlan,
    "winback": WinBackPlan,
    "sla": SlaPolicy,
    "surveys": SurveysPlan,
    "contact_pressure": ContactPressurePolicy,
    "alerts": AlertsPlaybook,
}
"""The campaign playbooks, ``playbooks/<kind>.yaml``, and the model each must satisfy."""


def load_playbook(
    kind: str, model: type[M], directory: Path | None = None, today: date | None = None
) -> M:
    """Load ``playbooks/<kind>.yaml`` (renewal, dunning, churn, winback …) into its model;
    PlaybookError names the file and every bad field, including templates that do not
    exist (so a typo fails at load, not at the first e-mail). The SLA playbook's
    holiday rules are expanded into dates around ``today`` (default: the real today)."""
    path = (directory or playbooks_dir()) / f"{kind}.yaml"
    return _parse_model_file(
        path, model, lambda raw: prepare_playbook(kind, raw, path, today), check_templates=True
    )


def _parse_model_file(
    path: Path,
    model: type[M],
    prepare: Callable[[Any], Any] | None = None,
    *,
    check_templates: bool = False,
) -> M:
    """The YAML file ``path`` as ``model`` (``prepare`` first turns what the YAML says
    into what the model reads); with ``check_templates``, every template it names must
    exist. PlaybookError names the file and every problem."""
    parsed = _parse_yaml_model(path, model, prepare)
    if check_templates and hasattr(parsed, "templates_used"):
        problems = _missing_templates(path, parsed, known_templates())
        if problems:
            raise PlaybookError(problems)
    return parsed


def _parse_yaml_model(path: Path, model: type[M], prepare: Callable[[Any], Any] | None) -> M:
    try:
        raw = load_yaml_file(path)
        if prepare is not None:
            raw = prepare(raw)
    except FileNotFoundError:
        raise PlaybookError([PlaybookProblem(path, "(file)", "not found")]) from None
    except DuplicateKeyError as exc:
        raise PlaybookError([_duplicate(path, exc)]) from None
    except yaml.YAMLError as exc:
        raise PlaybookError([PlaybookProblem(path, "(file)", f"not valid YAML: {exc}")]) from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise PlaybookError(
            [PlaybookProblem(path, _field(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        ) from None


def prepare_playbook(kind: str, raw: Any, path: Path, today: date | None = None) -> Any:
    """The playbook as the hub uses it: for ``sla``, every calendar's ``holiday_rules``
    expanded into dates (:func:`domain.holiday_rules.years_around` today), added to the
    calendar's own ``holidays``. Runs outside workflows (the load_playbook activity,
    ``cshub playbooks validate``): the dates travel in the loaded playbook, so a
    workflow's history stays deterministic. Malformed data is returned as it is, for
    the model to report."""
    if kind != "sla" or not isinstance(raw, dict) or not isinstance(raw.get("calendars"), dict):
        return raw
    years = years_around(today or date.today())
    out = copy.deepcopy(raw)
    problems: list[PlaybookProblem] = []
    for name, cal in out["calendars"].items():
        if not isinstance(cal, dict) or cal.get("holiday_rules") is None:
            continue
        try:
            rules = HolidayRules.model_validate(cal["holiday_rules"])
        except ValidationError:
            continue  # SlaPolicy reports the bad fields
        own = cal.get("holidays") or []
        if not isinstance(own, list):
            continue
        try:
            dates = holiday_dates(rules, years)
        except HolidayRuleError as exc:
            problems.append(PlaybookProblem(path, f"calendars.{name}.holiday_rules", str(exc)))
            continue
        cal["holidays"] = sorted({*(_as_date(d) for d in own), *dates}, key=str)
    if problems:
        raise PlaybookError(problems)
    return out


def _as_date(value: Any) -> Any:
    """A quoted "2027-03-15" as the date it names (so it merges with the rules' dates);
    anything else as it is, for the model to report."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return value
    return value


def holiday_coverage_problems(
    path: Path, calendars: dict[str, Any], today: date
) -> list[PlaybookProblem]:
    """A problem for each business-hours calendar without holiday data for the next 12
    months (see :func:`domain.holiday_rules.coverage_problem`)."""
    problems = []
    for name, cal in calendars.items():
        if cal.always_open:
            continue
        why = coverage_problem(name, list(cal.holidays), cal.holiday_rules is not None, today)
        if why:
            problems.append(PlaybookProblem(path, f"calendars.{name}.holidays", why))
    return problems


def known_templates() -> dict[str, set[str]]:
    from templates.renderer import email_template_names, slack_template_names

    return {"email": set(email_template_names()), "slack": set(slack_template_names())}


_PLAN_CACHE: dict[tuple[object, ...], OnboardingPlan] = {}


def load_onboarding_plan(name: str) -> OnboardingPlan:
    """The plan, parsed once per version of its file (every journey's start loads one:
    parsing the YAML each time was a tenth of a worker's time starting journeys, make
    bench). An edited file, or a template added or removed, is read afresh."""
    path = playbooks_dir() / "onboarding" / f"{name}.yaml"
    templates = known_templates()
    try:
        stat = path.stat()
    except OSError:
        return parse_plan_file(path, templates)  # names the missing file
    key = (
        str(path),
        stat.st_mtime_ns,
        stat.st_size,
        frozenset(templates["email"]),
        frozenset(templates["slack"]),
    )
    plan = _PLAN_CACHE.get(key)
    if plan is None:
        plan = parse_plan_file(path, templates)
        if len(_PLAN_CACHE) > 64:
            _PLAN_CACHE.clear()
        _PLAN_CACHE[key] = plan
    return plan  # frozen: shared safely


HEALTH_DIR = "health"
"""Health models live in ``playbooks/health/``: ``models.yaml`` (which model each tier
uses) and one ``<name>.yaml`` per model."""


def health_dir(directory: Path | None = None) -> Path:
    """``<playbooks>/health``; a playbooks folder without one (an older
    ``CSHUB_PLAYBOOKS_DIR`` copy) uses the shipped health models."""
    base = (directory or playbooks_dir()) / HEALTH_DIR
    return base if base.is_dir() else PACKAGE_DIR / HEALTH_DIR


def load_health_model(name: str, directory: Path | None = None) -> HealthModel:
    """Load ``playbooks/health/<name>.yaml``; its ``name`` must match the file name."""
    path = health_dir(directory) / f"{name}.yaml"
    model = _parse_model_file(path, HealthModel)
    if problems := _name_problems(path, model.name):
        raise PlaybookError(problems)
    return model


def load_health_models(directory: Path | None = None) -> HealthModels:
    """Load ``playbooks/health/models.yaml`` and every model it names; PlaybookError lists
    every problem of every file."""
    base = health_dir(directory)
    config = _parse_model_file(base / "models.yaml", HealthModelsConfig)
    problems: list[PlaybookProblem] = []
    models: dict[str, HealthModel] = {}
    for name in config.model_names():
        if not (base / f"{name}.yaml").exists():
            fields = [f"tiers.{t.value}" for t, n in config.tiers.items() if n == name]
            if config.default == name:
                fields.insert(0, "default")
            problems.append(
                PlaybookProblem(
                    base / "models.yaml",
                    ", ".join(fields),
                    f"model {name!r} does not exist ({HEALTH_DIR}/{name}.yaml)",
                )
            )
            continue
        try:
            models[name] = load_health_model(name, directory)
        except PlaybookError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PlaybookError(problems)
    return HealthModels(config=config, models=models)


OUTREACH_FILE = "outreach.yaml"
"""``playbooks/health/outreach.yaml``: the triggers the health sweep fires."""
NOT_MODELS = {"models.yaml", OUTREACH_FILE}


def load_outreach_plan(directory: Path | None = None) -> OutreachPlan:
    """Load ``playbooks/health/outreach.yaml`` (PlaybookError names every bad field and
    any template that does not exist)."""
    path = health_dir(directory) / OUTREACH_FILE
    return _parse_model_file(path, OutreachPlan, check_templates=True)


RISK_DIR = "risk"
DETECTORS_FILE = "detectors.yaml"
"""``playbooks/risk/detectors.yaml``: the risk detectors' thresholds."""


def risk_dir(directory: Path | None = None) -> Path:
    """``<playbooks>/risk``; a playbooks folder without one uses the shipped files."""
    base = (directory or playbooks_dir()) / RISK_DIR
    return base if base.is_dir() else PACKAGE_DIR / RISK_DIR


def load_detector_rules(directory: Path | None = None) -> DetectorRules:
    """Load ``playbooks/risk/detectors.yaml`` (PlaybookError names every bad field)."""
    return _parse_model_file(risk_dir(directory) / DETECTORS_FILE, DetectorRules)


ROUTING_FILE = "routing.yaml"


def routing_file(directory: Path | None = None) -> Path:
    """``<playbooks>/routing.yaml``; a playbooks folder without one uses the shipped file."""
    path = (directory or playbooks_dir()) / ROUTING_FILE
    return path if path.is_file() else PACKAGE_DIR / ROUTING_FILE


def load_routing_rules(directory: Path | None = None) -> RoutingRules:
    """Load ``playbooks/routing.yaml`` (PlaybookError names every bad field)."""
    return _parse_model_file(routing_file(directory), RoutingRules)


def plan_name_for(tier: Tier, override: str | None = None) -> str:
    return override or tier.value


def validate_all(
    directory: Path | None = None, today: date | None = None
) -> tuple[list[Path], list[PlaybookProblem]]:
    """Validate every onboarding plan, campaign playbook, health model and experiment;
    return the files checked and all problems found. ``today`` (default: the real one)
    is when the SLA calendars must have holiday data for the next 12 months from."""
    today = today or date.today()
    base = (directory or playbooks_dir()) / "onboarding"
    files = sorted(base.glob("*.yaml"))
    problems: list[PlaybookProblem] = []
    if not files:
        problems.append(PlaybookProblem(base, "(folder)", "no onboarding plans (*.yaml) found"))
    templates = known_templates()
    tiers_covered: set[Tier] = set()
    for path in files:
        try:
            plan = parse_plan_file(path, templates)
            tiers_covered.add(plan.tier)
        except PlaybookError as exc:
            problems.extend(exc.problems)
    for tier in Tier:
        if not (base / f"{tier.value}.yaml").exists():
            problems.append(
                PlaybookProblem(
                    base / f"{tier.value}.yaml",
                    "(file)",
                    f"missing: every tier needs a plan ({tier.value})",
                )
            )
    root = directory or playbooks_dir()
    for kind, model in CAMPAIGN_PLAYBOOKS.items():
        files.append(root / f"{kind}.yaml")
        try:
            loaded = load_playbook(kind, model, root, today)
        except PlaybookError as exc:
            problems.extend(exc.problems)
            continue
        if isinstance(loaded, SlaPolicy):
            problems.extend(holiday_coverage_problems(root / "sla.yaml", loaded.calendars, today))
    health = health_dir(root)
    files.append(health / "models.yaml")
    health_files = sorted(health.glob("*.yaml"))
    files.extend(p for p in health_files if p.name != "models.yaml")
    try:
        load_health_models(root)
    except PlaybookError as exc:
        problems.extend(exc.problems)
    try:
        load_outreach_plan(root)
    except PlaybookError as exc:
        problems.extend(exc.problems)
    files.append(risk_dir(root) / DETECTORS_FILE)
    try:
        load_detector_rules(root)
    except PlaybookError as exc:
        problems.extend(exc.problems)
    files.append(routing_file(root))
    try:
        load_routing_rules(root)
    except PlaybookError as exc:
        problems.extend(exc.problems)
    for tier in Tier:
        path = year_dir(root) / f"{tier.value}.yaml"
        files.append(path)
        try:
            year = load_year_plan(tier.value, root)
        except PlaybookError as exc:
            problems.extend(exc.problems)
            continue
        if year.tier is not tier:
            problems.append(
                PlaybookProblem(path, "tier", f"is {year.tier.value}, the file is for {tier.value}")
            )
    experiment_files = sorted(experiments_dir(root).glob("*.yaml"))
    files.extend(experiment_files)
    for path in experiment_files:
        try:
            parse_experiment_file(path, root)
        except PlaybookError as exc:
            problems.extend(exc.problems)
    checked = {health / "models.yaml", health / OUTREACH_FILE}
    for p in problems:
        checked.add(p.file)
    for path in health_files:
        if path.name in NOT_MODELS or path in checked:
            continue
        try:  # models no tier uses yet are validated too
            load_health_model(path.stem, root)
        except PlaybookError as exc:
            problems.extend(exc.problems)
    return files, problems


YEAR_DIR = "year"
"""The plays after onboarding, ``playbooks/year/<tier>.yaml`` (see ``domain.year_plan``)."""


def year_dir(directory: Path | None = None) -> Path:
    """``<playbooks>/year``; a playbooks folder without one (an older
    ``CSHUB_PLAYBOOKS_DIR`` copy) uses the shipped year playbooks."""
    base = (directory or playbooks_dir()) / YEAR_DIR
    return base if base.is_dir() else PACKAGE_DIR / YEAR_DIR


def load_year_plan(name: str, directory: Path | None = None) -> YearPlan:
    """``playbooks/year/<name>.yaml``: the tier's plays for the rest of the first term;
    PlaybookError names every bad field and any template that does not exist."""
    path = year_dir(directory) / f"{name}.yaml"
    return _parse_model_file(path, YearPlan, check_templates=True)


EXPERIMENTS_DIR = "experiments"
"""Experiments live in ``playbooks/experiments/<name>.yaml`` (see ``domain.experiments``)."""


def experiments_dir(directory: Path | None = None) -> Path:
    return (directory or playbooks_dir()) / EXPERIMENTS_DIR


def parse_experiment_file(path: Path, directory: Path | None = None) -> Experiment:
    """One experiment file; PlaybookError lists every problem: the model's (weights,
    duplicate arms, unknown play ...), a name that is not the file's, an arm's plan that
    does not exist, an outcome milestone that some arm's plan does not have."""
    exp = _parse_model_file(path, Experiment)
    problems = _name_problems(path, exp.name)
    root = directory or playbooks_dir()
    tiers = exp.eligibility.tiers or list(Tier)
    for i, arm in enumerate(exp.arms):
        if arm.holdout:
            continue
        names = [arm.plan] if arm.plan is not None else [t.value for t in tiers]
        for name in names:
            plan_path = root / "onboarding" / f"{name}.yaml"
            if not plan_path.exists():
                problems.append(
                    PlaybookProblem(
                        path,
                        f"arms[{i}].plan",
                        f"unknown plan {name!r}: no file onboarding/{name}.yaml",
                    )
                )
                continue
            try:
                plan = (
                    load_onboarding_plan(name) if directory is None else parse_plan_file(plan_path)
                )
            except PlaybookError:
                continue  # reported against the plan file itself
            if plan.milestone(exp.outcome.milestone) is None:
                problems.append(
                    PlaybookProblem(
                        path,
                        "outcome.milestone",
                        f"{exp.outcome.milestone!r} is not a milestone of plan {name!r} "
                        f"(arm {arm.name}); it has: "
                        + (", ".join(m.key for m in plan.milestones) or "none"),
                    )
                )
    if problems:
        raise PlaybookError(problems)
    return exp


_EXPERIMENTS_CACHE: dict[tuple[object, ...], list[Experiment]] = {}


def load_experiments(directory: Path | None = None) -> list[Experiment]:
    """Every experiment file, validated (PlaybookError lists all problems of all files);
    parsed again only when a file (or the plans folder) changed. No folder: none."""
    base = experiments_dir(directory)
    files = sorted(base.glob("*.yaml")) if base.is_dir() else []
    plans = (directory or playbooks_dir()) / "onboarding"
    key: tuple[object, ...] = (
        str(base),
        *((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files),
        *((str(p), p.stat().st_mtime_ns) for p in sorted(plans.glob("*.yaml"))),
    )
    cached = _EXPERIMENTS_CACHE.get(key)
    if cached is not None:
        return cached
    found: list[Experiment] = []
    problems: list[PlaybookProblem] = []
    for path in files:
        try:
            found.append(parse_experiment_file(path, directory))
        except PlaybookError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PlaybookError(problems)
    if len(_EXPERIMENTS_CACHE) > 16:
        _EXPERIMENTS_CACHE.clear()
    _EXPERIMENTS_CACHE[key] = found
    return found


def load_experiment(name: str, directory: Path | None = None) -> Experiment:
    """``playbooks/experiments/<name>.yaml``."""
    return parse_experiment_file(experiments_dir(directory) / f"{name}.yaml", directory)
