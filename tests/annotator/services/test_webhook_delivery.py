"""Deliveries end to end: a real HTTP receiver on 127.0.0.1 (http.server in a thread) checks each signature,
answers 500 to the first attempts and 200 after; the Celery task runs eagerly with its retries, and the delivery
log shows the attempts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from annotator.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from annotator.services.webhooks import (
    WebhookRetry,
    webhook_backoff_seconds,
    webhook_create,
    webhook_delivery_attempt,
    webhook_event_emit,
)
from annotator.tasks import webhook_deliver_task
from annotator.webhooks_signing import SIGNATURE_HEADER, SignatureError, signature_verify
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


class Receiver:
    """Answers ``codes`` in turn (then 200), recording each request and whether its signature verified."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.secret = ""
        self.requests: list[dict[str, Any]] = []
        self.redirect_to = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    signature_verify(secret=receiver.secret, header=self.headers[SIGNATURE_HEADER] or "", body=body)
                    verified = True
                except SignatureError:
                    verified = False
                receiver.requests.append({"headers": dict(self.headers), "body": body, "verified": verified})
                if receiver.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect_to)
                else:
                    self.send_response(receiver.codes.pop(0) if receiver.codes else 200 if verified else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.PREFSTACK_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PREFSTACK_WEBHOOK_BACKOFF_SECONDS = 0
    settings.PREFSTACK_WEBHOOK_MAX_ATTEMPTS = 4
    settings.PREFSTACK_WEBHOOK_TIMEOUT_SECONDS = 5
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _delivery(receiver: Receiver, django_capture_on_commit_callbacks: Any) -> WebhookDelivery:
    project = ProjectFactory()
    hook = webhook_create(project=project, url=receiver.url, events=["snapshot.ready"])
    receiver.secret = hook.secret
    with django_capture_on_commit_callbacks(execute=False):  # the test drives the task itself
        (delivery,) = webhook_event_emit(project=project, event=WebhookEvent.SNAPSHOT_READY, payload={"v": 7})
    return delivery


def test_failed_attempts_are_retried_until_the_receiver_accepts(
    receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    delivery = _delivery(receiver, django_capture_on_commit_callbacks)
    receiver.codes = [500, 503]
    result = webhook_deliver_task.apply(args=[delivery.pk])
    assert result.get() == DeliveryStatus.SUCCEEDED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.SUCCEEDED, 3, 200)
    assert delivery.duration_ms is not None and delivery.finished_at is not None and delivery.error == ""
    assert len(receiver.requests) == 3 and all(r["verified"] for r in receiver.requests)
    first = receiver.requests[0]
    assert first["headers"]["Prefstack-Event"] == "snapshot.ready"
    assert first["headers"]["Prefstack-Delivery"] == str(delivery.pk)
    assert first["headers"]["Content-Type"] == "application/json"
    assert json.loads(first["body"])["data"] == {"v": 7}
    assert {r["body"] for r in receiver.requests} == {delivery.body.encode()}  # the same body on each attempt


def test_the_log_shows_each_attempt(receiver: Receiver, django_capture_on_commit_callbacks: Any) -> None:
    delivery = _delivery(receiver, django_capture_on_commit_callbacks)
    receiver.codes = [500]
    with pytest.raises(WebhookRetry) as retry:
        webhook_delivery_attempt(delivery_id=delivery.pk)
    assert retry.value.countdown == 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.RETRYING, 1, 500)
    assert delivery.error == "HTTP 500" and delivery.finished_at is None
    delivery = webhook_delivery_attempt(delivery_id=delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.SUCCEEDED, 2, 200)
    # A repeated task finds it delivered and sends nothing.
    assert webhook_delivery_attempt(delivery_id=delivery.pk).attempts == 2
    assert len(receiver.requests) == 2


def test_the_delivery_fails_after_the_last_attempt(receiver: Receiver, django_capture_on_commit_callbacks: Any) -> None:
    delivery = _delivery(receiver, django_capture_on_commit_callbacks)
    receiver.codes = [500] * 10
    webhook_deliver_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.FAILED, 4, 500)
    assert len(receiver.requests) == 4


def test_a_client_error_is_not_retried_and_a_bad_signature_is_refused(
    receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    delivery = _delivery(receiver, django_capture_on_commit_callbacks)
    receiver.secret = "whsec_not_the_one"  # the receiver answers 401 to what it cannot verify
    webhook_deliver_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.FAILED, 1, 401)


def test_redirects_are_not_followed(receiver: Receiver, django_capture_on_commit_callbacks: Any) -> None:
    delivery = _delivery(receiver, django_capture_on_commit_callbacks)
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    webhook_deliver_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, len(receiver.requests)) == (DeliveryStatus.FAILED, 307, 1)


def test_an_address_no_longer_allowed_is_not_contacted(
    receiver: Receiver, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    delivery = _delivery(receiver, django_capture_on_commit_callbacks)
    settings.PREFSTACK_WEBHOOK_ALLOWED_HOSTS = []
    webhook_deliver_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.FAILED, 1, None)
    assert "internal address" in delivery.error
    assert receiver.requests == []


def test_an_unreachable_receiver_is_retried(settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    receiver = Receiver()  # bound, never served: closed at once so the port refuses connections
    receiver.server.server_close()
    settings.PREFSTACK_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    delivery = _delivery(receiver, django_capture_on_commit_callbacks)
    with pytest.raises(WebhookRetry):
        webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.response_code is None
    assert "refused" in delivery.error.lower()


def test_back_off_doubles_up_to_an_hour(settings: Any) -> None:
    settings.PREFSTACK_WEBHOOK_BACKOFF_SECONDS = 30
    assert [webhook_backoff_seconds(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhook_backoff_seconds(20) == 3600
