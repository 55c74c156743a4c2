"""Build the connectors the settings describe (sandbox emulators or the real services)."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.base import Billing, Chat, Crm, Helpdesk, Mailer
from runtime.settings import Settings


@dataclass(frozen=True)
class Connectors:
    crm: Crm
    helpdesk: Helpdesk
    chat: Chat
    mailer: Mailer
    billing: Billing | None = None
    """None: no Stripe API key (STRIPE_API_KEY), so only metadata in events is read."""


def _secret(value: object) -> str:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if get else str(value or "")


def build_connectors(settings: Settings) -> Connectors:
    # Vendor modules are imported here so the recording connectors (simulate) and the
    # domain never pull in the vendor SDKs.
    from connectors.email import SmtpMailer
    from connectors.hubspot import HubSpotCrm
    from connectors.slack import SlackChat
    from connectors.stripe_billing import StripeBilling
    from connectors.zendesk import ZendeskHelpdesk

    portal = settings.hubspot_portal_id
    return Connectors(
        crm=HubSpotCrm(
            access_token=_secret(settings.hubspot_access_token),
            base_url=settings.hubspot_url,
            task_to_company_association_type_id=settings.hubspot_task_association_type_id,
            note_to_company_association_type_id=settings.hubspot_note_association_type_id,
            portal_url=f"https://app.hubspot.com/contacts/{portal}" if portal else None,
        ),
        helpdesk=ZendeskHelpdesk(
            subdomain=settings.zendesk_subdomain or "",
            email=settings.zendesk_email or "",
            token=_secret(settings.zendesk_token),
            base_netloc=settings.zendesk_base_netloc,
            scheme=settings.zendesk_scheme,
        ),
        chat=SlackChat(token=_secret(settings.slack_bot_token), base_url=settings.slack_url),
        mailer=SmtpMailer(
            host=settings.smtp_host or "127.0.0.1",
            port=settings.smtp_port,
            sender=settings.smtp_sender or "success@cshub.example",
            username=settings.smtp_username,
            password=_secret(settings.smtp_password) if settings.smtp_password else None,
            use_tls=settings.smtp_use_tls,
            start_tls=settings.smtp_starttls,
        ),
        billing=StripeBilling(_secret(settings.stripe_api_key), settings.stripe_base_url)
        if settings.stripe_api_key
        else None,
    )
