"""``cshub report referrals``: who referred whom and the commission owed (seed 002's
referral programme: "automated tracking", "referral dashboard").

The post-onboarding plays record each referral on the referred company
(``cshub_referred_by``, the contract value and the commission, see ``activities/year.py``);
this walks the CRM's companies once and totals them per referrer."""

from __future__ import annotations

from pydantic import BaseModel

from activities.year import (
    REFERRAL_COMMISSION,
    REFERRAL_CURRENCY,
    REFERRAL_PROPERTIES,
    REFERRAL_VALUE,
    REFERRED_BY,
)
from connectors.base import Crm
from domain.health_outreach import parse_number


class ReferralLine(BaseModel):
    referrer_id: str
    referred_id: str
    referred_name: str
    value_minor: int
    commission_minor: int
    currency: str


class ReferrerTotal(BaseModel):
    referrer_id: str
    referrals: int
    commission_minor: dict[str, int]
    """Currency → commission owed, in minor units."""


class ReferralReport(BaseModel):
    lines: list[ReferralLine]
    referrers: list[ReferrerTotal]


def referral_report(crm: Crm) -> ReferralReport:
    lines: list[ReferralLine] = []
    after: str | None = None
    while True:
        page = crm.list_companies(after=after, limit=100, properties=REFERRAL_PROPERTIES)
        for c in page.companies:
            by = (c.properties.get(REFERRED_BY) or "").strip()
            if not by:
                continue
            lines.append(
                ReferralLine(
                    referrer_id=by,
                    referred_id=c.id,
                    referred_name=c.name,
                    value_minor=int(parse_number(c.properties.get(REFERRAL_VALUE)) or 0),
                    commission_minor=int(parse_number(c.properties.get(REFERRAL_COMMISSION)) or 0),
                    currency=c.properties.get(REFERRAL_CURRENCY) or "USD",
                )
            )
        if page.next_after is None:
            break
        after = page.next_after
    totals: dict[str, ReferrerTotal] = {}
    for line in lines:
        t = totals.setdefault(
            line.referrer_id,
            ReferrerTotal(referrer_id=line.referrer_id, referrals=0, commission_minor={}),
        )
        t.referrals += 1
        t.commission_minor[line.currency] = (
            t.commission_minor.get(line.currency, 0) + line.commission_minor
        )
    return ReferralReport(
        lines=lines, referrers=sorted(totals.values(), key=lambda t: t.referrer_id)
    )


def _money(minor: int, currency: str) -> str:
    return f"{minor / 100:,.2f} {currency}"


def render_referrals(report: ReferralReport) -> str:
    if not report.lines:
        return "No referrals recorded."
    out = ["Referrals (referrer -> referred: contract value, commission owed)"]
    out += [
        f"  {r.referrer_id} -> {r.referred_id} ({r.referred_name}): "
        f"{_money(r.value_minor, r.currency)}, commission {_money(r.commission_minor, r.currency)}"
        for r in report.lines
    ]
    out.append("Commission owed per referrer")
    out += [
        f"  {t.referrer_id}: {t.referrals} referral(s), "
        + ", ".join(_money(v, cur) for cur, v in sorted(t.commission_minor.items()))
        for t in report.referrers
    ]
    return "\n".join(out)
