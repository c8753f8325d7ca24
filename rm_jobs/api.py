"""Training jobs, evaluations and reward-model scoring over the API. Researchers and leads of the project only
(annotators 403, non-members 404, anonymous 401), as for snapshots. One APIView per operation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.common import CONFLICT, DOWNLOAD, MAX_ID, ErrorOutput, PageInput, errors, paginate, paginated
from annotator.api.inputs import body_input, query_input
from annotator.api.parsers import JSONParser
from annotator.errors import ValidationFailed
from annotator.selectors.projects import project_get_for_role
from annotator.selectors.snapshots import snapshot_get_for_role
from annotator.storage import download_response
from rm_jobs.models import (
    Evaluation,
    EvaluationKind,
    EvaluationStatus,
    JobStatus,
    Objective,
    PrioritySignal,
    Queue,
    Strategy,
    TrainingJob,
)
from rm_jobs.selectors.jobs import (
    JOB_ROLES,
    evaluation_get,
    job_evaluations,
    training_job_comparison,
    training_job_get_for_role,
    training_job_list,
    training_job_series,
)
from rm_jobs.selectors.priorities import priority_scoring_get_for_role, priority_scoring_list
from rm_jobs.services.evaluations import disagreements_send_to_review, evaluation_create, evaluation_results_key
from rm_jobs.services.jobs import (
    HyperParameters,
    base_model_choices,
    training_job_cancel,
    training_job_checkpoint_zip,
    training_job_create,
)
from rm_jobs.services.priorities import MODEL_SIGNALS, priority_scoring_create
from rm_jobs.services.scoring import TURN_ROLES, reward_model_score
from rm_jobs.training.benchmarks import BENCHMARKS
from rm_jobs.training.config import BOUNDS, PRECISIONS

TOO_LONG = {
    413: OpenApiResponse(ErrorOutput, description="Input too long (code input_too_long; extra names the item)."),
}

# ---------------------------------------------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------------------------------------------


def _bounded(name: str, base: type[serializers.Field], **kwargs: Any) -> serializers.Field:
    """An optional number in ``BOUNDS[name]`` (the range the form and the job service use too), the schema stating
    it with its open ends; the bound's own check gives the message, so the three interfaces word it alike."""
    bound = BOUNDS[name]
    schema: dict[str, Any] = (
        {"type": "integer"} if issubclass(base, serializers.IntegerField) else {"type": "number", "format": "double"}
    )
    if bound.low is not None:
        schema["minimum"] = bound.low
        if bound.low_open:
            schema["exclusiveMinimum"] = True
    if bound.high is not None:
        schema["maximum"] = bound.high
        if bound.high_open:
            schema["exclusiveMaximum"] = True
    if kwargs.get("allow_null"):
        schema["nullable"] = True

    def validate(value: Any) -> None:
        if value is not None and not bound.contains(value):
            raise serializers.ValidationError(bound.message())

    # A class of its own: serializers deep-copy their fields by re-instantiating the class, so the schema must be
    # attached to the class, not to one instance.
    field_class = extend_schema_field(schema)(type(f"Bounded{base.__name__}", (base,), {}))
    return field_class(required=False, validators=[validate], **kwargs)  # type: ignore[no-any-return]


