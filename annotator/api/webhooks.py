"""A project's webhooks over the API: list, create, update, rotate the secret, delete, send a test, read the
delivery log, redeliver. Leads only (others 403, non-members 404), through the same services as the webhooks page.

The secret is in the answer of create and rotate only; the URL and events are checked by the services (codes
``webhook_url_not_allowed`` and ``webhook_event_unknown``), so the page and the API refuse alike.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.common import MAX_ID, ErrorOutput, PageInput, errors, paginate, paginated
from annotator.api.inputs import body_input, query_input
from annotator.models import DeliveryStatus, Project, Role, Webhook, WebhookEvent
from annotator.selectors.projects import project_get_for_role
from annotator.selectors.webhooks import (
    webhook_delivery_get_in_project,
    webhook_delivery_queryset,
    webhook_get_in_project,
    webhook_list,
)
from annotator.services.webhooks import (
    webhook_create,
    webhook_delete,
    webhook_redeliver,
    webhook_secret_rotate,
    webhook_send_test,
    webhook_update,
)

WEBHOOK_ROLES = {Role.LEAD}
URL_MAX_LENGTH = int(Webhook._meta.get_field("url").max_length or 0)  # the model's, one home


def _lead_project(request: Request, slug: str) -> Project:
    return project_get_for_role(slug=slug, user=request.user, roles=WEBHOOK_ROLES)


# An event is checked by the service (one rule, one code for page and API); the schema still lists the names.
@extend_schema_field({"type": "string", "enum": list(WebhookEvent.values)})
class EventField(serializers.CharField):
    pass


@extend_schema_field({"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": URL_MAX_LENGTH})
class WebhookUrlField(serializers.CharField):
    """Checked by the service (scheme, host, addresses: code webhook_url_not_allowed, 422)."""


class WebhookOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=EventField())
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookSecretOutput(WebhookOutput):
    secret = serializers.CharField(help_text="Key of the HMAC-SHA256 signature; shown here only (create, rotate).")


class WebhookDeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    webhook = serializers.IntegerField(source="webhook_id")
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    response_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True, help_text="Of the last attempt.")
    error = serializers.CharField()
    redelivery_of = serializers.IntegerField(source="redelivery_of_id", allow_null=True)
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


_WEBHOOK_ERRORS = {
    **errors(400, 401, 403, 404),
    422: OpenApiResponse(
        ErrorOutput,
        description="The URL is refused (code webhook_url_not_allowed): not http(s), or its host resolves to an "
        "internal address the admin did not allow.",
    ),
}


class WebhookListApi(APIView):
    @extend_schema(
        operation_id="webhooks_list",
        summary="The project's webhooks (without their secrets).",
        parameters=[PageInput],
        responses={200: paginated(WebhookOutput), **_WEBHOOK_ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = _lead_project(request, slug)
        return paginate(
            queryset=webhook_list(project=project), serializer_class=WebhookOutput, request=request, view=self
        )


class WebhookCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WebhookCreateInput"

        url = WebhookUrlField(
            max_length=URL_MAX_LENGTH, help_text="http(s); its host must resolve to public addresses."
        )
        events = serializers.ListField(child=EventField(), min_length=1, help_text="At least one event name.")

    @extend_schema(
        operation_id="webhooks_create",
        summary="Add a webhook; the answer holds its generated secret (shown once).",
        request=InputSerializer,
        responses={201: WebhookSecretOutput, **_WEBHOOK_ERRORS},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = _lead_project(request, slug)
        data = body_input(self.InputSerializer, request)
        webhook = webhook_create(project=project, url=data["url"], events=data["events"])
        return Response(WebhookSecretOutput(webhook).data, status=status.HTTP_201_CREATED)


class WebhookUpdateApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WebhookUpdateInput"

        url = WebhookUrlField(required=False, max_length=URL_MAX_LENGTH)
        events = serializers.ListField(child=EventField(), required=False, min_length=1)
        is_active = serializers.BooleanField(required=False, help_text="false pauses the webhook.")

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change a webhook's URL, events or whether it is active (fields left out stay as they are).",
        request=InputSerializer,
        responses={200: WebhookOutput, **_WEBHOOK_ERRORS},
    )
    def post(self, request: Request, slug: str, webhook_id: int) -> Response:
        project = _lead_project(request, slug)
        webhook = webhook_get_in_project(project=project, webhook_id=webhook_id)
        data = body_input(self.InputSerializer, request)
        webhook = webhook_update(
            webhook=webhook, url=data.get("url"), events=data.get("events"), is_active=data.get("is_active")
        )
        return Response(WebhookOutput(webhook).data)


class WebhookSecretRotateApi(APIView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Replace a webhook's secret; the answer holds the new one (shown once).",
        request=None,
        responses={200: WebhookSecretOutput, **errors(401, 403, 404)},
    )
    def post(self, request: Request, slug: str, webhook_id: int) -> Response:
        project = _lead_project(request, slug)
        webhook = webhook_secret_rotate(webhook=webhook_get_in_project(project=project, webhook_id=webhook_id))
        return Response(WebhookSecretOutput(webhook).data)


class WebhookDeleteApi(APIView):
    @extend_schema(
        operation_id="webhooks_delete",
        summary="Delete a webhook and its delivery log.",
        request=None,
        responses={204: None, **errors(401, 403, 404)},
    )
    def post(self, request: Request, slug: str, webhook_id: int) -> Response:
        project = _lead_project(request, slug)
        webhook_delete(webhook=webhook_get_in_project(project=project, webhook_id=webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSendTestApi(APIView):
    @extend_schema(
        operation_id="webhooks_send_test",
        summary="Queue a webhook.test delivery to the webhook (active or not); follow it in the delivery log.",
        request=None,
        responses={202: WebhookDeliveryOutput, **_WEBHOOK_ERRORS},
    )
    def post(self, request: Request, slug: str, webhook_id: int) -> Response:
        project = _lead_project(request, slug)
        delivery = webhook_send_test(webhook=webhook_get_in_project(project=project, webhook_id=webhook_id))
        return Response(WebhookDeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryFilter(PageInput):
    webhook = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="One webhook's.")


class WebhookDeliveryListApi(APIView):
    @extend_schema(
        operation_id="webhook_deliveries_list",
        summary="The project's delivery log, newest first (status, attempts, last response code, error).",
        parameters=[DeliveryFilter],
        responses={200: paginated(WebhookDeliveryOutput), **_WEBHOOK_ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = _lead_project(request, slug)
        filters = query_input(DeliveryFilter, request)
        webhook = None
        if "webhook" in filters:
            webhook = webhook_get_in_project(project=project, webhook_id=filters["webhook"])
        queryset = webhook_delivery_queryset(project=project, webhook=webhook)
        return paginate(queryset=queryset, serializer_class=WebhookDeliveryOutput, request=request, view=self)


class WebhookRedeliverApi(APIView):
    @extend_schema(
        operation_id="webhook_deliveries_redeliver",
        summary="Send a delivery's event again, as a new delivery (new id, same data) pointing at the original.",
        request=None,
        responses={202: WebhookDeliveryOutput, **_WEBHOOK_ERRORS},
    )
    def post(self, request: Request, slug: str, delivery_id: int) -> Response:
        project = _lead_project(request, slug)
        delivery = webhook_redeliver(delivery=webhook_delivery_get_in_project(project=project, delivery_id=delivery_id))
        return Response(WebhookDeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
