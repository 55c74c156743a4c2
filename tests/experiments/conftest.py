"""The webhook API fixtures, for the end-to-end experiment test."""

from tests.webhooks.conftest import api, api_settings

__all__ = ["api", "api_settings"]
