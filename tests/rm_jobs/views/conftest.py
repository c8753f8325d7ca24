"""What the rm_jobs page tests share: a researcher's browser session and the htmx request header."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def web(researcher: Any) -> Client:
    client = Client()
    client.force_login(researcher)
    return client
