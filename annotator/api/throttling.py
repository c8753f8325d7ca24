"""API request rates: DRF's anonymous (by address) and per-user throttles, with rates read from the settings at
each request (``PREFSTACK_API_THROTTLE_RATES``), so that they can be tuned by the environment and changed in tests.
A refused request is a 429 in the API's error shape with a ``Retry-After`` header (annotator.api.errors)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework import throttling


class _SettingsRate:
    scope: str

    def get_rate(self) -> str | None:
        rates: dict[str, str | None] = settings.PREFSTACK_API_THROTTLE_RATES
        if self.scope not in rates:
            raise ImproperlyConfigured(f"PREFSTACK_API_THROTTLE_RATES has no rate for {self.scope!r}.")
        return rates[self.scope]


class AnonRateThrottle(_SettingsRate, throttling.AnonRateThrottle):
    """Anonymous requests, counted by client address."""


class UserRateThrottle(_SettingsRate, throttling.UserRateThrottle):
    """Authenticated requests, counted by user (anonymous ones by address)."""
