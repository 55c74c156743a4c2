"""Replay every recorded history (tests/replay/histories/<WorkflowType>/*.json) against
the current workflow code: a change that running workflows could not take (a different
order or number of activities, timers, child workflows or markers without
``workflow.patched``) fails here instead of in production.

Recording a history: ``.venv/bin/python -m tests.replay.record --only <WorkflowType>``
(docs/engineers/replay-and-patching.md). Never re-record an existing history to make this test pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from runtime.codec import data_converter
from runtime.settings import Settings
from worker import workflow_interceptors
from workflows.registry import WORKFLOWS

HISTORIES = Path(__file__).resolve().parent / "histories"
FILES = sorted(HISTORIES.glob("*/*.json"))


def replayer() -> Replayer:
    """The replayer: every registered workflow, the hub's data converter (histories are
    recorded without encryption; the codec passes plain payloads through) and the
    worker's workflow interceptors, so replay runs the workflow code a worker runs."""
    return Replayer(
        workflows=list(WORKFLOWS),
        data_converter=data_converter(Settings(_env_file=None)),
        interceptors=workflow_interceptors(),
    )


def load(path: Path) -> WorkflowHistory:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    workflow_id = data.pop("workflowId", None) or f"{path.parent.name}/{path.stem}"
    return WorkflowHistory.from_json(workflow_id, data)


def started_type(history: WorkflowHistory) -> str:
    first = history.events[0]
    return first.workflow_execution_started_event_attributes.workflow_type.name


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_history_replays_on_the_current_code(path: Path) -> None:
    history = load(path)
    assert started_type(history) == path.parent.name, (
        f"{path}: a {started_type(history)} history in the {path.parent.name} folder"
    )
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is not None:
        pytest.fail(
            f"{path.relative_to(HISTORIES)} (workflow id {history.workflow_id}) no longer "
            f"replays: {type(result.replay_failure).__name__}: {result.replay_failure}\n"
            "Workflows running on the old code would fail the same way after an upgrade: "
            'put the change behind workflow.patched("...") (docs/engineers/replay-and-patching.md) '
            "instead of re-recording this history.",
            pytrace=False,
        )


def test_every_workflow_type_has_a_recorded_history() -> None:
    recorded = {p.parent.name for p in FILES}
    missing = [cls.__name__ for cls in WORKFLOWS if cls.__name__ not in recorded]
    assert not missing, (
        f"no recorded history for {', '.join(missing)}: add a scenario to "
        "tests/replay/record.py and run "
        f"`.venv/bin/python -m tests.replay.record --only {' '.join(missing)}`, "
        "then commit the files under tests/replay/histories/ (docs/engineers/replay-and-patching.md)"
    )
    unknown = sorted(recorded - {cls.__name__ for cls in WORKFLOWS})
    assert not unknown, f"histories of workflow types no longer registered: {unknown}"
