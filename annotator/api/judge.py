"""The LLM judge over the API: launch a run (leads), list runs and drafts, and the calibration report. Leads and
researchers only: annotators get 403, so the drafts stay blind to them."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.common import CONFLICT, MAX_ID, PageInput, errors, paginate, paginated
from annotator.api.inputs import query_input
from annotator.errors import NotFound
from annotator.models import JudgeDraftStatus, JudgeRun, JudgeRunStatus, Project, Role
from annotator.selectors.judge import (
    JUDGE_ROLES,
    calibration_as_dict,
    judge_calibration,
    judge_draft_list,
    judge_run_get,
    judge_run_list,
)
from annotator.selectors.projects import project_get_for_role
from annotator.services.judge import judge_run_create


class JudgeRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=JudgeRunStatus.choices)
    endpoint_name = serializers.CharField()
    model_id = serializers.CharField()
    items_total = serializers.IntegerField()
    items_done = serializers.IntegerField()
    items_failed = serializers.IntegerField()
    error = serializers.CharField()
    attempt = serializers.IntegerField(help_text="Starts of the run; a worker that died costs one.")
    requeue_reason = serializers.CharField(
        help_text="Why the stale-run sweep last queued the run again (empty: never)."
    )
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class JudgeDraftOutput(serializers.Serializer):
    comparison = serializers.IntegerField(source="comparison_id")
    status = serializers.ChoiceField(choices=JudgeDraftStatus.choices)
    ratings = serializers.DictField(help_text='{"1": {attribute: value}, "2": {...}} (response 1 and 2).')
    preference_strength = serializers.IntegerField(allow_null=True, help_text="-3..3, negative: response 1 better.")
    confidence = serializers.FloatField(allow_null=True)
    reason = serializers.CharField()
    failure = serializers.CharField(help_text="Why the item has no draft (off the schema, a timeout …).")


class RunFilter(PageInput):
    run = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="Default: latest succeeded."
    )


def _run(project: Project, run_id: int | None) -> JudgeRun:
    run = judge_run_get(project=project, run_id=run_id)
    if run is None:
        raise NotFound("No such judge run." if run_id else "The judge has no succeeded run yet.")
    return run


class JudgeRunListApi(APIView):
    @extend_schema(
        operation_id="judge_runs_list",
        summary="The project's judge runs, newest first.",
        parameters=[PageInput],
        responses={200: paginated(JudgeRunOutput), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(JUDGE_ROLES))
        return paginate(queryset=judge_run_list(project=project), serializer_class=JudgeRunOutput, request=request,
                        view=self)  # fmt: skip


class JudgeRunCreateApi(APIView):
    @extend_schema(
        operation_id="judge_runs_create",
        summary="Run the project's judge over all its comparisons (leads); poll the run list for its status.",
        request=None,
        responses={202: JudgeRunOutput, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles={Role.LEAD})
        run = judge_run_create(project=project, user=request.user)
        return Response(JudgeRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class JudgeDraftListApi(APIView):
    @extend_schema(
        operation_id="judge_drafts_list",
        summary="A judge run's drafts (model-made labels), by comparison; failed items carry the reason.",
        parameters=[RunFilter],
        responses={200: paginated(JudgeDraftOutput), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(JUDGE_ROLES))
        filters = query_input(RunFilter, request)
        run = _run(project, filters.get("run"))
        return paginate(queryset=judge_draft_list(run=run), serializer_class=JudgeDraftOutput, request=request,
                        view=self)  # fmt: skip


class JudgeCalibrationApi(APIView):
    @extend_schema(
        operation_id="judge_calibration",
        summary="The judge against the aggregated human labels: per attribute and for the preference, ordinal alpha "
        "and quadratic kappa with 95% bootstrap intervals, confusion matrices, preference accuracy, and ECE with the "
        "reliability bins when the judge gave confidences.",
        parameters=[RunFilter],
        responses={200: OpenApiTypes.OBJECT, **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(JUDGE_ROLES))
        filters = query_input(RunFilter, request)
        return Response(calibration_as_dict(judge_calibration(run=_run(project, filters.get("run")))))
