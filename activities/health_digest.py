"""The weekly health digest: one Slack message per CSM listing their accounts in the
At risk and Critical categories, worst first, in the CSM alerts channel.

Reads what the health sweep last wrote on every CRM company (it scores nothing itself);
the grouping and ordering are :func:`domain.health_report.csm_digests`. CSMs without
such accounts get nothing; accounts without an owner are counted in the result (nobody's
digest lists them; ``cshub report health`` does).

Idempotent: each CSM's message carries the key ``{request key}/{owner id}``, so a
retried activity (a CRM or Slack failure half-way) posts only the digests still missing.
Names, e-mail addresses and company names are read here and never enter workflow
history: the request and result carry ids and counts.

:func:`read_portfolio` (every company's health, paged) is shared with
``cshub report health``. Both read at most :data:`PORTFOLIO_CALLS_PER_WINDOW` pages
(and owners) per 10 s: HubSpot's burst limit is the app's, shared with the
webhook-driven workflows. The activity heartbeats while it waits (the workflow gives it
a heartbeat timeout of 2 minutes; a wait is at most 10 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypedDict, Unpack

from pydantic import BaseModel, Field
from temporalio import activity

from activities.errors import connector_errors
from activities.messaging import MessagingConfig
from connectors.base import MAX_BATCH_RECORDS, Chat, Company, Crm, Owner
from connectors.errors import NotFoundError, RetryableConnectorError
from connectors.pacing import CallPacer
from domain.health_report import (
    CATEGORY_TITLES,
    READ_PROPERTIES,
    AccountHealth,
    CsmDigest,
    account_health,
    csm_digests,
    unowned_needing_attention,
)
from templates.renderer import render_slack

TEMPLATE = "health_digest"
PAGE_ATTEMPTS = 5
"""Tries per portfolio page when the CRM answers 429/5xx or times out."""
MAX_PAGE_WAIT_S = 60.0
PORTFOLIO_CALLS_PER_WINDOW = 40
"""The digest and the report are not urgent: they take at most 40 of HubSpot's 100
requests per 10 s, leaving the rest to the webhook-driven workflows."""


class HealthDigestInput(BaseModel):
    """Input of ``HealthDigestWorkflow`` (``{}`` for everyone)."""

    only_owner_id: str | None = None
    """Send only this CSM's digest (CRM owner id), e.g. to try it out."""


class HealthDigestRequest(BaseModel):
    idempotency_key: str
    """Each CSM's message uses ``{idempotency_key}/{owner id}``."""
    only_owner_id: str | None = None
    workflow_id: str = ""


class DigestPost(BaseModel):
    owner_id: str
    accounts: int
    critical: int
    at_risk: int
    created: bool
    """False: the message with this key was already in the channel (a retry)."""
    ref: str | None = None
    """``channel/ts`` of the message."""


class HealthDigestResult(BaseModel):
    companies: int
    """Companies read from the CRM."""
    needing_attention: int
    """At risk or critical companies in the digests' scope (owned ones listed below)."""
    unowned: int = 0
    """At risk or critical companies without an owner: in no digest."""
    posts: list[DigestPost] = Field(default_factory=list)

    @property
    def posted(self) -> int:
        return sum(1 for p in self.posts if p.created)


# ---------------------------------------------------------------------------- reading


class Paging(TypedDict, total=False):
    """How :func:`read_companies` pages through the portfolio (its keyword arguments)."""

    page_size: int
    attempts: int
    max_calls_per_10s: int
    pacer: CallPacer | None
    heartbeat: Callable[..., None] | None
    sleep: Callable[[float], Awaitable[Any]]
    clock: Callable[[], float]


async def read_portfolio(crm: Crm, **paging: Unpack[Paging]) -> list[AccountHealth]:
    """Every company's health as the sweep recorded it (``read_companies``, paged as
    ``paging`` says)."""
    return [company_health(c) for c in await read_companies(crm, READ_PROPERTIES, **paging)]


def company_health(company: Company) -> AccountHealth:
    """A company's health as the sweep recorded it (read with ``READ_PROPERTIES``)."""
    c = company
    return account_health(
        id=c.id, name=c.name, tier=c.tier, owner_id=c.owner_id, properties=c.properties
    )


