"""Comparisons over the API: import a file, list, read."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.common import PageInput, errors, paginate, paginated
from annotator.api.inputs import body_input, query_input, scope_field
from annotator.imports import IMPORT_FORMATS
from annotator.models import Role, Split
from annotator.selectors.comparisons import comparison_get, comparison_list
from annotator.selectors.projects import project_get_for_role
from annotator.services.imports import comparisons_import

# Leads and researchers load and read data; annotators see comparisons only through their workspace.
DATA_ROLES = {Role.LEAD, Role.RESEARCHER}


class TurnOutput(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant"])
    content = serializers.CharField()


class ComparisonOutput(serializers.Serializer):
    id = serializers.IntegerField()
    split = serializers.CharField(help_text='"train", "validation" or "" (decided at snapshot).')
    source = serializers.CharField()
    source_id = serializers.CharField()
    domain = serializers.CharField(source="prompt.domain", help_text='The prompt\'s domain; "" when not given.')
    language = serializers.CharField(source="prompt.language", help_text='The prompt\'s language; "" when not given.')
    prompt = TurnOutput(many=True, source="prompt.turns")
    response_1 = serializers.CharField(source="response_1.text")
    response_2 = serializers.CharField(source="response_2.text")
    metadata = serializers.DictField()
    is_gold = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class ComparisonFilter(PageInput):
    split = serializers.ChoiceField(
        choices=[*Split.values, ""], required=False, allow_blank=True, help_text='"" lists those without a split yet.'
    )
    source = serializers.CharField(required=False, max_length=64)
    domain = scope_field()
    language = scope_field()


class ComparisonListApi(APIView):
    @extend_schema(
        operation_id="comparisons_list",
        summary="The project's comparisons, filtered by split, source, domain or language.",
        parameters=[ComparisonFilter],
        responses={200: paginated(ComparisonOutput), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=DATA_ROLES)
        filters = query_input(ComparisonFilter, request)
        qs = comparison_list(
            project=project,
            split=filters.get("split"),
            source=filters.get("source"),
            domain=filters.get("domain"),
            language=filters.get("language"),
        )
        return paginate(queryset=qs, serializer_class=ComparisonOutput, request=request, view=self)


class ComparisonDetailApi(APIView):
    @extend_schema(
        operation_id="comparisons_retrieve",
        summary="One comparison.",
        responses={200: ComparisonOutput, **errors(401, 403, 404)},
    )
    def get(self, request: Request, slug: str, comparison_id: int) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=DATA_ROLES)
        return Response(ComparisonOutput(comparison_get(project=project, comparison_id=comparison_id)).data)


class ComparisonImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ComparisonImportInput"

        file = serializers.FileField(
            allow_empty_file=True,  # valid by the schema; the import says what an empty file holds
            help_text=(
                "JSONL, JSON, CSV or Parquet, optionally gzip-compressed; the type comes from the file name's "
                "extension (.jsonl, .json, .csv, .parquet, each optionally + .gz). A file whose name or content does "
                "not fit is refused with 422."
            ),
        )
        format = serializers.ChoiceField(choices=IMPORT_FORMATS)
        split = serializers.ChoiceField(choices=Split.values, required=False, help_text="For files that do not say.")
        domain = scope_field(help_text="For rows that do not say.")
        language = scope_field(help_text="For rows that do not say.")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ComparisonImportOutput"

        comparisons = serializers.IntegerField()
        annotations = serializers.IntegerField()
        source_labels = serializers.IntegerField()
        skipped_as_not_ratable = serializers.IntegerField()

    @extend_schema(
        operation_id="comparisons_import",
        summary="Import a file of comparisons, all or nothing.",
        request={"multipart/form-data": InputSerializer},
        responses={201: OutputSerializer, **errors(400, 401, 403, 404, 422)},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=DATA_ROLES)
        body = body_input(self.InputSerializer, request)
        result = comparisons_import(
            project=project,
            source=body["file"],
            fmt=body["format"],
            split=body.get("split"),
            domain=body.get("domain"),
            language=body.get("language"),
        )
        return Response(self.OutputSerializer(result).data, status=status.HTTP_201_CREATED)
