"""Snapshots over the API: create, list, status, card, download. Researchers and leads only."""

from __future__ import annotations

from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.common import CONFLICT, DOWNLOAD, PageInput, errors, paginate, paginated
from annotator.api.inputs import body_input, query_input
from annotator.errors import NotFound
from annotator.exports import EXPORT_FORMATS, SPLITS
from annotator.models import Snapshot, SnapshotStatus
from annotator.selectors.projects import project_get_for_role
from annotator.selectors.snapshots import (
    SNAPSHOT_ROLES,
    aggregation_rule_find,
    snapshot_get_for_role,
    snapshot_list,
)
from annotator.services.snapshots.files import FILE_TYPES, snapshot_bundle_key, snapshot_card, snapshot_export_key
from annotator.services.snapshots.lifecycle import snapshot_create
from annotator.storage import download_response

BUNDLE = "bundle"
_CONTENT_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "jsonl": "application/jsonl",
    "jsonl.gz": "application/gzip",
    "zip": "application/zip",
}


class RuleOutput(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.IntegerField()
    kind = serializers.CharField()


class SnapshotOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.SlugField(source="project.slug")
    number = serializers.IntegerField()
    name = serializers.CharField()
    rule = RuleOutput()
    rule_params = serializers.DictField(help_text="The rule as it was when the snapshot was created.")
    split_seed = serializers.IntegerField()
    validation_fraction = serializers.FloatField()
    include_judge_drafts = serializers.BooleanField(
        help_text="The LLM judge's drafts are in separate, model-made judge_* columns of the canonical items."
    )
    status = serializers.ChoiceField(choices=SnapshotStatus.choices)
    progress = serializers.FloatField(help_text="0..1")
    error = serializers.CharField()
    counts = serializers.DictField()
    agreement = serializers.DictField(help_text="Per measure: alpha, ci_low, ci_high, kappa, n_units, n_values.")
    content_hash = serializers.CharField(help_text="SHA-256 of the canonical items; empty until ready.")
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    def get_url(self, snapshot: Snapshot) -> str:
        return reverse("api-snapshots-detail", kwargs={"snapshot_id": snapshot.id})

    def get_download_url(self, snapshot: Snapshot) -> str:
        return reverse("api-snapshots-download", kwargs={"snapshot_id": snapshot.id})


class SnapshotFilter(PageInput):
    status = serializers.ChoiceField(choices=SnapshotStatus.choices, required=False)


class SnapshotListApi(APIView):
    @extend_schema(
        operation_id="snapshots_list",
        summary="The project's snapshots, newest first.",
        parameters=[SnapshotFilter],
        responses={200: paginated(SnapshotOutput), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(SNAPSHOT_ROLES))
        filters = query_input(SnapshotFilter, request)
        qs = snapshot_list(project=project, status=filters.get("status"))
        return paginate(queryset=qs, serializer_class=SnapshotOutput, request=request, view=self)


class SnapshotCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SnapshotCreateInput"

        rule = serializers.SlugField(
            required=False, help_text="Aggregation rule name (newest version); default helpsteer2."
        )
        name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
        split_seed = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1, default=0)
        validation_fraction = serializers.FloatField(required=False, min_value=0.0, max_value=0.99, default=0.05)
        include_judge_drafts = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Add the LLM judge's latest drafts as separate model-made columns (never human labels).",
        )

    @extend_schema(
        operation_id="snapshots_create",
        summary="Cut a snapshot; it builds in the background (poll its status).",
        request=InputSerializer,
        responses={202: SnapshotOutput, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(SNAPSHOT_ROLES))
        data = body_input(self.InputSerializer, request)
        rule = aggregation_rule_find(name=data.get("rule"))
        if data.get("rule") and rule is None:
            raise NotFound(f"No aggregation rule named {data['rule']!r}.", extra={"fields": {"rule": "unknown"}})
        snapshot = snapshot_create(
            project=project,
            user=request.user,
            rule=rule,
            name=data["name"],
            split_seed=data["split_seed"],
            validation_fraction=data["validation_fraction"],
            include_judge_drafts=data["include_judge_drafts"],
        )
        return Response(SnapshotOutput(snapshot).data, status=status.HTTP_202_ACCEPTED)


class SnapshotDetailApi(APIView):
    @extend_schema(
        operation_id="snapshots_retrieve",
        summary="A snapshot's status, progress, counts and agreement.",
        responses={200: SnapshotOutput, **errors(401, 403, 404)},
    )
    def get(self, request: Request, snapshot_id: int) -> Response:
        return Response(SnapshotOutput(snapshot_get_for_role(snapshot_id=snapshot_id, user=request.user)).data)


class SnapshotCardApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SnapshotCardOutput"

        markdown = serializers.CharField(help_text="README.md: Hugging Face dataset card with YAML front matter.")

    @extend_schema(
        operation_id="snapshots_card",
        summary="The snapshot's dataset card (markdown).",
        responses={200: OutputSerializer, **errors(401, 403, 404), **CONFLICT},
    )
    def get(self, request: Request, snapshot_id: int) -> Response:
        snapshot = snapshot_get_for_role(snapshot_id=snapshot_id, user=request.user)
        return Response({"markdown": snapshot_card(snapshot=snapshot)})


class DownloadInput(serializers.Serializer):
    # Not "format": DRF reads ?format= for content negotiation.
    export = serializers.ChoiceField(
        choices=[*EXPORT_FORMATS, BUNDLE], default=BUNDLE, help_text="An export format, or the zip bundle of all."
    )
    file_type = serializers.ChoiceField(choices=FILE_TYPES, default="parquet", help_text="Ignored for the bundle.")
    split = serializers.ChoiceField(
        choices=SPLITS, required=False, help_text="One split's file; omitted: all splits with a split column."
    )


class SnapshotDownloadApi(APIView):
    @extend_schema(
        operation_id="snapshots_download",
        summary="Download one export format of a ready snapshot, or the bundle: the file, or 302 to a presigned URL.",
        parameters=[DownloadInput],
        responses={
            **{
                (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file; its type says which.")
                for content_type in _CONTENT_TYPES.values()
            },
            **errors(400, 401, 403, 404),
            **CONFLICT,
            **DOWNLOAD,
        },
    )
    def get(self, request: Request, snapshot_id: int) -> HttpResponseBase:
        snapshot = snapshot_get_for_role(snapshot_id=snapshot_id, user=request.user)
        data = query_input(DownloadInput, request)
        stem = f"{snapshot.project.slug}-v{snapshot.number}"
        if data["export"] == BUNDLE:
            key = snapshot_bundle_key(snapshot=snapshot)
            name, content_type = f"{stem}.zip", _CONTENT_TYPES["zip"]
        else:
            key = snapshot_export_key(
                snapshot=snapshot, fmt=data["export"], file_type=data["file_type"], split=data.get("split")
            )
            part = f"-{data['split']}" if data.get("split") else ""
            name = f"{stem}-{data['export']}{part}.{data['file_type']}"
            content_type = _CONTENT_TYPES[data["file_type"]]
        return download_response(key, filename=name, content_type=content_type)
