"""Annotations over the API: leads and researchers see every annotation of a project, annotators their own."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.common import PageInput, errors, paginate, paginated
from annotator.domain import PREFERENCE_STRENGTH_MAX, PREFERENCE_STRENGTH_MIN
from annotator.models import Role
from annotator.selectors.comparisons import annotation_list
from annotator.selectors.projects import project_get_for_role, project_roles

SEE_ALL_ROLES = {Role.LEAD, Role.RESEARCHER}


class AnnotationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    comparison = serializers.IntegerField(source="comparison_id")
    annotator = serializers.CharField(source="annotator.username")
    ratings = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text='{"1": {attribute: rating}, "2": {...}} for response 1 and 2.',
    )
    preference_strength = serializers.IntegerField(
        allow_null=True, help_text=f"{PREFERENCE_STRENGTH_MIN}..{PREFERENCE_STRENGTH_MAX}; negative: response 1 better."
    )
    not_ratable = serializers.BooleanField(
        help_text="The annotator judged the pair not ratable (no strength; HelpSteer2-Preference's -100)."
    )
    justification = serializers.CharField()
    flags = serializers.ListField(child=serializers.CharField())
    time_on_task_seconds = serializers.FloatField(allow_null=True)
    source = serializers.CharField(help_text="Imported from this dataset; empty for people.")
    is_current = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class AnnotationFilter(PageInput):
    comparison = serializers.IntegerField(required=False, min_value=1)
    include_superseded = serializers.BooleanField(required=False, default=False)


class AnnotationListApi(APIView):
    @extend_schema(
        operation_id="annotations_list",
        summary="Annotations of a project (annotators see only their own).",
        parameters=[AnnotationFilter],
        responses={200: paginated(AnnotationOutput), **errors(400, 401, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user)
        filters = AnnotationFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        sees_all = bool(project_roles(project=project, user=request.user) & SEE_ALL_ROLES)
        qs = annotation_list(
            project=project,
            annotator=None if sees_all else request.user,
            comparison_id=filters.validated_data.get("comparison"),
            include_superseded=filters.validated_data["include_superseded"],
        )
        return paginate(queryset=qs, serializer_class=AnnotationOutput, request=request, view=self)
