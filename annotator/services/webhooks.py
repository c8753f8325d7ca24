"""Webhooks: a project's subscriptions, the events sent to them, and the signed, retried, logged deliveries.

A delivery is a POST of JSON (``{"event", "delivery", "project", "created_at", "data"}``) with the headers
``Content-Type: application/json``, ``Prefstack-Event``, ``Prefstack-Delivery`` (the delivery's id, the same on
each retry) and ``Prefstack-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (see
:mod:`annotator.webhooks_signing`; the timestamp is fresh on every attempt, the body the same).

Only http(s) URLs whose host resolves to public addresses are accepted, when saved and again before every attempt;
``PREFSTACK_WEBHOOK_ALLOWED_HOSTS`` lets the admin allow others (an internal receiver). Redirects are not followed
(a redirect could lead to an internal address) and the environment's proxies are not used. The address checked is
resolved again by the HTTP client when it connects, so a DNS answer that changes in between (rebinding) is not
excluded by this check alone; a deployment that must exclude it puts an egress firewall in front of the workers.

An attempt succeeds on a 2xx answer. A network error, a timeout, 408, 429 or a 5xx is retried with exponential
back-off (``PREFSTACK_WEBHOOK_BACKOFF_SECONDS`` × 2^(attempt−1), at most an hour) up to
``PREFSTACK_WEBHOOK_MAX_ATTEMPTS`` attempts in all; any other answer (3xx, 4xx) or a URL no longer allowed fails
the delivery at once. The log keeps status, attempts, the last response code, duration and error.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotator.error_codes import ErrorCode
from annotator.errors import NotFound, ValidationFailed
from annotator.models import (
    WEBHOOK_TEST_EVENT,
    Assignment,
    AssignmentStatus,
    Comparison,
    DeliveryStatus,
    Project,
    Snapshot,
    SnapshotStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from annotator.webhooks_signing import SIGNATURE_HEADER, signature_header

USER_AGENT = "Prefstack-Webhooks/1"
MAX_BACKOFF_SECONDS = 3600
RETRYABLE_CODES = frozenset({408, 429})
ERROR_TEXT_CHARS = 2000
SNAPSHOT_EVENTS: dict[str, str] = {
    SnapshotStatus.READY: WebhookEvent.SNAPSHOT_READY,
    SnapshotStatus.FAILED: WebhookEvent.SNAPSHOT_FAILED,
}


class WebhookRetry(Exception):
    """An attempt failed and the delivery has attempts left: try again in ``countdown`` seconds."""

    def __init__(self, message: str, *, countdown: int) -> None:
        super().__init__(message)
        self.countdown = countdown


# --- URL checks -------------------------------------------------------------------------------------------------


class WebhookUrlNotAllowed(ValidationFailed):
    """A URL refused by the host policy: 422, as the request itself may be well formed (its host's addresses are
    beyond what the API's schema can say); the page shows it in its form."""

    code = ErrorCode.WEBHOOK_URL_NOT_ALLOWED
    status = 422


def _refuse_url(message: str) -> WebhookUrlNotAllowed:
    return WebhookUrlNotAllowed(message, extra={"fields": {"url": message}})


def _allowed_entries() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    names: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for entry in settings.PREFSTACK_WEBHOOK_ALLOWED_HOSTS:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return names, networks


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def webhook_url_check(url: str) -> None:
    """Refuse (ValidationFailed, code ``webhook_url_not_allowed``) a URL that is not http(s) with a host, or whose
    host resolves to any non-public address (private, loopback, link-local, reserved, multicast) that
    ``PREFSTACK_WEBHOOK_ALLOWED_HOSTS`` does not allow, by name or by address/network."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse_url("This is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse_url("A webhook URL starts with http:// or https:// and names a host.")
    host = parts.hostname.lower().rstrip(".")
    names, networks = _allowed_entries()
    if host in names:
        return
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise _refuse_url(f"The host {host} does not resolve.") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not _is_public(address) and not any(address in network for network in networks):
            raise _refuse_url(
                f"The host {host} resolves to {address}, an internal address; an administrator can allow it "
                "with PREFSTACK_WEBHOOK_ALLOWED_HOSTS."
            )


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in WebhookEvent.values]
    if unknown or not chosen:
        message = f"Unknown events: {', '.join(unknown)}." if unknown else "Choose at least one event."
        raise ValidationFailed(message, code=ErrorCode.WEBHOOK_EVENT_UNKNOWN, extra={"fields": {"events": message}})
    return [e for e in WebhookEvent.values if e in chosen]


def _project_events_sync(project: Project) -> None:
    """Keep ``project.webhook_events`` the union of its active webhooks' events (read by the submission path)."""
    events: set[str] = set()
    for subscribed in Webhook.objects.filter(project=project, is_active=True).values_list("events", flat=True):
        events.update(subscribed)
    project.webhook_events = [e for e in WebhookEvent.values if e in events]
    Project.objects.filter(pk=project.pk).update(webhook_events=project.webhook_events)


# --- subscriptions ----------------------------------------------------------------------------------------------


@transaction.atomic
def webhook_create(*, project: Project, url: str, events: Iterable[str], secret: str = "") -> Webhook:
    """A webhook of ``project``; a secret is generated when none is given."""
    webhook_url_check(url)
    webhook = Webhook.objects.create(
        project=project, url=url, events=_clean_events(events), secret=secret or f"whsec_{secrets.token_hex(24)}"
    )
    _project_events_sync(project)
    return webhook


@transaction.atomic
def webhook_update(
    *, webhook: Webhook, url: str | None = None, events: Iterable[str] | None = None, is_active: bool | None = None
) -> Webhook:
    if url is not None:
        webhook_url_check(url)
        webhook.url = url
    if events is not None:
        webhook.events = _clean_events(events)
    if is_active is not None:
        webhook.is_active = is_active
    webhook.save()
    _project_events_sync(webhook.project)
    return webhook


@transaction.atomic
def webhook_secret_rotate(*, webhook: Webhook) -> Webhook:
    webhook.secret = f"whsec_{secrets.token_hex(24)}"
    webhook.save(update_fields=["secret", "updated_at"])
    return webhook


@transaction.atomic
def webhook_delete(*, webhook: Webhook) -> None:
    project = webhook.project
    webhook.delete()
    _project_events_sync(project)


# --- events -----------------------------------------------------------------------------------------------------


def _enqueue(delivery_id: int) -> None:
    from annotator.tasks import webhook_deliver_task  # the task module imports this one

    transaction.on_commit(lambda: webhook_deliver_task.delay(delivery_id))


def _delivery_create(
    *, webhook: Webhook, event: str, data: Mapping[str, Any], redelivery_of: WebhookDelivery | None = None
) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(webhook=webhook, event=event, body="", redelivery_of=redelivery_of)
    envelope = {
        "event": event,
        "delivery": delivery.pk,
        "project": webhook.project.slug,
        "created_at": delivery.created_at,
        "data": data,
    }
    delivery.body = json.dumps(envelope, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    delivery.save(update_fields=["body"])
    _enqueue(delivery.pk)
    return delivery


@transaction.atomic
def webhook_event_emit(*, project: Project, event: str, payload: Mapping[str, Any]) -> list[WebhookDelivery]:
    """Record a delivery of ``event`` to each active webhook of ``project`` that receives it, and enqueue each
    once the surrounding transaction commits (an event of a rolled-back change is never sent)."""
    if event not in WebhookEvent.values:
        raise ValueError(f"not a webhook event: {event}")
    webhooks = [w for w in Webhook.objects.filter(project=project, is_active=True) if event in w.events]
    return [_delivery_create(webhook=w, event=event, data=payload) for w in webhooks]


@transaction.atomic
def webhook_send_test(*, webhook: Webhook) -> WebhookDelivery:
    """A ``webhook.test`` delivery to ``webhook`` (active or not), through the same queue, signing and log."""
    webhook_url_check(webhook.url)
    return _delivery_create(
        webhook=webhook, event=WEBHOOK_TEST_EVENT, data={"message": "A test delivery from Prefstack."}
    )


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send ``delivery``'s event again as a new delivery (a new id, the same data), logged beside the original."""
    webhook_url_check(delivery.webhook.url)
    data = json.loads(delivery.body)["data"] if delivery.body else {}
    return _delivery_create(webhook=delivery.webhook, event=delivery.event, data=data, redelivery_of=delivery)


# --- the events of the other services (one call each at the point where the state changes) -------------------


def snapshot_finished_emit(*, snapshot_id: int) -> None:
    """``snapshot.ready`` or ``snapshot.failed`` for a snapshot whose build just ended."""
    snapshot = Snapshot.objects.select_related("project").get(id=snapshot_id)
    event = SNAPSHOT_EVENTS.get(str(snapshot.status))
    if event is not None and event in snapshot.project.webhook_events:
        payload = {
            "snapshot": {"id": snapshot.pk, "number": snapshot.number, "status": snapshot.status},
            "counts": snapshot.counts,
            "content_hash": snapshot.content_hash,
            "error": snapshot.error.splitlines()[0] if snapshot.error else "",
        }
        webhook_event_emit(project=snapshot.project, event=event, payload=payload)


def import_finished_emit(*, project: Project, counts: Mapping[str, int]) -> None:
    """``import.finished`` with the import's counts; sent once the import's transaction commits."""
    if WebhookEvent.IMPORT_FINISHED in project.webhook_events:
        webhook_event_emit(project=project, event=WebhookEvent.IMPORT_FINISHED, payload={"counts": dict(counts)})


def comparison_completed_emit(*, project: Project, comparison_id: int) -> None:
    """``comparison.completed`` when the submission just made brings the comparison to its overlap (the project's
    overlap plus its extra annotators). Run under the comparison's lock; no query when nobody listens."""
    if WebhookEvent.COMPARISON_COMPLETED not in project.webhook_events:
        return
    comparison = Comparison.objects.only("id", "source_id", "extra_annotators").get(pk=comparison_id)
    needed = project.overlap + comparison.extra_annotators
    submitted = Assignment.objects.filter(comparison_id=comparison_id, status=AssignmentStatus.SUBMITTED).count()
    if submitted == needed:
        payload = {"comparison": {"id": comparison.pk, "source_id": comparison.source_id}, "annotations": submitted}
        webhook_event_emit(project=project, event=WebhookEvent.COMPARISON_COMPLETED, payload=payload)


# --- sending ----------------------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx surfaces as an HTTPError: a failed attempt


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@dataclass(frozen=True)
class _Outcome:
    code: int | None
    duration_ms: int
    error: str
    retryable: bool


def _post(delivery: WebhookDelivery) -> _Outcome:
    webhook = delivery.webhook
    try:
        webhook_url_check(webhook.url)
    except ValidationFailed as refused:
        return _Outcome(None, 0, refused.message, retryable=False)
    body = delivery.body.encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - webhook_url_check allowed only http(s) just above
        webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Prefstack-Event": delivery.event,
            "Prefstack-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: signature_header(secret=webhook.secret, timestamp=int(time.time()), body=body),
        },
    )
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=settings.PREFSTACK_WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read(65536)
            code = int(response.status)
    except urllib.error.HTTPError as answer:
        code = int(answer.code)
        answer.close()
    except (OSError, ValueError) as error:  # URLError, timeouts, refused connections, TLS errors
        elapsed = int((time.monotonic() - started) * 1000)
        return _Outcome(None, elapsed, f"{type(error).__name__}: {error}"[:ERROR_TEXT_CHARS], retryable=True)
    elapsed = int((time.monotonic() - started) * 1000)
    if 200 <= code < 300:
        return _Outcome(code, elapsed, "", retryable=False)
    return _Outcome(code, elapsed, f"HTTP {code}", retryable=code >= 500 or code in RETRYABLE_CODES)


