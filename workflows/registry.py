"""Every workflow type the worker runs. Add a new workflow here (one line)."""

from __future__ import annotations

from workflows.churn import ChurnPreventionWorkflow
from workflows.crm_email_reply import CrmEmailReplyWorkflow
from workflows.csat import CsatSurveyWorkflow
from workflows.customer_reply import CustomerReplyWorkflow
from workflows.customer_text import CustomerTextWorkflow
from workflows.customer_year import CustomerYearWorkflow
from workflows.dunning import DunningWorkflow
from workflows.exit_details import ExitDetailsWorkflow
from workflows.health_digest import HealthDigestWorkflow
from workflows.health_outreach import HealthOutreachWorkflow
from workflows.health_sweep import HealthSweepPageWorkflow, HealthSweepWorkflow
from workflows.log_call import LogCallWorkflow
from workflows.nps import NpsSurveyWorkflow
from workflows.onboarding import OnboardingWorkflow
from workflows.onboarding_survey import OnboardingSurveyWorkflow
from workflows.renewal import RenewalWorkflow
from workflows.resume_later import ResumeLaterWorkflow
from workflows.ticket_sla import TicketSlaWorkflow
from workflows.usage_snapshot import UsageSnapshotWorkflow
from workflows.winback import WinBackWorkflow

WORKFLOWS: list[type] = [
    OnboardingWorkflow,
    DunningWorkflow,
    ChurnPreventionWorkflow,
    WinBackWorkflow,
    RenewalWorkflow,
    TicketSlaWorkflow,
    CsatSurveyWorkflow,
    NpsSurveyWorkflow,
    HealthSweepWorkflow,
    HealthSweepPageWorkflow,
    HealthOutreachWorkflow,
    HealthDigestWorkflow,
    UsageSnapshotWorkflow,
    CustomerReplyWorkflow,
    ResumeLaterWorkflow,
    CustomerTextWorkflow,
    ExitDetailsWorkflow,
    OnboardingSurveyWorkflow,
    CustomerYearWorkflow,
    LogCallWorkflow,
    CrmEmailReplyWorkflow,
]
