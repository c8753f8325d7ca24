"""Projects over the API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.common import PageInput, errors, paginate, paginated
from annotator.api.inputs import body_input
from annotator.models import QueueOrder, Role
from annotator.selectors.projects import (
    project_attribute_list,
    project_get_for_role,
    project_list_for_user,
    project_roles,
)
from annotator.services.projects import project_update

# ---------------------------------------------------------------------------------------------------------------
# Projects
# ---------------------------------------------------------------------------------------------------------------


class ProjectOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    licence = serializers.CharField()
    overlap = serializers.IntegerField()
    roles = serializers.ListField(child=serializers.CharField(), help_text="Your roles in the project.")
    comparisons = serializers.IntegerField()


class AttributeOutput(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    scale_min = serializers.IntegerField()
    scale_max = serializers.IntegerField()
    level_descriptions = serializers.ListField(child=serializers.CharField())


class ProjectDetailOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    guidelines = serializers.CharField()
    licence = serializers.CharField()
    overlap = serializers.IntegerField()
    queue_order = serializers.ChoiceField(choices=QueueOrder.choices)
    roles = serializers.ListField(child=serializers.CharField())
    attributes = AttributeOutput(many=True)
    created_at = serializers.DateTimeField()


class ProjectListApi(APIView):
    @extend_schema(
        operation_id="projects_list",
        summary="The projects you belong to, with your roles.",
        parameters=[PageInput],
        responses={200: paginated(ProjectOutput), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        rows = [
            {
                "slug": s.project.slug,
                "name": s.project.name,
                "licence": s.project.licence,
                "overlap": s.project.overlap,
                "roles": list(s.roles),
                "comparisons": s.comparisons,
            }
            for s in project_list_for_user(user=request.user)
        ]
        return paginate(queryset=rows, serializer_class=ProjectOutput, request=request, view=self)


class ProjectDetailApi(APIView):
    @extend_schema(
        operation_id="projects_retrieve",
        summary="One project: guidelines and attributes with their scale levels.",
        responses={200: ProjectDetailOutput, **errors(401, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user)
        data = {
            "slug": project.slug,
            "name": project.name,
            "guidelines": project.guidelines,
            "licence": project.licence,
            "overlap": project.overlap,
            "queue_order": project.queue_order,
            "roles": sorted(project_roles(project=project, user=request.user)),
            "attributes": project_attribute_list(project=project),
            "created_at": project.created_at,
        }
        return Response(ProjectDetailOutput(data).data)


class ProjectQueueOrderApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProjectQueueOrderInput"

        queue_order = serializers.ChoiceField(
            choices=QueueOrder.choices, help_text="informative: highest stored priority first (active collection)."
        )

    @extend_schema(
        operation_id="projects_queue_order",
        summary="Set the order in which annotators get fresh comparisons (leads only).",
        request=InputSerializer,
        responses={200: InputSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles={Role.LEAD})
        data = body_input(self.InputSerializer, request)
        project = project_update(project=project, queue_order=data["queue_order"])
        return Response({"queue_order": project.queue_order})
