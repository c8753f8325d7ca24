"""The lead's webhooks page: leads only; add (a refused URL in the form, nothing saved), send test, pause,
delete, and the delivery log with redeliver."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import DeliveryStatus, Project, Role, Webhook, WebhookDelivery
from annotator.services.webhooks import webhook_create
from tests.factories import ProjectFactory, UserFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def enqueued(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """127.0.0.1 is allowed (no DNS needed), and tasks are recorded rather than sent."""
    from annotator import tasks

    settings.PREFSTACK_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    sent: list[int] = []
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", sent.append)
    return sent


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


@pytest.fixture
def lead_client(project: Project) -> Client:
    client = Client()
    client.force_login(member(project, Role.LEAD, username="lead"))
    return client


def _url(project: Project) -> str:
    return reverse("annotator:setup_webhooks", kwargs={"slug": project.slug})


def test_only_leads_see_the_page(project: Project) -> None:
    client = Client()
    client.force_login(UserFactory())
    assert client.get(_url(project)).status_code == 404
    client.force_login(member(project, Role.ANNOTATOR))
    assert client.get(_url(project)).status_code == 403
    assert client.post(_url(project), {"action": "add", "url": "http://127.0.0.1/"}).status_code == 403
    assert not Webhook.objects.exists()


def test_add_a_webhook_and_see_it_with_its_secret(lead_client: Client, project: Project) -> None:
    response = lead_client.post(
        _url(project), {"action": "add", "url": "http://127.0.0.1:9/hook", "events": ["snapshot.ready"]}
    )
    assert response.status_code == 302
    hook = Webhook.objects.get(project=project)
    assert hook.events == ["snapshot.ready"]
    html = lead_client.get(_url(project)).content.decode()
    assert hook.url in html and hook.secret in html and "Prefstack-Signature" in html
    assert 'aria-current="page"' in html and "<script>" not in html


def test_an_internal_url_is_shown_in_the_form_and_nothing_is_saved(lead_client: Client, project: Project) -> None:
    response = lead_client.post(
        _url(project), {"action": "add", "url": "http://10.0.0.1/hook", "events": ["snapshot.ready"]}
    )
    assert response.status_code == 400
    assert "internal address" in response.content.decode()
    assert not Webhook.objects.exists()


def test_send_test_pause_redeliver_delete(
    lead_client: Client, project: Project, enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    hook = webhook_create(project=project, url="http://127.0.0.1:9/hook", events=["import.finished"])
    with django_capture_on_commit_callbacks(execute=True):
        assert lead_client.post(_url(project), {"action": "test", "webhook": hook.pk}).status_code == 302
    test = WebhookDelivery.objects.get()
    assert test.event == "webhook.test" and enqueued == [test.pk]
    WebhookDelivery.objects.filter(pk=test.pk).update(
        status=DeliveryStatus.FAILED, attempts=3, response_code=500, duration_ms=12, error="HTTP 500"
    )
    html = lead_client.get(_url(project)).content.decode()
    assert f'data-delivery="{test.pk}" data-status="failed"' in html and "12 ms" in html and "HTTP 500" in html
    with django_capture_on_commit_callbacks(execute=True):
        assert lead_client.post(_url(project), {"action": "redeliver", "delivery": test.pk}).status_code == 302
    again = WebhookDelivery.objects.exclude(pk=test.pk).get()
    assert again.redelivery_of_id == test.pk and enqueued == [test.pk, again.pk]
    lead_client.post(_url(project), {"action": "pause", "webhook": hook.pk})
    hook.refresh_from_db()
    assert not hook.is_active
    lead_client.post(_url(project), {"action": "delete", "webhook": hook.pk})
    assert not Webhook.objects.exists()


def test_another_projects_webhook_is_not_found(lead_client: Client, project: Project) -> None:
    other = webhook_create(project=ProjectFactory(), url="http://127.0.0.1:9/hook", events=["import.finished"])
    assert lead_client.post(_url(project), {"action": "delete", "webhook": other.pk}).status_code == 404
    assert lead_client.post(_url(project), {"action": "redeliver", "delivery": "x"}).status_code == 404
    assert Webhook.objects.filter(pk=other.pk).exists()
