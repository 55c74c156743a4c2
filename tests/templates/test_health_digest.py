"""The weekly health digest's Slack template (a message to one CSM about many accounts,
so the per-customer checks of test_rendering.py do not apply to it)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jinja2 import UndefinedError

from templates.renderer import render_slack
from tests.templates.test_rendering import (
    BLOCK_TYPES,
    HOSTILE_COMPANY,
    LEFTOVER_SYNTAX,
    SLACK_REQUIRED,
    mrkdwn_texts,
    strings,
)

NAME = "health_digest"


def account(i: int, **overrides: Any) -> dict[str, Any]:
    acc: dict[str, Any] = {
        "id": str(1000 + i),
        "name": f"Account {i}",
        "tier": "starter",
        "category": "At risk",
        "label": "At risk",
        "score": 55.5,
        "delta": -4.25,
        "low_confidence": False,
        "crm_url": f"https://crm.example/company/{1000 + i}",
    }
    acc.update(overrides)
    return acc


def digest_context(**overrides: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "csm_name": "Dana Reyes",
        "csm_slack_id": "U024BE7LH",
        "workflow_id": "health-digest-2026-05-04",
        "owned_accounts": 12,
        "accounts": [
            account(1, category="Critical", label="Critical", score=31, delta=-12.5),
            account(2, label="Risky", low_confidence=True),
            account(3, tier=None, score=None, delta=None, crm_url=None),
        ],
        "extra": {"scored_at": "2026-05-04T06:00:00Z"},
    }
    ctx.update(overrides)
    return ctx


def test_digest_gives_valid_blocks() -> None:
    message = render_slack(NAME, digest_context())
    assert message.text == (
        ":bar_chart: Weekly health digest for Dana Reyes: 1 critical, 2 at risk of 12 accounts"
    )
    assert message.blocks[0]["type"] == "header"
    assert message.blocks[0]["text"]["text"] == ":bar_chart: Weekly health digest: Dana Reyes"
    assert all(b["type"] in BLOCK_TYPES for b in message.blocks)
    assert message.blocks[1]["text"]["text"] == (
        "<@U024BE7LH>, 3 of your 12 accounts need attention this week: *1 critical*, "
        "*2 at risk* (2 declining since the last sweep). Worst first:"
    )
    lines = [b["text"]["text"] for b in message.blocks[2:5]]
    assert lines == [
        "*<https://crm.example/company/1001|Account 1>* · *Critical* · score *31* "
        "(-12.5 since the last sweep) · Starter",
        "*<https://crm.example/company/1002|Account 2>* · *At risk* (Risky) · score *55.5* "
        "(-4.3 since the last sweep) · Starter · _low confidence: some inputs missing_",
        "*Account 3* · *At risk* · score _unknown_ · no tier",
    ]
    assert "What to do" in message.blocks[5]["text"]["text"]
    context = message.blocks[6]["elements"][0]["text"]
    assert context == (
        "Health sweep of May 4, 2026, 6:00\u202fAM UTC · workflow `health-digest-2026-05-04`"
    )
    british = render_slack(NAME, digest_context(), locale="en-GB")
    assert "Health sweep of 4 May 2026, 06:00 UTC" in json.dumps(british.blocks)
    for text in strings(message.model_dump()):
        assert "None" not in text
        assert not LEFTOVER_SYNTAX.search(text), text


def test_digest_without_optional_values() -> None:
    message = render_slack(NAME, digest_context(csm_slack_id=None, extra=None))
    dumped = json.dumps(message.model_dump())
    assert "<@" not in dumped and "Dana Reyes, 3 of your 12 accounts" in dumped
    assert "Health sweep of" not in dumped
    assert "None" not in dumped


def test_one_account_wording() -> None:
    ctx = digest_context(owned_accounts=1, accounts=[account(1, delta=0)])
    message = render_slack(NAME, ctx)
    assert message.text.endswith("0 critical, 1 at risk of 1 account")
    body = message.blocks[1]["text"]["text"]
    assert "1 of your 1 account needs attention this week" in body
    assert "declining" not in body
    assert "(unchanged)" in message.blocks[2]["text"]["text"]


def test_hostile_names_stay_inert() -> None:
    ctx = digest_context(
        csm_name="Eve <!here>",
        csm_slack_id="U1> <!channel>",
        accounts=[account(1, name=HOSTILE_COMPANY + " | x", label="<!subteam>")],
    )
    message = render_slack(NAME, ctx)
    assert HOSTILE_COMPANY in json.dumps(message.blocks[2]) or "&lt;script&gt;" in json.dumps(
        message.blocks[2]
    )
    for text in mrkdwn_texts(message):
        for bad in ("<!channel>", "<!here>", "<script>", "<!subteam>"):
            assert bad not in text
    # A pipe in a name would end the link text early.
    assert "¦ x>*" in message.blocks[2]["text"]["text"]


def test_long_digest_stays_within_slack_limits() -> None:
    ctx = digest_context(accounts=[account(i) for i in range(40)], owned_accounts=60)
    message = render_slack(NAME, ctx)
    assert len(message.blocks) <= 50
    assert "… and 25 more" in json.dumps(message.blocks, ensure_ascii=False)
    assert "40 of your 60 accounts" in message.blocks[1]["text"]["text"]


def test_required_keys_are_exact() -> None:
    required = SLACK_REQUIRED[NAME]
    ctx = {k: v for k, v in digest_context().items() if k in required}
    render_slack(NAME, ctx)
    for key in sorted(required):
        with pytest.raises(UndefinedError, match=key):
            render_slack(NAME, {k: v for k, v in ctx.items() if k != key})
