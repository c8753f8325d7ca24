"""Webhook subscriptions, URL checks, events recorded and enqueued on commit, and the events of other services."""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import transaction

from annotator.error_codes import ErrorCode
from annotator.errors import ValidationFailed
from annotator.models import DeliveryStatus, Project, WebhookDelivery, WebhookEvent
from annotator.services import webhooks
from annotator.services.agreement_counts import agreement_counts_rebuild
from annotator.services.assignments import annotation_submit, assignment_claim_next
from annotator.services.webhooks import (
    webhook_create,
    webhook_delete,
    webhook_event_emit,
    webhook_redeliver,
    webhook_send_test,
    webhook_update,
    webhook_url_check,
)
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

PUBLIC = "203.0.114.7"  # not a documentation range: ipaddress counts TEST-NET-3 (203.0.113.0/24) as not global


@pytest.fixture
def resolve(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host name → addresses, in place of DNS (no network in the tests); unknown names do not resolve."""
    table: dict[str, list[str]] = {"hooks.example.com": [PUBLIC]}

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        try:
            addresses = [str(ipaddress.ip_address(host))]  # a literal address resolves to itself, as in libc
        except ValueError:
            if host not in table:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            addresses = table[host]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", fake)
    return table


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from annotator import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", sent.append)
    return sent


# --- URL checks -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://internal.example/", ["127.0.0.1"]),
        ("http://internal.example/", ["10.1.2.3"]),
        ("http://internal.example/", ["192.168.0.10"]),
        ("http://internal.example/", ["169.254.169.254"]),  # the cloud metadata service
        ("http://internal.example/", ["::1"]),
        ("http://internal.example/", ["::ffff:127.0.0.1"]),
        ("http://internal.example/", ["fe80::1"]),
        ("http://internal.example/", [PUBLIC, "127.0.0.1"]),  # one internal address is enough
        ("http://127.0.0.1:8000/hook", None),
        ("http://[::1]/hook", None),
        ("http://localhost/hook", ["127.0.0.1"]),
    ],
)
def test_internal_addresses_are_refused_after_resolution(
    resolve: dict[str, list[str]], url: str, addresses: list[str] | None
) -> None:
    if addresses is not None:
        resolve[str(urlsplit(url).hostname)] = addresses
    with pytest.raises(ValidationFailed) as refused:
        webhook_url_check(url)
    assert refused.value.code == ErrorCode.WEBHOOK_URL_NOT_ALLOWED
    assert "internal address" in refused.value.message


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/", "file:///etc/passwd", "hooks.example.com", "http://", ""])
def test_only_http_urls_with_a_host_are_accepted(resolve: dict[str, list[str]], url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        webhook_url_check(url)
    assert refused.value.code == ErrorCode.WEBHOOK_URL_NOT_ALLOWED


def test_a_host_that_does_not_resolve_is_refused(resolve: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationFailed, match="does not resolve"):
        webhook_url_check("https://nowhere.invalid/hook")


def test_public_hosts_are_accepted(resolve: dict[str, list[str]]) -> None:
    webhook_url_check("https://hooks.example.com/prefstack")


def test_the_admin_allows_internal_hosts_by_name_address_or_network(
    settings: Any, resolve: dict[str, list[str]]
) -> None:
    resolve["ci.internal"] = ["10.0.0.5"]
    resolve["receiver.lan"] = ["192.168.1.20"]
    settings.PREFSTACK_WEBHOOK_ALLOWED_HOSTS = ["ci.internal", "192.168.1.0/24", "127.0.0.1"]
    webhook_url_check("http://ci.internal/hook")
    webhook_url_check("http://receiver.lan/hook")
    webhook_url_check("http://127.0.0.1:9000/hook")
    with pytest.raises(ValidationFailed):
        webhook_url_check("http://[::1]:9000/hook")


# --- subscriptions ----------------------------------------------------------------------------------------------


def test_create_generates_a_secret_and_keeps_the_projects_events(resolve: dict[str, list[str]]) -> None:
    project = ProjectFactory()
    hook = webhook_create(project=project, url="https://hooks.example.com/a", events=["snapshot.ready"])
    assert hook.secret.startswith("whsec_") and len(hook.secret) > 40
    webhook_create(project=project, url="https://hooks.example.com/b", events=["import.finished", "snapshot.ready"])
    project.refresh_from_db()
    assert project.webhook_events == ["snapshot.ready", "import.finished"]
    webhook_update(webhook=hook, is_active=False)
    project.refresh_from_db()
    assert project.webhook_events == ["snapshot.ready", "import.finished"]
    webhook_delete(webhook=project.webhooks.get(url="https://hooks.example.com/b"))
    project.refresh_from_db()
    assert project.webhook_events == []


def test_unknown_or_no_events_are_refused(resolve: dict[str, list[str]]) -> None:
    project = ProjectFactory()
    for events in (["snapshot.exploded"], []):
        with pytest.raises(ValidationFailed) as refused:
            webhook_create(project=project, url="https://hooks.example.com/", events=events)
        assert refused.value.code == ErrorCode.WEBHOOK_EVENT_UNKNOWN
    assert not project.webhooks.exists()


def test_an_internal_url_is_refused_and_nothing_is_saved(resolve: dict[str, list[str]]) -> None:
    project = ProjectFactory()
    resolve["db.local"] = ["10.0.0.2"]
    with pytest.raises(ValidationFailed):
        webhook_create(project=project, url="http://db.local:5432/", events=["snapshot.ready"])
    assert not project.webhooks.exists()


# --- events -----------------------------------------------------------------------------------------------------


def test_emit_records_a_delivery_per_subscribed_webhook_and_enqueues_on_commit(
    resolve: dict[str, list[str]], enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    project = ProjectFactory()
    ready = webhook_create(project=project, url="https://hooks.example.com/a", events=["snapshot.ready"])
    webhook_create(project=project, url="https://hooks.example.com/b", events=["import.finished"])
    off = webhook_create(project=project, url="https://hooks.example.com/c", events=["snapshot.ready"])
    webhook_update(webhook=off, is_active=False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliveries = webhook_event_emit(project=project, event=WebhookEvent.SNAPSHOT_READY, payload={"n": 1})
    assert [d.webhook_id for d in deliveries] == [ready.pk]
    assert enqueued == []  # not before the commit
    for callback in callbacks:
        callback()
    assert enqueued == [deliveries[0].pk]
    delivery = deliveries[0]
    assert delivery.status == DeliveryStatus.PENDING
    body = json.loads(delivery.body)
    assert body["event"] == "snapshot.ready" and body["delivery"] == delivery.pk and body["data"] == {"n": 1}
    assert body["project"] == project.slug


def test_an_event_of_a_rolled_back_change_is_never_sent(
    resolve: dict[str, list[str]], enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    project = ProjectFactory()
    webhook_create(project=project, url="https://hooks.example.com/a", events=["snapshot.ready"])
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                webhook_event_emit(project=project, event=WebhookEvent.SNAPSHOT_READY, payload={})
                raise RuntimeError("the change fails")
        except RuntimeError:
            pass
    assert enqueued == []
    assert not WebhookDelivery.objects.exists()


def test_send_test_and_redeliver_make_new_logged_deliveries(
    resolve: dict[str, list[str]], enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    project = ProjectFactory()
    hook = webhook_create(project=project, url="https://hooks.example.com/a", events=["import.finished"])
    with django_capture_on_commit_callbacks(execute=True):
        test = webhook_send_test(webhook=hook)
        again = webhook_redeliver(delivery=test)
    assert test.event == again.event == "webhook.test"
    assert again.redelivery_of == test and again.pk != test.pk
    assert enqueued == [test.pk, again.pk]


def _ratings(assignment: Any) -> dict[str, dict[str, int]]:
    names = list(assignment.comparison.project.attributes.values_list("name", flat=True))
    return {"left": dict.fromkeys(names, 3), "right": dict.fromkeys(names, 3)}


def _submit(assignment: Any, annotator: Any, ratings: dict[str, dict[str, int]] | None = None) -> None:
    annotation_submit(
        assignment=assignment,
        annotator=annotator,
        ratings_shown=ratings or _ratings(assignment),
        preference_strength=1,
        justification="@Response 1 and @Response 2 are about as good.",
    )


def test_comparison_completed_is_sent_when_the_last_overlap_slot_is_submitted(
    resolve: dict[str, list[str]], enqueued: list[int]
) -> None:
    project = ProjectFactory(overlap=2, adaptive_overlap_extra=0)
    comparison = ComparisonFactory(project=project)
    webhook_create(project=project, url="https://hooks.example.com/a", events=["comparison.completed"])
    project = Project.objects.get(pk=project.pk)
    for n in range(2):
        annotator = member(project)
        assignment = assignment_claim_next(project=project, annotator=annotator)
        assert assignment is not None
        _submit(assignment, annotator)
        sent = list(WebhookDelivery.objects.filter(event="comparison.completed"))
        assert len(sent) == n  # none after the first, one after the second
    data = json.loads(sent[0].body)["data"]
    assert data == {"comparison": {"id": comparison.pk, "source_id": comparison.source_id}, "annotations": 2}


def test_a_submission_without_listeners_costs_no_query_more(
    resolve: dict[str, list[str]], django_assert_max_num_queries: Any
) -> None:
    project = ProjectFactory(overlap=1)
    ComparisonFactory(project=project)
    webhook_create(project=project, url="https://hooks.example.com/a", events=["snapshot.ready"])
    project = Project.objects.get(pk=project.pk)
    annotator = member(project)
    assignment = assignment_claim_next(project=project, annotator=annotator)
    assert assignment is not None
    ratings = _ratings(assignment)
    agreement_counts_rebuild(project=project)  # the project's agreement counts exist, as after any submission
    with django_assert_max_num_queries(15):  # as in test_annotation_submit
        _submit(assignment, annotator, ratings)
    assert not WebhookDelivery.objects.exists()
