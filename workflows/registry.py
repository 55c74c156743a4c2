"""Every workflow type the worker runs. Add a new workflow here (one line)."""

from __future__ import annotations

from workflows.onboarding import OnboardingWorkflow

WORKFLOWS: list[type] = [
    OnboardingWorkflow,
]