class HyperParametersSerializer(serializers.Serializer):
    """The ranges HyperParameters.check enforces, so that the schema says them."""

    class Meta:
        ref_name = "TrainingHyperParameters"

    learning_rate = _bounded("learning_rate", serializers.FloatField, default=HyperParameters.learning_rate)
    batch_size = _bounded("batch_size", serializers.IntegerField, default=HyperParameters.batch_size)
    epochs = _bounded("epochs", serializers.IntegerField, default=HyperParameters.epochs)
    max_steps = _bounded("max_steps", serializers.IntegerField, allow_null=True, default=None)
    max_length = _bounded("max_length", serializers.IntegerField, default=HyperParameters.max_length)
    warmup_ratio = _bounded("warmup_ratio", serializers.FloatField, default=HyperParameters.warmup_ratio)
    seed = _bounded("seed", serializers.IntegerField, default=HyperParameters.seed)
    save_every_steps = _bounded("save_every_steps", serializers.IntegerField, default=HyperParameters.save_every_steps)
    eval_every_steps = _bounded("eval_every_steps", serializers.IntegerField, allow_null=True, default=None)
    margin_scale = _bounded("margin_scale", serializers.FloatField, default=HyperParameters.margin_scale)
    center_rewards_coefficient = _bounded(
        "center_rewards_coefficient", serializers.FloatField, allow_null=True, default=None
    )
    expo_alpha = _bounded("expo_alpha", serializers.FloatField, default=HyperParameters.expo_alpha)
    num_threads = _bounded("num_threads", serializers.IntegerField, allow_null=True, default=None)
    precision = serializers.ChoiceField(choices=list(PRECISIONS), required=False, default=HyperParameters.precision)
    gradient_checkpointing = serializers.BooleanField(required=False, default=False)
    lora_r = _bounded("lora_r", serializers.IntegerField, default=0, help_text="LoRA rank; 0 = full fine-tuning.")
    lora_alpha = _bounded(
        "lora_alpha", serializers.FloatField, allow_null=True, default=None, help_text="Empty: 2 x rank."
    )
    lora_dropout = _bounded("lora_dropout", serializers.FloatField, default=0.0)
    qlora = serializers.BooleanField(required=False, default=False, help_text="4-bit base; GPU queue only.")


class TrainingJobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.SlugField(source="project.slug")
    snapshot = serializers.IntegerField(source="snapshot_id", help_text="Snapshot id (lineage).")
    snapshot_number = serializers.IntegerField(source="snapshot.number")
    objective = serializers.ChoiceField(choices=Objective.choices)
    base_model = serializers.CharField()
    queue = serializers.ChoiceField(choices=Queue.choices)
    gpus = serializers.IntegerField(help_text="Processes of the job's torchrun group (GPUs, or CPU processes).")
    strategy = serializers.ChoiceField(choices=Strategy.choices)
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
    metrics = serializers.DictField(
        help_text=(
            "Validation: accuracy, mean_margin, num_pairs; rmse/pearson. RewardBench file: rewardbench_overall "
            "(RewardBench's score: mean of the section scores, prior sets at weight 0.5; null when the file has none "
            "of its subsets), sections (example-count-weighted accuracy per section), pooled_accuracy (share of all "
            "pairs won, not RewardBench's score), per_subset, num_pairs. RewardBench 2 / RM-Bench / JudgeBench file: "
            "benchmark, overall, per_subset (subset / domain / category), details (RM-Bench easy, normal, hard and "
            "per_domain; JudgeBench per_source; RewardBench 2 ties), num_rows."
        )
    )
    results_url = serializers.SerializerMethodField(
        help_text="The benchmark's results JSON as its own scripts write it; null for validation runs."
    )
    disagreements = serializers.ListField(
        child=serializers.DictField(),
        help_text="comparison_id, human_preferred (1|2), human_strength, model_margin; most confident first.",
    )
    error = serializers.CharField()
    attempt = serializers.IntegerField(help_text="Starts of the run; a worker that died costs one.")
    requeue_reason = serializers.CharField(
        help_text="Why the stale-run sweep last queued the run again (empty: never)."
    )
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_results_url(self, evaluation: Evaluation) -> str | None:
        if not evaluation.results_file:
            return None
        return reverse("api-evaluations-results", kwargs={"evaluation_id": evaluation.id})


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
        filters = query_input(JobFilter, request)
        qs = training_job_list(project=project, status=filters.get("status"))
        return paginate(queryset=qs, serializer_class=TrainingJobOutput, request=request, view=self)


class TrainingJobCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TrainingJobCreateInput"

        snapshot = serializers.IntegerField(
            min_value=1, max_value=MAX_ID, help_text="Id of a ready snapshot of the project."
        )
        objective = serializers.ChoiceField(choices=Objective.choices)
        base_model = serializers.CharField(required=False, help_text="A name from GET /reward-models/base-models/.")
        queue = serializers.ChoiceField(choices=Queue.choices, default=Queue.DEFAULT)
        gpus = serializers.IntegerField(
            default=1, help_text="Devices for one torchrun group; at most what a worker of the queue has."
        )
        strategy = serializers.ChoiceField(choices=Strategy.choices, default=Strategy.AUTO)
        hyperparameters = HyperParametersSerializer(required=False)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # The configured names (PREFSTACK_BASE_MODELS), read per request so that the schema lists them.
            names = list(base_model_choices())
            if names:
                self.fields["base_model"] = serializers.ChoiceField(
                    choices=names, required=False, help_text="A name from GET /reward-models/base-models/."
                )

    @extend_schema(
        operation_id="training_jobs_create",
        summary="Launch a training job on a ready snapshot; it runs on a worker of the queue (poll its status).",
        request=InputSerializer,
        responses={202: TrainingJobDetailOutput, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(JOB_ROLES))
        data = body_input(self.InputSerializer, request)
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
            gpus=data["gpus"],
            strategy=data["strategy"],
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
            **DOWNLOAD,
        },
    )
    def get(self, request: Request, job_id: int) -> HttpResponseBase:
        job = training_job_get_for_role(job_id=job_id, user=request.user)
        key = training_job_checkpoint_zip(job=job)
        return download_response(key, filename=f"reward-model-job-{job.id}.zip", content_type="application/zip")


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
    """A snapshot's id as JSON, or a file as multipart: the body's encoding says which of the two it is."""

    parser_classes = [MultiPartParser, JSONParser]

    class SnapshotInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "EvaluationOnSnapshotInput"

        snapshot = serializers.IntegerField(
            min_value=1, max_value=MAX_ID, help_text="Evaluate on this snapshot's validation split."
        )

    class FileInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "EvaluationOnFileInput"

        file = serializers.FileField(
            allow_empty_file=True,  # valid by the schema; the file check refuses it (422)
            help_text="A benchmark file as released (.jsonl, .json, .parquet): RewardBench, RewardBench 2, RM-Bench "
            "or JudgeBench pairs; its content is checked (422).",
        )
        benchmark = serializers.ChoiceField(
            choices=("auto", *BENCHMARKS),
            required=False,
            default="auto",
            help_text="auto (told by the layout) or the benchmark whose layout the file has; a file in another "
            "layout is refused with code benchmark_layout (422).",
        )

    @extend_schema(
        operation_id="evaluations_create",
        summary="Evaluate a succeeded job on another snapshot's validation split or on a benchmark file.",
        request={"application/json": SnapshotInputSerializer, "multipart/form-data": FileInputSerializer},
        responses={202: EvaluationOutput, **errors(400, 401, 403, 404, 422), **CONFLICT},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = training_job_get_for_role(job_id=job_id, user=request.user)
        if (request.content_type or "").startswith("multipart/"):
            body = body_input(self.FileInputSerializer, request)
            evaluation = evaluation_create(
                job=job, user=request.user, reward_bench_file=body["file"], benchmark=body["benchmark"]
            )
        else:
            snapshot_id = body_input(self.SnapshotInputSerializer, request)["snapshot"]
            snapshot = snapshot_get_for_role(snapshot_id=snapshot_id, user=request.user)
            evaluation = evaluation_create(job=job, user=request.user, snapshot=snapshot)
        return Response(EvaluationOutput(evaluation).data, status=status.HTTP_202_ACCEPTED)


def _evaluation_for(request: Request, evaluation_id: int) -> Evaluation:
    evaluation = evaluation_get(evaluation_id=evaluation_id)
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


class EvaluationResultsApi(APIView):
    @extend_schema(
        operation_id="evaluations_results",
        summary="A benchmark evaluation's results JSON, as RewardBench / RM-Bench / JudgeBench scripts write it.",
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The results file."),
            **errors(401, 403, 404),
            **DOWNLOAD,
        },
    )
    def get(self, request: Request, evaluation_id: int) -> HttpResponseBase:
        evaluation = _evaluation_for(request, evaluation_id)
        key = evaluation_results_key(evaluation=evaluation)
        filename = f"evaluation-{evaluation.id}-{evaluation.kind}.json"
        return download_response(key, filename=filename, content_type="application/json")


class ReviewRequestCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReviewRequestCreateInput"

        comparison_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
            required=False,
            help_text="Default: every listed disagreement.",
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
        data = body_input(self.InputSerializer, request)
        created = disagreements_send_to_review(
            evaluation=evaluation, user=request.user, comparison_ids=data.get("comparison_ids"), reason=data["reason"]
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
        snapshot = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_ID, help_text="Validation snapshot id; default the newest."
        )

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
        filters = query_input(self.FilterSerializer, request)
        table = training_job_comparison(project=project, snapshot_id=filters.get("snapshot"))
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


PROMPT_SCHEMA = {
    "oneOf": [
        {"type": "string"},
        {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {"role": {"type": "string", "enum": list(TURN_ROLES)}, "content": {"type": "string"}},
                "required": ["role", "content"],
            },
        },
    ]
}


@extend_schema_field(PROMPT_SCHEMA)
class PromptField(serializers.JSONField):
    """A prompt: a string, or a non-empty list of {role, content} turns (ScoreApi.InputSerializer checks it)."""


# The schema's two shapes of a scoring request (ScoreApi.InputSerializer.validate takes exactly one of the two).
class ScoreOneInput(serializers.Serializer):
    prompt = PromptField()
    response = serializers.CharField(trim_whitespace=False)


class ScoreManyInput(serializers.Serializer):
    prompt = PromptField()
    responses = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False), min_length=1, max_length=settings.PREFSTACK_SCORE_MAX_ITEMS
    )


class ScoreApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RewardScoreInput"

        prompt = PromptField(help_text="A string, or a list of {role, content} turns.")
        response = serializers.CharField(required=False, trim_whitespace=False, help_text="One response, or:")
        responses = serializers.ListField(
            child=serializers.CharField(trim_whitespace=False),
            required=False,
            min_length=1,
            max_length=settings.PREFSTACK_SCORE_MAX_ITEMS,
            help_text="Several responses.",
        )

        def validate_prompt(self, value: object) -> object:
            if isinstance(value, str):
                return value
            if (
                isinstance(value, list)
                and value
                and all(
                    isinstance(t, dict) and t.get("role") in TURN_ROLES and isinstance(t.get("content"), str)
                    for t in value
                )
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
        outputs = serializers.ListField(
            child=serializers.DictField(child=serializers.FloatField()),
            help_text="Per response, each head output by label (a regression head: one per attribute); [] when the "
            "model has one output.",
        )

    @extend_schema(
        operation_id="reward_models_score",
        summary="Rewards of one or more responses to a prompt, from a succeeded job's model.",
        request=PolymorphicProxySerializer(
            component_name="RewardScoreInput",
            serializers=[ScoreOneInput, ScoreManyInput],
            resource_type_field_name=None,
        ),
        responses={200: OutputSerializer, **errors(400, 401, 403, 404), **CONFLICT, **TOO_LONG},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = training_job_get_for_role(job_id=job_id, user=request.user)
        data = body_input(self.InputSerializer, request)
        responses = data["responses"] if "responses" in data else [data["response"]]
        result = reward_model_score(job=job, prompt=data["prompt"], responses=responses)
        return Response(
            {
                "rewards": result.rewards,
                "num_tokens": result.num_tokens,
                "max_length": result.max_length,
                "outputs": result.outputs,
            }
        )


class ScoreSlashApi(ScoreApi):
    """``…/score/``: the score endpoint under the trailing-slash spelling; documented once, as ``…/score``."""

    schema = None


# ---------------------------------------------------------------------------------------------------------------
# Active collection
# ---------------------------------------------------------------------------------------------------------------


class PriorityScoringOutput(serializers.Serializer):
    id = serializers.IntegerField()
    signal = serializers.ChoiceField(choices=PrioritySignal.choices)
    job = serializers.IntegerField(source="job_id", allow_null=True)
    status = serializers.ChoiceField(choices=EvaluationStatus.choices)
    scored = serializers.IntegerField(help_text="Comparisons given a priority.")
    failures = serializers.ListField(
        child=serializers.DictField(), help_text='Items not scored: [{"comparison_id", "reason"}].'
    )
    summary = serializers.DictField(help_text="mean and max priority.")
    error = serializers.CharField()
    attempt = serializers.IntegerField(help_text="Starts of the run; a worker that died costs one.")
    requeue_reason = serializers.CharField(
        help_text="Why the stale-run sweep last queued the run again (empty: never)."
    )
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class PriorityScoringListApi(APIView):
    @extend_schema(
        operation_id="priority_scorings_list",
        summary="The project's priority scorings (active collection), newest first.",
        parameters=[PageInput],
        responses={200: paginated(PriorityScoringOutput), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(JOB_ROLES))
        qs = priority_scoring_list(project=project)
        return paginate(queryset=qs, serializer_class=PriorityScoringOutput, request=request, view=self)


class PriorityScoringCreateApi(APIView):
    """Two bodies, told by ``signal``: a reward-model signal names the job whose model scores; the human signal
    needs none."""

    class ModelSignalInput(serializers.Serializer):
        class Meta:
            ref_name = "PriorityScoringWithModelInput"

        signal = serializers.ChoiceField(choices=sorted(MODEL_SIGNALS))
        job = serializers.IntegerField(
            min_value=1, max_value=MAX_ID, help_text="A succeeded training job of the project: its model scores."
        )

    class HumanSignalInput(serializers.Serializer):
        class Meta:
            ref_name = "PriorityScoringFromPeopleInput"

        signal = serializers.ChoiceField(choices=[PrioritySignal.HUMAN_DISAGREEMENT])

    @extend_schema(
        operation_id="priority_scorings_create",
        summary="Score the comparisons that still need annotators and store their claim priority (poll its status).",
        request=PolymorphicProxySerializer(
            component_name="PriorityScoringCreateInput",
            serializers=[ModelSignalInput, HumanSignalInput],
            resource_type_field_name=None,
        ),
        responses={202: PriorityScoringOutput, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles=set(JOB_ROLES))
        signal = request.data.get("signal") if isinstance(request.data, dict) else None
        with_model = isinstance(signal, str) and signal in MODEL_SIGNALS
        data = body_input(self.ModelSignalInput if with_model else self.HumanSignalInput, request)
        job = training_job_get_for_role(job_id=data["job"], user=request.user) if "job" in data else None
        scoring = priority_scoring_create(project=project, signal=data["signal"], job=job, user=request.user)
        return Response(PriorityScoringOutput(scoring).data, status=status.HTTP_202_ACCEPTED)


class PriorityScoringDetailApi(APIView):
    @extend_schema(
        operation_id="priority_scorings_retrieve",
        summary="A priority scoring: status, counts and the items it could not score, with the reason.",
        responses={200: PriorityScoringOutput, **errors(401, 403, 404)},
    )
    def get(self, request: Request, scoring_id: int) -> Response:
        scoring = priority_scoring_get_for_role(scoring_id=scoring_id, user=request.user)
        return Response(PriorityScoringOutput(scoring).data)
