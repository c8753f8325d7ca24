"""Shared fixtures. Browser tests need Debian's chromium; they are skipped, with a message, where it is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

# Playwright's sync API keeps an event loop running in the test thread; Django must still allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# The real OpenAI-compatible server (transformers serve, a tiny local model) and its failure-injecting proxy.
pytest_plugins = ["tests.llm_server"]

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM:
        return
    skip = pytest.mark.skip(
        reason="browser test skipped: no Chromium found (apt-get install chromium, or CHROMIUM_PATH)"
    )
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str:
    return f"chromium: {CHROMIUM or 'not found — browser tests will be skipped'}"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True, scope="session")
def _private_celery_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests never share the demo's filesystem queue (nor another test session's)."""
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        yield
        return
    root = tmp_path_factory.mktemp("celery")
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    for key, sub in (("data_folder_in", "queue"), ("data_folder_out", "queue"), ("control_folder", "control"),
                     ("processed_folder", "processed")):  # fmt: skip
        (root / sub).mkdir(exist_ok=True)
        options[key] = str(root / sub)
    from config.celery import app

    old_root, old_options = settings.CELERY_QUEUE_ROOT, settings.CELERY_BROKER_TRANSPORT_OPTIONS
    settings.CELERY_QUEUE_ROOT, settings.CELERY_BROKER_TRANSPORT_OPTIONS = root, options
    app.conf.broker_transport_options = options
    yield
    settings.CELERY_QUEUE_ROOT, settings.CELERY_BROKER_TRANSPORT_OPTIONS = old_root, old_options


@pytest.fixture(scope="session", autouse=True)
def _patient_browser_assertions() -> None:
    """CI machines are small and busy: browser assertions wait up to 30 s (Playwright's default is 5 s)."""
    try:
        from playwright.sync_api import expect
    except ImportError:  # pragma: no cover - playwright is a dev requirement
        return
    expect.set_options(timeout=30_000)
