"""Local emulators of HubSpot, Zendesk, Slack and SMTP, plus the sandbox inbox page.

Start with :func:`sandbox.server.start_sandbox` or ``python -m sandbox``. Shares no code
with ``connectors/``: it is what the connectors are tested against.
"""
