"""What both apps' API modules share: the error schema, limit/offset pagination and its query parameters.

The DRF exception handler that renders ``{"message", "code", "extra"}`` is :mod:`annotator.api.errors`; this module
only describes it for the schema.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.inputs import query_input
from annotator.domain import INT64_MAX


class ErrorOutput(serializers.Serializer):
    """Every error: ``{"message", "code", "extra"}`` (annotator.api.errors)."""

    message = serializers.CharField()
    code = serializers.CharField()
    extra = serializers.DictField()


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutput, description=description)


ERRORS: dict[int, OpenApiResponse] = {
    400: _error(
        "Malformed body or query parameter (extra.fields names them). With code invalid_combination or does_not_fit, "
        "fields each valid alone that cannot go together, or with the project or the queue (a rule no schema states)."
    ),
    401: _error("Not authenticated."),
    403: _error("Authenticated but without the role this needs."),
    404: _error("No such object, or not a member of its project."),
    422: _error(
        "The request is well formed but the uploaded file's content cannot be used (extra names the line or row, "
        "the column and what was expected)."
    ),
}
CONFLICT = {409: _error("The object's state forbids this (e.g. the snapshot is not ready).")}
# Every file download: 200 with the file (filesystem storage) or 302 to it (object storage); clients follow redirects.
DOWNLOAD: dict[int, OpenApiResponse] = {
    302: OpenApiResponse(
        description="With an object store (S3, MinIO, ...): a redirect to a presigned URL of the file that expires "
        "in PREFSTACK_STORAGE_URL_EXPIRY_SECONDS; follow it (without this API's credentials). With the filesystem "
        "storage the answer is 200 with the file."
    ),
    503: _error("The file store is unreachable or refused the server's credentials (code storage_unavailable)."),
}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: ERRORS[status] for status in statuses}


_paginated_cache: dict[type[serializers.Serializer], type[serializers.Serializer]] = {}


def paginated(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The serializer of a limit/offset page of ``item`` (for the schema)."""
    if item not in _paginated_cache:
        name = item.__name__.removesuffix("Serializer").removesuffix("Output")
        _paginated_cache[item] = type(
            f"Paginated{name}List",
            (serializers.Serializer,),
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": item(many=True),
            },
        )
    return _paginated_cache[item]


# Ids are 64-bit in the database: a larger one in a query or body is a 400, never an overflow in SQL.
MAX_ID = INT64_MAX
# Past any table's end (and far from the 64-bit limit of SQL's OFFSET).
MAX_OFFSET = 10**9


class PageInput(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)


def paginate(
    *,
    queryset: QuerySet[Any] | list[Any],
    serializer_class: type[serializers.Serializer],
    request: Request,
    view: APIView,
) -> Response:
    """A limit/offset page of ``queryset`` (query parameters validated first: a bad one is a 400, never a 500)."""
    query_input(PageInput, request)
    paginator = LimitOffsetPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context={"request": request}).data)
