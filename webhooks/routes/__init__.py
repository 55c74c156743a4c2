"""The API's routes, one module per sender or page family (docs/engineers/adding-a-sender.md).

Each module holds an :class:`fastapi.APIRouter` named ``router`` whose handlers take what
they share as FastAPI dependencies (:mod:`webhooks.routes.base`): the app's
:class:`~webhooks.routes.base.Hub` and, for a signed webhook, the verified raw body.
``webhooks.app.create_app`` includes them in :data:`ROUTERS`' order."""

from __future__ import annotations

from fastapi import APIRouter

from webhooks.routes import health, hubspot, product, stripe, surveys, zendesk

ROUTERS: tuple[APIRouter, ...] = (
    hubspot.router,
    stripe.router,
    zendesk.router,
    product.router,
    surveys.router,
    health.router,
)
"""Included by ``create_app`` in this order. A new sender: its module, and a line here."""
