"""Training jobs, evaluations and reward-model scoring over the API. Researchers and leads of the project only
(annotators 403, non-members 404, anonymous 401), as for snapshots. One APIView per operation."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.projects import CONFLICT, ErrorOutput, PageInput, errors, paginate, paginated
from annotator.errors import ValidationFailed
from annotator.selectors.projects import project_get_for_role
from annotator.selectors.snapshots import snapshot_get_for_role
from rm_jobs.models import Evaluation, EvaluationKind, EvaluationStatus, JobStatus, Objective, Queue, TrainingJob
from rm_jobs.selectors.jobs import (
    JOB_ROLES,
    job_evaluations,
    training_job_comparison,
    training_job_get_for_role,
    training_job_list,
    training_job_series,
)
from rm_jobs.services.evaluations import disagreements_send_to_review, evaluation_create
from rm_jobs.services.jobs import (
    HyperParameters,
    base_model_choices,
    training_job_cancel,
    training_job_checkpoint_zip,
    training_job_create,
    training_jobs_sweep_stale,
)
from rm_jobs.services.scoring import reward_model_score
from rm_jobs.training.config import BOUNDS, PRECISIONS

TOO_LONG = {
    413: OpenApiResponse(ErrorOutput, description="Input too long (code input_too_long; extra names the item)."),
}

# ---------------------------------------------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------------------------------------------


def _bounded(name: str) -> list[Any]:
    """A validator enforcing ``BOUNDS[name]``, the range the form and the job service use too."""
    bound = BOUNDS[name]

    def validate(value: Any) -> None:
        if value is not None and not bound.contains(value):
            raise serializers.ValidationError(bound.message())

    return [validate]


class HyperParametersSerializer(serializers.Serializer):
    class Meta:
        ref_name = "TrainingHyperParameters"

    learning_rate = serializers.FloatField(
        required=False, default=HyperParameters.learning_rate, validators=_bounded("learning_rate")
    )
    batch_size = serializers.IntegerField(
        required=False, default=HyperParameters.batch_size, validators=_bounded("batch_size")
    )
    epochs = serializers.IntegerField(required=False, default=HyperParameters.epochs, validators=_bounded("epochs"))
    max_steps = serializers.IntegerField(
        required=False, allow_null=True, default=None, validators=_bounded("max_steps")
    )
    max_length = serializers.IntegerField(
        required=False, default=HyperParameters.max_length, validators=_bounded("max_length")
    )
    warmup_ratio = serializers.FloatField(
        required=False, default=HyperParameters.warmup_ratio, validators=_bounded("warmup_ratio")
    )
    seed = serializers.IntegerField(required=False, default=HyperParameters.seed, validators=_bounded("seed"))
    save_every_steps = serializers.IntegerField(
        required=False, default=HyperParameters.save_every_steps, validators=_bounded("save_every_steps")
    )
    eval_every_steps = serializers.IntegerField(
        required=False, allow_null=True, default=None, validators=_bounded("eval_every_steps")
    )
    margin_scale = serializers.FloatField(
        required=False, default=HyperParameters.margin_scale, validators=_bounded("margin_scale")
    )
    center_rewards_coefficient = serializers.FloatField(
        required=False, allow_null=True, default=None, validators=_bounded("center_rewards_coefficient")
    )
    expo_alpha = serializers.FloatField(
        required=False, default=HyperParameters.expo_alpha, validators=_bounded("expo_alpha")
    )
    num_threads = serializers.IntegerField(
        required=False, allow_null=True, default=None, validators=_bounded("num_threads")
    )
    precision = serializers.ChoiceField(choices=list(PRECISIONS), required=False, default=HyperParameters.precision)
    gradient_checkpointing = serializers.BooleanField(required=False, default=False)
    lora_r = serializers.IntegerField(
        required=False, default=0, validators=_bounded("lora_r"), help_text="LoRA rank; 0 = full fine-tuning."
    )
    lora_alpha = serializers.FloatField(
        required=False, allow_null=True, default=None, validators=_bounded("lora_alpha"), help_text="Empty: 2 x rank."
    )
    lora_dropout = serializers.FloatField(required=False, default=0.0, validators=_bounded("lora_dropout"))
    qlora = serializers.BooleanField(required=False, default=False, help_text="4-bit base; GPU queue only.")


class TrainingJobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.SlugField(source="project.slug")
    snapshot = serializers.IntegerField(source="snapshot_id", help_text="Snapshot id (lineage).")
    snapshot_number = serializers.IntegerField(source="snapshot.number")
    objective = serializers.ChoiceField(choices=Objective.choices)
    base_model = serializers.CharField()
    queue = serializers.ChoiceField(choices=Queue.choices)
    status = serializers.ChoiceField(choices=JobStatus.choices)
    attempt = serializers.IntegerField()
    worker = serializers.CharField()
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    cancel_requested = serializers.BooleanField()
    stage = serializers.IntegerField()
    step = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    hyperparameters = serializers.DictField(source="config.hyperparameters")
    memory_estimate = serializers.DictField(
        source="config.memory_estimate",
        default=dict,
        help_text="The planner's peak memory per GPU in GiB (weights, gradients, optimizer, activations, overhead, "
        "total), strategy, precision, parameters and the queue's limit_gib.",
    )
    summary = serializers.DictField(help_text="Per stage: steps, train loss, wall_s, tokens_per_s, validation.")
    error = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    checkpoint_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    def get_url(self, job: TrainingJob) -> str:
        return reverse("api-training-jobs-detail", kwargs={"job_id": job.id})

    def get_checkpoint_url(self, job: TrainingJob) -> str | None:
        if not job.checkpoint_path:
            return None
        return reverse("api-training-jobs-checkpoint", kwargs={"job_id": job.id})


class TrainingJobDetailOutput(TrainingJobOutput):
    config = serializers.DictField(help_text="Objective, base model, hyper-parameters and each stage's TrainConfig.")
    log = serializers.CharField()


class EvaluationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    job = serializers.IntegerField(source="job_id")
    kind = serializers.ChoiceField(choices=EvaluationKind.choices)
    snapshot = serializers.IntegerField(source="snapshot_id", allow_null=True)
    status = serializers.ChoiceField(choices=EvaluationStatus.choices)
    metrics = serializers.DictField(help_text="accuracy, mean_margin, num_pairs; rmse/pearson; per_subset.")
    disagreements = serializers.ListField(
        child=serializers.DictField(),
        help_text="comparison_id, human_preferred (1|2), human_strength, model_margin; most confident first.",
    )
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class JobFilter(PageInput):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)


# ---------------------------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------------------------


class TrainingJobListApi(APIView):
    @extend_schema(
        operation_id="training_jobs_list",
        summary="The project's training jobs, newest first.",
        parameters=[JobFilter],
        responses={200: paginated(TrainingJobOutput), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(JOB_ROLES))
        filters = JobFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        training_jobs_sweep_stale(project_id=project.id)
        qs = training_job_list(project=project, status=filters.validated_data.get("status"))
        return paginate(queryset=qs, serializer_class=TrainingJobOutput, request=request, view=self)


class TrainingJobCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TrainingJobCreateInput"

        snapshot = serializers.IntegerField(help_text="Id of a ready snapshot of the project.")
        objective = serializers.ChoiceField(choices=Objective.choices)
        base_model = serializers.CharField(required=False, help_text="A name from GET /reward-models/base-models/.")
        queue = serializers.ChoiceField(choices=Queue.choices, default=Queue.DEFAULT)
        hyperparameters = HyperParametersSerializer(required=False)

    @extend_schema(
        operation_id="training_jobs_create",
        summary="Launch a training job on a ready snapshot; it runs on a worker of the queue (poll its status).",
        request=InputSerializer,
        responses={202: TrainingJobDetailOutput, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(JOB_ROLES))
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        snapshot = snapshot_get_for_role(snapshot_id=data["snapshot"], user=request.user)
        if snapshot.project_id != project.id:
            raise ValidationFailed(
                "That snapshot belongs to another project.", extra={"fields": {"snapshot": "Not here."}}
            )
        job = training_job_create(
            snapshot=snapshot,
            user=request.user,
            objective=data["objective"],
            base_model=data.get("base_model"),
            queue=data["queue"],
            hyperparameters=dict(data.get("hyperparameters") or {}),
        )
        job = training_job_get_for_role(job_id=job.id, user=request.user)
        return Response(TrainingJobDetailOutput(job).data, status=status.HTTP_202_ACCEPTED)


class TrainingJobDetailApi(APIView):
    @extend_schema(
        operation_id="training_jobs_retrieve",
        summary="A job's status, progress, config, summary and log.",
        responses={200: TrainingJobDetailOutput, **errors(401, 403, 404)},
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = training_job_get_for_role(job_id=job_id, user=request.user)
        if job.is_active:
            training_jobs_sweep_stale(project_id=job.project_id)
            job.refresh_from_db()
        return Response(TrainingJobDetailOutput(job).data)


class TrainingJobCancelApi(APIView):
    @extend_schema(
        operation_id="training_jobs_cancel",
        summary="Cancel: a queued job at once, a running one at its next step (its last checkpoint is kept).",
        request=None,
        responses={202: TrainingJobOutput, **errors(401, 403, 404), **CONFLICT},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = training_job_get_for_role(job_id=job_id, user=request.user)
        job = training_job_cancel(job=job, user=request.user)
        return Response(TrainingJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class MetricPointSerializer(serializers.Serializer):
    x = serializers.IntegerField(help_text="Optimizer step, counted across stages.")
    y = serializers.FloatField()


class MetricSeriesSerializer(serializers.Serializer):
    loss = MetricPointSerializer(many=True)
    accuracy = MetricPointSerializer(many=True)
    val_loss = MetricPointSerializer(many=True)
    val_accuracy = MetricPointSerializer(many=True)


class TrainingJobMetricsApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TrainingJobMetricsOutput"

        job = serializers.IntegerField()
        status = serializers.ChoiceField(choices=JobStatus.choices)
        step = serializers.IntegerField()
        total_steps = serializers.IntegerField()
        stage = serializers.IntegerField()
        stages = serializers.IntegerField()
        series = MetricSeriesSerializer()
        last_id = serializers.IntegerField()

    @extend_schema(
        operation_id="training_jobs_metrics",
        summary="The job's loss and accuracy over steps (train, and validation passes).",
        responses={200: OutputSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = training_job_get_for_role(job_id=job_id, user=request.user)
        return Response(self.OutputSerializer(training_job_series(job=job)).data)


class TrainingJobCheckpointApi(APIView):
    @extend_schema(
        operation_id="training_jobs_checkpoint",
        summary="The trained model as a zip; unzipped it loads with from_pretrained.",
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The model directory, zipped."),
            **errors(401, 403, 404),
            **CONFLICT,
        },
    )
    def get(self, request: Request, job_id: int) -> FileResponse:
        job = training_job_get_for_role(job_id=job_id, user=request.user)
        path = training_job_checkpoint_zip(job=job)
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=f"reward-model-job-{job.id}.zip",
            content_type="application/zip",
        )


# ---------------------------------------------------------------------------------------------------------------
# Evaluations
# ---------------------------------------------------------------------------------------------------------------


class EvaluationListApi(APIView):
    @extend_schema(
        operation_id="evaluations_list",
        summary="A job's evaluations, newest first.",
        responses={200: EvaluationOutput(many=True), **errors(401, 403, 404)},
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = training_job_get_for_role(job_id=job_id, user=request.user)
        return Response(EvaluationOutput(job_evaluations(job=job), many=True).data)


class EvaluationCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "EvaluationCreateInput"

        snapshot = serializers.IntegerField(required=False, help_text="Evaluate on this snapshot's validation split.")
        file = serializers.FileField(
            required=False, help_text="Or a RewardBench-format JSONL file (prompt, chosen, rejected, subset)."
        )

    @extend_schema(
        operation_id="evaluations_create",
        summary="Evaluate a succeeded job on another snapshot's validation split or on a RewardBench-format file.",
        request={"multipart/form-data": InputSerializer, "application/json": InputSerializer},
        responses={202: EvaluationOutput, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = training_job_get_for_role(job_id=job_id, user=request.user)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        snapshot_id = body.validated_data.get("snapshot")
        snapshot = snapshot_get_for_role(snapshot_id=snapshot_id, user=request.user) if snapshot_id else None
        evaluation = evaluation_create(
            job=job, user=request.user, snapshot=snapshot, reward_bench_file=body.validated_data.get("file")
        )
        return Response(EvaluationOutput(evaluation).data, status=status.HTTP_202_ACCEPTED)


def _evaluation_for(request: Request, evaluation_id: int) -> Evaluation:
    from annotator.errors import NotFound

    evaluation = Evaluation.objects.select_related("job").filter(id=evaluation_id).first()
    if evaluation is None:
        raise NotFound("No such evaluation.")
    training_job_get_for_role(job_id=evaluation.job_id, user=request.user)
    return evaluation


class EvaluationDetailApi(APIView):
    @extend_schema(
        operation_id="evaluations_retrieve",
        summary="An evaluation's status, metrics and disagreements.",
        responses={200: EvaluationOutput, **errors(401, 403, 404)},
    )
    def get(self, request: Request, evaluation_id: int) -> Response:
        return Response(EvaluationOutput(_evaluation_for(request, evaluation_id)).data)


class ReviewRequestCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReviewRequestCreateInput"

        comparison_ids = serializers.ListField(
            child=serializers.IntegerField(), required=False, help_text="Default: every listed disagreement."
        )
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReviewRequestCreateOutput"

        created = serializers.ListField(child=serializers.IntegerField(), help_text="Comparison ids newly sent.")

    @extend_schema(
        operation_id="evaluations_send_to_review",
        summary="Send comparisons the model disagrees with to the leads' review (metadata.needs_review).",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def post(self, request: Request, evaluation_id: int) -> Response:
        evaluation = _evaluation_for(request, evaluation_id)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = disagreements_send_to_review(
            evaluation=evaluation,
            user=request.user,
            comparison_ids=body.validated_data.get("comparison_ids"),
            reason=body.validated_data["reason"],
        )
        return Response({"created": [r.comparison_id for r in created]}, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------------------------------
# Comparison table, base models, scoring
# ---------------------------------------------------------------------------------------------------------------


class ComparisonRowOutput(serializers.Serializer):
    job = serializers.IntegerField(source="job.id")
    objective = serializers.CharField(source="job.objective")
    base_model = serializers.CharField(source="job.base_model")
    trained_on_snapshot = serializers.IntegerField(source="job.snapshot.number")
    evaluation = serializers.IntegerField(source="evaluation.id")
    accuracy = serializers.FloatField(allow_null=True)
    rmse = serializers.FloatField(allow_null=True, help_text="Mean RMSE over attributes (regression models).")
    wall_s = serializers.FloatField(allow_null=True)
    tokens_per_s = serializers.FloatField(allow_null=True)


class TrainingJobCompareApi(APIView):
    class FilterSerializer(serializers.Serializer):
        snapshot = serializers.IntegerField(required=False, help_text="Validation snapshot id; default the newest.")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TrainingJobComparisonOutput"

        snapshot = serializers.IntegerField(allow_null=True, help_text="Validation data: snapshot id.")
        snapshots = serializers.ListField(child=serializers.IntegerField(), help_text="Snapshots with evaluations.")
        rows = ComparisonRowOutput(many=True)

    @extend_schema(
        operation_id="training_jobs_compare",
        summary="Succeeded jobs side by side on the same validation data, best accuracy first.",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer, **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(JOB_ROLES))
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        table = training_job_comparison(project=project, snapshot_id=filters.validated_data.get("snapshot"))
        return Response(
            {
                "snapshot": table.snapshot.id if table.snapshot else None,
                "snapshots": [s.id for s in table.snapshots],
                "rows": ComparisonRowOutput(table.rows, many=True).data,
            }
        )


class BaseModelListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BaseModelOutput"

        name = serializers.CharField()

    @extend_schema(
        operation_id="base_models_list",
        summary="Local base checkpoints a job may start from (PREFSTACK_BASE_MODELS).",
        responses={200: OutputSerializer(many=True), **errors(401)},
    )
    def get(self, request: Request) -> Response:
        return Response([{"name": name} for name in base_model_choices()])


class ScoreApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RewardScoreInput"

        prompt = serializers.JSONField(help_text="A string, or a list of {role, content} turns.")
        response = serializers.CharField(required=False, trim_whitespace=False, help_text="One response, or:")
        responses = serializers.ListField(
            child=serializers.CharField(trim_whitespace=False), required=False, help_text="Several responses."
        )

        def validate_prompt(self, value: object) -> object:
            if isinstance(value, str):
                return value
            if isinstance(value, list) and all(
                isinstance(t, dict) and isinstance(t.get("role"), str) and isinstance(t.get("content"), str)
                for t in value
            ):
                return value
            raise serializers.ValidationError("A string, or a list of {role, content} turns.")

        def validate(self, attrs: dict[str, object]) -> dict[str, object]:
            if ("response" in attrs) == ("responses" in attrs):
                raise serializers.ValidationError({"responses": "Give response or responses (one of the two)."})
            return attrs

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RewardScoreOutput"

        rewards = serializers.ListField(child=serializers.FloatField(), help_text="One reward per response, in order.")
        num_tokens = serializers.ListField(child=serializers.IntegerField())
        max_length = serializers.IntegerField(help_text="Tokens per prompt + response the model reads.")

    @extend_schema(
        operation_id="reward_models_score",
        summary="Rewards of one or more responses to a prompt, from a succeeded job's model.",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 401, 403, 404), **CONFLICT, **TOO_LONG},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = training_job_get_for_role(job_id=job_id, user=request.user)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        responses = data["responses"] if "responses" in data else [data["response"]]
        result = reward_model_score(job=job, prompt=data["prompt"], responses=responses)
        return Response({"rewards": result.rewards, "num_tokens": result.num_tokens, "max_length": result.max_length})


class ScoreSlashApi(ScoreApi):
    """``…/score/``: the score endpoint under the trailing-slash spelling; documented once, as ``…/score``."""

    schema = None
