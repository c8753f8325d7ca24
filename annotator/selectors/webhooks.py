"""Reads of a project's webhooks and their delivery log."""

from __future__ import annotations

from django.db.models import QuerySet

from annotator.errors import NotFound
from annotator.models import Project, Webhook, WebhookDelivery

DELIVERY_LOG_SIZE = 50


def webhook_list(*, project: Project) -> QuerySet[Webhook]:
    return Webhook.objects.filter(project=project).order_by("id")


def webhook_get_in_project(*, project: Project, webhook_id: int) -> Webhook:
    """The webhook ``webhook_id`` of ``project``; NotFound for another project's or none."""
    webhook = Webhook.objects.select_related("project").filter(project=project, id=webhook_id).first()
    if webhook is None:
        raise NotFound("No such webhook in this project.")
    return webhook


def webhook_delivery_list(*, project: Project, limit: int = DELIVERY_LOG_SIZE) -> list[WebhookDelivery]:
    """The project's latest deliveries, newest first, with their webhook (one query)."""
    return list(
        WebhookDelivery.objects.filter(webhook__project=project)
        .select_related("webhook")
        .defer("body")
        .order_by("-id")[:limit]
    )


def webhook_delivery_get_in_project(*, project: Project, delivery_id: int) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.select_related("webhook__project")
        .filter(webhook__project=project, id=delivery_id)
        .first()
    )
    if delivery is None:
        raise NotFound("No such delivery in this project.")
    return delivery


def webhook_delivery_queryset(*, project: Project, webhook: Webhook | None = None) -> QuerySet[WebhookDelivery]:
    """The project's deliveries (of ``webhook`` only, when given), newest first, without their bodies (for the
    API's pages)."""
    deliveries = WebhookDelivery.objects.filter(webhook__project=project)
    if webhook is not None:
        deliveries = deliveries.filter(webhook=webhook)
    return deliveries.defer("body").order_by("-id")
