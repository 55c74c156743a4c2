"""Turn validated demo data into fresh HubSpot, Zendesk and Slack state."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sandbox.clock import iso_ms, utcnow
from sandbox.demo_data import DemoData
from sandbox.hubspot_state import HubSpotState, Owner
from sandbox.slack_state import BOT_USER_ID, SlackState, SlackUser
from sandbox.zendesk_state import (
    ZdComment,
    ZdGroup,
    ZdOrganization,
    ZdTicket,
    ZdUser,
    ZendeskState,
)

# Association type ids used for the seeded records (see hubspot_assoc).
CONTACT_TO_COMPANY = (279, 1)  # unlabeled + primary company
DEAL_TO_COMPANY = (341, 5)
DEAL_TO_CONTACT = 3

_SEEDED_AGO = timedelta(days=400)


def seed_hubspot(data: DemoData) -> HubSpotState:
    state = HubSpotState()
    created = utcnow() - _SEEDED_AGO
    for owner in data.owners:
        state.owners[owner.id] = Owner(
            owner.id, owner.email, owner.first_name, owner.last_name, 10000 + int(owner.id), created
        )
    for company in data.companies:
        state.create(
            "companies",
            {
                "name": company.name,
                "domain": company.domain,
                "cshub_tier": company.tier,
                "hubspot_owner_id": company.owner_id,
                "cshub_timezone": company.timezone,
                "lifecyclestage": "customer",
                **company.properties,
            },
            object_id=company.id,
            seeded=True,
            at=created,
        )
        for contact in company.contacts:
            state.create(
                "contacts",
                {
                    "email": contact.email,
                    "firstname": contact.first_name,
                    "lastname": contact.last_name,
                    "jobtitle": contact.job_title,
                    "associatedcompanyid": company.id,
                    "lifecyclestage": "customer",
                    **contact.properties,
                },
                [(company.id, type_id) for type_id in CONTACT_TO_COMPANY],
                object_id=contact.id,
                seeded=True,
                at=created,
            )
        deal = company.deal
        state.create(
            "deals",
            {
                "dealname": deal.name,
                "dealstage": deal.stage,
                "amount": deal.amount,
                "pipeline": deal.pipeline,
                "closedate": iso_ms(datetime.combine(deal.close_date, time(), UTC)),
                "cshub_tier": company.tier,
                "hubspot_owner_id": company.owner_id,
            },
            [(company.id, type_id) for type_id in DEAL_TO_COMPANY]
            + [(company.contacts[0].id, DEAL_TO_CONTACT)],
            object_id=deal.id,
            seeded=True,
            at=created,
        )
    return state


def seed_zendesk(data: DemoData) -> ZendeskState:
    zd = data.zendesk
    state = ZendeskState()
    now = utcnow()
    created = now - _SEEDED_AGO
    for group in zd.groups:
        state.groups[group.id] = ZdGroup(group.id, group.name, created)
    for org in zd.organizations:
        state.organizations[org.id] = ZdOrganization(
            org.id, org.name, org.external_id, list(org.domain_names), created
        )
    for user in zd.users:
        state.users[user.id] = ZdUser(
            user.id,
            user.name,
            user.email,
            user.role,
            user.organization_id,
            user.default_group_id,
            created,
        )
    comment_id = 1
    for ticket in zd.tickets:
        comments: list[ZdComment] = []
        for comment in ticket.comments:
            at = now - timedelta(hours=comment.hours_ago)
            comments.append(
                ZdComment(comment_id, comment.author_id, comment.body, comment.public, at)
            )
            comment_id += 1
        state.tickets[ticket.id] = ZdTicket(
            id=ticket.id,
            subject=ticket.subject,
            description=comments[0].body,
            status=ticket.status,
            priority=ticket.priority,
            type=ticket.type,
            requester_id=ticket.requester_id,
            submitter_id=ticket.requester_id,
            assignee_id=ticket.assignee_id,
            organization_id=state.users[ticket.requester_id].organization_id,
            group_id=ticket.group_id,
            tags=list(ticket.tags),
            created_at=comments[0].created_at,
            updated_at=max(c.created_at for c in comments),
            comments=comments,
        )
    ids = [*state.tickets, *state.users, *state.organizations, *state.groups, comment_id]
    state.ensure_ids_above(max(ids))
    return state


def seed_slack(data: DemoData) -> SlackState:
    state = SlackState()
    for channel in data.slack.channels:
        state.add_channel(channel.id, channel.name, channel.purpose)
    for owner in data.owners:
        state.add_user(SlackUser(owner.slack_user_id, owner.email, owner.full_name, owner.title))
    for user in data.slack.users:
        state.add_user(SlackUser(user.id, user.email, user.name, user.title))
    state.add_user(SlackUser(BOT_USER_ID, "cshub-bot@cshub.example", "cshub", "", is_bot=True))
    return state