def webhook_backoff_seconds(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: BACKOFF × 2^(attempts−1), at most an hour."""
    return int(min(settings.PREFSTACK_WEBHOOK_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery:
    """Make one attempt of a pending or retrying delivery and record its outcome; a delivery in any other state
    is returned untouched (a repeated task). Raises WebhookRetry when the attempt failed and may be retried."""
    claimed = WebhookDelivery.objects.filter(
        id=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    ).update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, last_attempt_at=timezone.now())
    delivery = WebhookDelivery.objects.select_related("webhook__project").filter(id=delivery_id).first()
    if delivery is None:
        raise NotFound(f"No webhook delivery {delivery_id}.")
    if not claimed:
        return delivery
    outcome = _post(delivery)  # no transaction is held while the receiver answers
    if outcome.code is not None and 200 <= outcome.code < 300:
        status = DeliveryStatus.SUCCEEDED
    elif outcome.retryable and delivery.attempts < settings.PREFSTACK_WEBHOOK_MAX_ATTEMPTS:
        status = DeliveryStatus.RETRYING
    else:
        status = DeliveryStatus.FAILED
    finished = None if status == DeliveryStatus.RETRYING else timezone.now()
    WebhookDelivery.objects.filter(id=delivery_id, status=DeliveryStatus.SENDING).update(
        status=status,
        response_code=outcome.code,
        duration_ms=outcome.duration_ms,
        error=outcome.error,
        finished_at=finished,
    )
    delivery.refresh_from_db()
    if status == DeliveryStatus.RETRYING:
        raise WebhookRetry(outcome.error, countdown=webhook_backoff_seconds(delivery.attempts))
    return delivery
