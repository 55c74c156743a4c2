"""The cshub worker: registers every workflow and activity on the task queue and runs them.

Blocking SDK calls (HubSpot, Zendesk) run in plain ``def`` activities on a thread pool;
SMTP and Slack run as ``async def`` activities on the event loop.
"""

from __future__ import annotations

import asyncio
import compileall
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from activities.action_log import ActionStore, open_action_store
from activities.audit import audit_activities
from activities.crm import CrmActivities
from activities.crm_email import CrmEmailActivities
from activities.experiments import ExperimentActivities
from activities.health import HealthActivities, load_health_playbooks
from activities.health_digest import HealthDigestActivities
from activities.messaging import MessagingActivities, MessagingConfig
from activities.ops import OpsActivities
from activities.playbooks import load_onboarding_plan_activity, load_playbook_activity
from activities.risk import RiskActivities, RiskHistoryActivities
from activities.support import SupportActivities
from activities.surveys import SurveyActivities
from activities.usage import UsageActivities
from activities.year import YearActivities, load_year_plan_activity
from domain.contact_pressure import ContactPressurePolicy
from playbooks.loader import load_playbook
from runtime.risk_history import RiskHistory, open_risk_history
from runtime.settings import Settings
from wiring.connectors import Connectors
from wiring.metering import metered
from workflows.ops_alerts import OpsAlertInterceptor
from workflows.registry import WORKFLOWS

log = logging.getLogger("cshub.worker")


def messaging_config(settings: Settings) -> MessagingConfig:
    portal = settings.hubspot_portal_id
    return MessagingConfig(
        sender_name=settings.cshub_sender_name,
        app_url=settings.cshub_app_url,
        unsubscribe_url=settings.cshub_unsubscribe_url,
        survey_url=settings.cshub_survey_url,
        alerts_channel=settings.slack_alerts_channel,
        ops_channel=settings.slack_ops_channel,
        crm_company_url=(
            f"https://app.hubspot.com/contacts/{portal}/company/{{id}}" if portal else None
        ),
        public_api_url=settings.cshub_public_api_url,
        survey_link_secret=(
            settings.survey_link_secret.get_secret_value() if settings.survey_link_secret else None
        ),
        suppression_file=settings.cshub_suppression_file,
        team_locale=settings.cshub_team_locale,
    )


@functools.cache
def precompile_workflow_code() -> None:
    """Write the workflow modules' bytecode once. The SDK's sandbox imports a workflow's
    module afresh for every new workflow run; without a ``.pyc`` (an editable install, or
    ``PYTHONDONTWRITEBYTECODE=1``) each run compiles it from source, which was the largest
    share of a worker's time starting workflows (``make bench``). Python reads existing
    bytecode whatever that setting says; a read-only tree just skips this."""
    import workflows

    for folder in workflows.__path__:
        try:
            compileall.compile_dir(folder, quiet=2, maxlevels=0)
        except OSError as exc:
            log.debug("workflow bytecode not written in %s: %s", folder, exc)


def workflow_interceptors() -> list[Interceptor]:
    """Every worker's interceptors (the replay tests use the same): ops alerts."""
    return [OpsAlertInterceptor()]


