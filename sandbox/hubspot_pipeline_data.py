"""The deal pipelines the sandbox HubSpot serves (sandbox.hubspot_pipelines): ``GET /crm/v3/pipelines/deals`` (and one
pipeline by id), ``POST`` to add one.

The sandbox serves HubSpot's default sales pipeline (won stage ``closedwon``) and a custom
pipeline whose stages have numeric and UUID ids, as custom pipelines do in a real portal:
its won stage is known only from its metadata (``isClosed`` "true", ``probability``
"1.0"). Pipelines added with POST live until the next reset.
"""

from __future__ import annotations

from typing import Any

from sandbox.clock import iso_ms, utcnow

JsonDict = dict[str, Any]

CUSTOM_PIPELINE_ID = "1467652"
CUSTOM_WON_STAGE = "1982613415"
CUSTOM_LOST_STAGE = "b8f9d0c2-5a7e-4d6f-9c21-3e4b5a6d7f80"

_STAGES: dict[str, list[tuple[str, str, str, str]]] = {
    # pipeline id: (stage id, label, isClosed, probability)
    "default": [
        ("appointmentscheduled", "Appointment Scheduled", "false", "0.2"),
        ("qualifiedtobuy", "Qualified To Buy", "false", "0.4"),
        ("presentationscheduled", "Presentation Scheduled", "false", "0.6"),
        ("decisionmakerboughtin", "Decision Maker Bought-In", "false", "0.8"),
        ("contractsent", "Contract Sent", "false", "0.9"),
        ("closedwon", "Closed Won", "true", "1.0"),
        ("closedlost", "Closed Lost", "true", "0.0"),
    ],
    CUSTOM_PIPELINE_ID: [
        ("1982613411", "Discovery", "false", "0.1"),
        ("e1c4a2f3-0d6b-4f1e-8a7c-2b9d4e6f8a10", "Security review", "false", "0.5"),
        ("1982613414", "Procurement", "false", "0.9"),
        (CUSTOM_WON_STAGE, "Signed", "true", "1.0"),
        (CUSTOM_LOST_STAGE, "Lost", "true", "0.0"),
    ],
}
_LABELS = {"default": "Sales Pipeline", CUSTOM_PIPELINE_ID: "Enterprise (custom)"}


def seed_pipelines() -> dict[str, JsonDict]:
    """The deal pipelines a fresh sandbox serves, by id."""
    now = iso_ms(utcnow())
    return {
        pid: pipeline_json(pid, _LABELS[pid], order, stages, now)
        for order, (pid, stages) in enumerate(_STAGES.items())
    }


def pipeline_json(
    pid: str, label: str, order: int, stages: list[tuple[str, str, str, str]], now: str
) -> JsonDict:
    return {
        "id": pid,
        "label": label,
        "displayOrder": order,
        "archived": False,
        "createdAt": now,
        "updatedAt": now,
        "stages": [
            {
                "id": sid,
                "label": slabel,
                "displayOrder": n,
                "metadata": {"isClosed": closed, "probability": probability},
                "archived": False,
                "createdAt": now,
                "updatedAt": now,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
            }
            for n, (sid, slabel, closed, probability) in enumerate(stages)
        ],
    }
