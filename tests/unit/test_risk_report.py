"""``cshub report health`` counts what customers wrote (themes) and the warning signs."""

from __future__ import annotations

from domain.health_report import account_health, build_portfolio_health, render_text


def test_the_health_report_sums_themes_and_warning_signs() -> None:
    accounts = [
        account_health(
            id="1001",
            name="Brightleaf",
            tier="starter",
            owner_id="501",
            properties={
                "cshub_text_themes": '{"texts":3,"negative":2,"positive":1,"waiting":2}',
                "cshub_risk_signs": "support_spike,usage_drop",
            },
        ),
        account_health(
            id="1002",
            name="Pixel Harbor",
            tier="starter",
            owner_id="501",
            properties={
                "cshub_text_themes": '{"texts":1,"negative":1,"billing_dispute":1,"x":"bad"}',
                "cshub_risk_signs": "support_spike",
            },
        ),
        account_health(id="1003", name="N", tier=None, owner_id=None, properties={}),
    ]
    report = build_portfolio_health(accounts)
    assert report.themes == {
        "billing_dispute": 1,
        "negative": 3,
        "positive": 1,
        "texts": 4,
        "waiting": 2,
    }
    assert report.risk_signs == {"support_spike": 2, "usage_drop": 1}
    text = render_text(report)
    assert "what customers wrote: 4 texts (negative 3, positive 1)" in text
    assert "  themes: waiting 2, billing_dispute 1" in text
    assert "warning signs raised: support_spike 2, usage_drop 1" in text