async def read_companies(
    crm: Crm,
    properties: Sequence[str],
    *,
    page_size: int = MAX_BATCH_RECORDS,
    attempts: int = PAGE_ATTEMPTS,
    max_calls_per_10s: int = PORTFOLIO_CALLS_PER_WINDOW,
    pacer: CallPacer | None = None,
    heartbeat: Callable[..., None] | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Company]:
    """Every company with ``properties``, page by page (the blocking CRM
    calls run on a thread). A page the CRM refuses for now (rate limit, 5xx, timeout) is
    asked again after its Retry-After (or 1, 2, 4 … s), ``attempts`` times at most;
    ``heartbeat(pages read)`` is called after each page and before each wait.

    Paced: at most ``max_calls_per_10s`` list calls (retries included) in any 10 s, so a
    large portfolio does not spend the app's whole HubSpot burst limit (100 per 10 s,
    shared with the webhook-driven workflows). A portfolio of up to that many pages is
    read without waiting. ``pacer`` (instead of ``max_calls_per_10s``) shares one budget
    with other calls of the same reader, e.g. the owner look-ups."""
    pacer = pacer or CallPacer(max_calls_per_10s, clock=clock, sleep=sleep)
    companies: list[Company] = []
    after: str | None = None
    pages = 0

    def before_wait(_delay: float) -> None:
        if heartbeat:
            heartbeat(pages)

    while True:
        for attempt in range(1, attempts + 1):
            await pacer.acquire(before_wait)
            try:
                page = await asyncio.to_thread(
                    crm.list_companies, after=after, limit=page_size, properties=properties
                )
                break
            except RetryableConnectorError as exc:
                if attempt == attempts:
                    raise
                wait = min(exc.retry_after or float(2 ** (attempt - 1)), MAX_PAGE_WAIT_S)
                if heartbeat:
                    heartbeat(pages)
                await sleep(wait)
        pages += 1
        companies += page.companies
        if heartbeat:
            heartbeat(pages)
        if page.next_after is None:
            return companies
        after = page.next_after


async def read_owners(
    crm: Crm,
    owner_ids: set[str],
    *,
    pacer: CallPacer | None = None,
    on_read: Callable[[int], None] | None = None,
) -> tuple[dict[str, Owner], list[str]]:
    """The owners that exist, and a warning for each id the CRM does not know (one call
    per owner, within ``pacer``'s budget when given); ``on_read(owners read)`` after
    each."""
    owners: dict[str, Owner] = {}
    missing: list[str] = []
    for done, owner_id in enumerate(sorted(owner_ids), 1):
        if pacer:
            await pacer.acquire()
        try:
            owners[owner_id] = await asyncio.to_thread(crm.get_owner, owner_id)
        except NotFoundError:
            missing.append(f"owner {owner_id} is not a CRM user (any more): shown by id")
        if on_read:
            on_read(done)
    return owners, missing


# ---------------------------------------------------------------------------- posting


class HealthDigestActivities:
    def __init__(self, crm: Crm, chat: Chat, config: MessagingConfig) -> None:
        self._crm = crm
        self._chat = chat
        self._config = config

    @activity.defn(name="post_health_digests")
    async def post_health_digests(self, req: HealthDigestRequest) -> HealthDigestResult:
        """Post each CSM's digest of at-risk and critical accounts, once per key."""
        pacer = CallPacer(PORTFOLIO_CALLS_PER_WINDOW)
        with connector_errors():
            accounts = await read_portfolio(self._crm, pacer=pacer, heartbeat=activity.heartbeat)
        digests = csm_digests(accounts, only_owner_id=req.only_owner_id)
        unowned = [] if req.only_owner_id else unowned_needing_attention(accounts)
        result = HealthDigestResult(
            companies=len(accounts),
            needing_attention=sum(len(d.accounts) for d in digests) + len(unowned),
            unowned=len(unowned),
        )
        for digest in digests:
            activity.heartbeat(f"digest {digest.owner_id}")
            result.posts.append(await self._post(digest, req, pacer))
        return result

    async def _post(
        self, digest: CsmDigest, req: HealthDigestRequest, pacer: CallPacer
    ) -> DigestPost:
        owner: Owner | None = None
        slack_id: str | None = None
        with connector_errors():
            await pacer.acquire(lambda _: activity.heartbeat(f"digest {digest.owner_id}"))
            try:
                owner = await asyncio.to_thread(self._crm.get_owner, digest.owner_id)
            except NotFoundError:
                owner = None  # a CSM who left: the digest still goes, by owner id
            if owner is not None and owner.email:
                slack_id = await self._chat.lookup_user_id(owner.email)
        stamps = [a.scored_at for a in digest.accounts if a.scored_at]
        rendered = render_slack(
            TEMPLATE,
            {
                "csm_name": owner.full_name if owner else f"owner {digest.owner_id}",
                "csm_slack_id": slack_id,
                "workflow_id": req.workflow_id,
                "owned_accounts": digest.owned_accounts,
                "accounts": [self._account(a) for a in digest.accounts],
                "extra": {"scored_at": max(stamps) if stamps else None},
            },
            locale=self._config.team_locale,
        )
        with connector_errors():
            ref = await self._chat.post_message(
                channel=self._config.alerts_channel,
                text=rendered.text,
                blocks=rendered.blocks,
                idempotency_key=f"{req.idempotency_key}/{digest.owner_id}",
            )
        return DigestPost(
            owner_id=digest.owner_id,
            accounts=len(digest.accounts),
            critical=digest.critical,
            at_risk=digest.at_risk,
            created=ref.created,
            ref=f"{ref.channel}/{ref.ts}",
        )

    def _account(self, a: AccountHealth) -> dict[str, Any]:
        url = self._config.crm_company_url
        return {
            "id": a.id,
            "name": a.name,
            "tier": a.tier,
            "category": CATEGORY_TITLES[a.category],
            "label": a.category_label,
            "score": a.score,
            "delta": a.delta,
            "low_confidence": a.low_confidence,
            "crm_url": url.format(id=a.id) if url else None,
        }