def build_activities(
    connectors: Connectors,
    config: MessagingConfig,
    actions: ActionStore | None = None,
    history: RiskHistory | None = None,
) -> list[Callable[..., Any]]:
    """``actions``: record the side effects there (and answer for keys already done), and
    hold customer e-mails back by the contact-pressure policy
    (``playbooks/contact_pressure.yaml``), which counts what the store says was sent.
    ``history``: where the sweep records what the churn-risk model scored and the
    journeys the outcomes they saw (None: nothing recorded, the model never decides)."""
    crm = CrmActivities(connectors.crm, team_locale=config.team_locale)
    pressure = (
        load_playbook("contact_pressure", ContactPressurePolicy) if actions is not None else None
    )
    messaging = MessagingActivities(
        connectors.crm, connectors.mailer, connectors.chat, config, actions, pressure
    )
    support = SupportActivities(connectors.helpdesk, connectors.crm, connectors.chat, config)
    surveys = SurveyActivities(connectors.crm, connectors.helpdesk)
    health_digest = HealthDigestActivities(connectors.crm, connectors.chat, config)
    year = YearActivities(connectors.crm)
    crm_email = CrmEmailActivities(connectors.crm, actions)
    activities: list[Callable[..., Any]] = [
        crm.create_csm_task,
        crm.add_crm_note,
        crm.get_customer_tier,
        crm.get_customer_profile,
        crm.update_company,
        HealthActivities(connectors.crm, history).score_health_page,
        load_health_playbooks,
        messaging.send_customer_email,
        messaging.alert_csm,
        load_onboarding_plan_activity,
        load_playbook_activity,
        support.get_ticket_context,
        support.escalate_ticket,
        support.comment_on_ticket,
        support.post_support_alert,
        support.route_ticket,
        support.refresh_support_health_inputs,
        surveys.csat_recipient,
        surveys.record_csat_on_ticket,
        surveys.nps_contacts,
        surveys.update_contact,
        health_digest.post_health_digests,
        UsageActivities(connectors.crm).record_usage_snapshot,
        ExperimentActivities(connectors.crm).assign_experiment,
        RiskActivities(connectors.crm, connectors.helpdesk).read_customer_text,
        RiskHistoryActivities(history).record_risk_outcome,
        load_year_plan_activity,
        year.read_account_signals,
        year.build_review_pack,
        year.record_referral,
        crm_email.read_crm_email_reply,
    ]
    if actions is not None:
        activities = audit_activities(activities, actions, connectors.crm)
    # Not in the customer's timeline: an ops alert is about the hub, not the customer.
    return [*activities, OpsActivities(connectors.chat, config.ops_channel).alert_ops]


def create_worker(
    client: Client,
    settings: Settings,
    connectors: Connectors,
    *,
    executor: ThreadPoolExecutor,
    config: MessagingConfig | None = None,
    actions: ActionStore | None = None,
    history: RiskHistory | None = None,
) -> Worker:
    precompile_workflow_code()
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=list(WORKFLOWS),
        interceptors=workflow_interceptors(),
        # Connectors count their side effects on the worker's metric meter (runtime.metrics).
        activities=build_activities(
            metered(connectors), config or messaging_config(settings), actions, history
        ),
        activity_executor=executor,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_task_polls=settings.worker_workflow_task_pollers,
        max_cached_workflows=settings.worker_max_cached_workflows,
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or forever), then shut down gracefully.

    Logs as ``CSHUB_LOG_FORMAT`` says; serves Prometheus metrics (the SDK's and the hub's
    counters) on ``CSHUB_WORKER_METRICS_ADDRESS`` unless it is empty."""
    from runtime.logs import configure_logging
    from runtime.metrics import hub_runtime
    from runtime.stuck_workflows import alert_on_stuck_workflows
    from runtime.temporal_client import connect
    from wiring.connectors import build_connectors

    configure_logging(settings.cshub_log_format, settings.cshub_log_level)
    telemetry = hub_runtime(settings.cshub_worker_metrics_address or None)
    if telemetry.metrics_url:
        log.info("worker metrics on %s", telemetry.metrics_url)
    client = await connect(settings, runtime=telemetry.runtime)
    connectors = build_connectors(settings)
    actions = open_action_store(
        settings.cshub_actions_db,
        settings.cshub_actions_retention_days,
        settings.cshub_database_url,
    )
    history = open_risk_history(settings.cshub_risk_db, settings.cshub_database_url)
    with ThreadPoolExecutor(
        max_workers=settings.worker_max_concurrent_activities, thread_name_prefix="cshub-activity"
    ) as executor:
        worker = create_worker(
            client, settings, connectors, executor=executor, actions=actions, history=history
        )
        with alert_on_stuck_workflows(connectors.chat, settings.slack_ops_channel):
            async with worker:
                await (stop or asyncio.Event()).wait()
    actions.close()
    history.close()
