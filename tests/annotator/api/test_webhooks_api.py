"""The webhook endpoints: leads only; create shows the secret once, list/update/rotate/delete, send test, the
delivery log and redeliver; a refused URL or an unknown event is a 400 with the service's code, nothing saved."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from annotator.models import Project, Role, Webhook, WebhookDelivery
from annotator.services.webhooks import webhook_create
from tests.factories import ProjectFactory, UserFactory, member

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture(autouse=True)
def enqueued(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """127.0.0.1 is allowed (no DNS needed), and deliveries are recorded rather than sent."""
    from annotator import tasks

    settings.PREFSTACK_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    sent: list[int] = []
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", sent.append)
    return sent


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


@pytest.fixture
def lead(project: Project) -> APIClient:
    client = APIClient()
    client.force_authenticate(member(project, Role.LEAD))
    return client


def base(project: Project) -> str:
    return f"/api/v1/projects/{project.slug}"


def test_only_leads_reach_the_webhooks(project: Project) -> None:
    client = APIClient()
    assert client.get(f"{base(project)}/webhooks/").status_code == 401
    client.force_authenticate(UserFactory())
    assert client.get(f"{base(project)}/webhooks/").status_code == 404
    for role in (Role.RESEARCHER, Role.ANNOTATOR):
        client.force_authenticate(member(project, role))
        response = client.post(
            f"{base(project)}/webhooks/create/", {"url": HOOK, "events": ["snapshot.ready"]}, format="json"
        )
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert not Webhook.objects.exists()


def test_create_shows_the_secret_once_then_list_update_rotate_delete(lead: APIClient, project: Project) -> None:
    created = lead.post(
        f"{base(project)}/webhooks/create/",
        {"url": HOOK, "events": ["training_job.failed", "snapshot.ready"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    hook = Webhook.objects.get(project=project)
    assert body["secret"] == hook.secret and body["secret"].startswith("whsec_")
    assert body["events"] == ["snapshot.ready", "training_job.failed"]  # in the events' own order
    assert body["is_active"] is True

    listed = lead.get(f"{base(project)}/webhooks/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == hook.id
    assert "secret" not in listed["results"][0]

    updated = lead.post(
        f"{base(project)}/webhooks/{hook.id}/update/",
        {"is_active": False, "events": ["import.finished"]},
        format="json",
    )
    assert updated.status_code == 200, updated.json()
    assert (updated.json()["is_active"], updated.json()["events"], updated.json()["url"]) == (
        False,
        ["import.finished"],
        HOOK,
    )
    assert "secret" not in updated.json()
    project.refresh_from_db()
    assert project.webhook_events == []  # paused: nothing listens any more

    rotated = lead.post(f"{base(project)}/webhooks/{hook.id}/rotate-secret/")
    assert rotated.status_code == 200
    hook.refresh_from_db()
    assert rotated.json()["secret"] == hook.secret != body["secret"]

    assert lead.post(f"{base(project)}/webhooks/{hook.id}/delete/").status_code == 204
    assert not Webhook.objects.exists()
    assert lead.post(f"{base(project)}/webhooks/{hook.id}/delete/").status_code == 404


def test_a_refused_url_is_422_and_an_unknown_event_400_with_their_codes(lead: APIClient, project: Project) -> None:
    url = f"{base(project)}/webhooks/create/"
    internal = lead.post(url, {"url": "http://10.0.0.1/hook", "events": ["snapshot.ready"]}, format="json")
    assert internal.status_code == 422  # well formed; its host's addresses are refused
    assert internal.json()["code"] == "webhook_url_not_allowed"
    assert "internal address" in internal.json()["message"]
    assert internal.json()["extra"]["fields"]["url"]
    scheme = lead.post(url, {"url": "ftp://127.0.0.1/hook", "events": ["snapshot.ready"]}, format="json")
    assert (scheme.status_code, scheme.json()["code"]) == (422, "webhook_url_not_allowed")
    unknown = lead.post(url, {"url": HOOK, "events": ["snapshot.ready", "snapshot.eaten"]}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "webhook_event_unknown"
    assert "snapshot.eaten" in unknown.json()["message"]
    assert lead.post(url, {"url": HOOK, "events": []}, format="json").json()["code"] == "validation_failed"
    wrong_type = lead.post(url, {"url": HOOK, "events": "snapshot.ready"}, format="json")
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (400, "validation_failed")
    assert not Webhook.objects.exists()

    hook = webhook_create(project=project, url=HOOK, events=["snapshot.ready"])
    refused = lead.post(
        f"{base(project)}/webhooks/{hook.id}/update/", {"url": "http://169.254.169.254/"}, format="json"
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "webhook_url_not_allowed")
    hook.refresh_from_db()
    assert hook.url == HOOK


def test_send_test_the_log_and_redeliver(
    lead: APIClient, project: Project, enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    hook = webhook_create(project=project, url=HOOK, events=["import.finished"])
    other = webhook_create(project=project, url="http://127.0.0.1:10/other", events=["import.finished"])
    with django_capture_on_commit_callbacks(execute=True):
        sent = lead.post(f"{base(project)}/webhooks/{hook.id}/test/")
    assert sent.status_code == 202
    delivery = sent.json()
    assert (delivery["event"], delivery["status"], delivery["webhook"]) == ("webhook.test", "pending", hook.id)
    assert enqueued == [delivery["id"]]

    log = lead.get(f"{base(project)}/webhook-deliveries/").json()
    assert [d["id"] for d in log["results"]] == [delivery["id"]]
    assert lead.get(f"{base(project)}/webhook-deliveries/?webhook={other.id}").json()["count"] == 0
    assert lead.get(f"{base(project)}/webhook-deliveries/?webhook=0").status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        again = lead.post(f"{base(project)}/webhook-deliveries/{delivery['id']}/redeliver/")
    assert again.status_code == 202
    assert again.json()["redelivery_of"] == delivery["id"]
    assert again.json()["id"] != delivery["id"]
    assert WebhookDelivery.objects.count() == 2
    assert len(enqueued) == 2


def test_another_projects_webhooks_are_not_found(lead: APIClient, project: Project) -> None:
    elsewhere = ProjectFactory()
    hook = webhook_create(project=elsewhere, url=HOOK, events=["snapshot.ready"])
    assert lead.post(f"{base(project)}/webhooks/{hook.id}/test/").status_code == 404
    assert lead.post(f"{base(project)}/webhooks/{hook.id}/update/", {}, format="json").status_code == 404
    assert lead.post(f"{base(project)}/webhook-deliveries/999999/redeliver/").status_code == 404


def test_the_lists_take_the_same_queries_for_one_row_or_many(
    lead: APIClient, project: Project, django_assert_num_queries: Any
) -> None:
    from annotator.services.webhooks import webhook_send_test

    hooks = [webhook_create(project=project, url=HOOK, events=["snapshot.ready"]) for _ in range(3)]
    for hook in hooks:
        for _ in range(4):
            webhook_send_test(webhook=hook)
    # The membership check, a count and a page: never a query per row.
    with django_assert_num_queries(3):
        assert lead.get(f"{base(project)}/webhook-deliveries/").json()["count"] == 12
    with django_assert_num_queries(3):
        assert lead.get(f"{base(project)}/webhooks/").json()["count"] == 3
