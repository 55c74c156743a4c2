"""Every workflow type the worker runs. Add a new workflow here (one line)."""

from __future__ import annotations

from workflows.churn import ChurnPreventionWorkflow
from workflows.dunning import DunningWorkflow
from workflows.onboarding import OnboardingWorkflow
from workflows.renewal import RenewalWorkflow
from workflows.winback import WinBackWorkflow

WORKFLOWS: list[type] = [
    OnboardingWorkflow,
    DunningWorkflow,
    ChurnPreventionWorkflow,
    WinBackWorkflow,
    RenewalWorkflow,
]
