"""The campaign skeleton's declarations reach Temporal as before: each workflow's own
signals (declared once with ``inbox_signal``) are signals taking the raw payload and
updates of the same name, next to the four steering commands."""

from __future__ import annotations

import typing

import pytest
from temporalio.common import RawValue
from temporalio.workflow import _Definition

from domain.churn import HealthUpdated, RiskSignal
from domain.dunning import PaymentFailed, PaymentSucceeded
from domain.renewal import Churned
from domain.surveys import CsatAnswered, NpsAnswered
from domain.winback import CustomerReturned, SurveyAnswer
from workflows.churn import ChurnPreventionWorkflow
from workflows.csat import CsatSurveyWorkflow
from workflows.dunning import DunningWorkflow
from workflows.nps import NpsSurveyWorkflow
from workflows.winback import WinBackWorkflow

OWN_SIGNALS: list[tuple[type, dict[str, type]]] = [
    (DunningWorkflow, {"payment_failed": PaymentFailed, "payment_succeeded": PaymentSucceeded}),
    (
        ChurnPreventionWorkflow,
        {"health_updated": HealthUpdated, "risk_signal": RiskSignal, "churned": Churned},
    ),
    (WinBackWorkflow, {"survey_answered": SurveyAnswer, "returned": CustomerReturned}),
    (NpsSurveyWorkflow, {"nps_answered": NpsAnswered}),
    (CsatSurveyWorkflow, {"csat_answered": CsatAnswered}),
]


@pytest.mark.parametrize("cls,own", OWN_SIGNALS, ids=lambda v: getattr(v, "__name__", ""))
def test_own_signals_are_signals_and_updates(cls: type, own: dict[str, type]) -> None:
    defn = _Definition.must_from_class(cls)
    # The four steering commands, and the Slack actions that call off an alert's
    # escalation: the click that acknowledges it and the call logged from it (issue 26).
    steering = {"pause", "resume", "skip", "cancel", "alert_acknowledged", "call_logged"}
    assert set(defn.signals) == {*own, *steering}
    assert own == cls._INBOX_COMMANDS  # type: ignore[attr-defined]
    for name in own:
        # The SDK hands the payload over raw: one that does not fit is recorded, not lost.
        hints = typing.get_type_hints(defn.signals[name].fn)
        assert hints["raw"] is RawValue
