"""Model endpoints and generation runs over the API: the same services as the pages. Leads manage endpoints and
launch, cancel and resume runs; researchers read them. No answer ever holds an API key (only the variable's name)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.common import CONFLICT, MAX_ID, errors, paginate, paginated
from annotator.api.inputs import body_input, scope_field
from annotator.domain import scope_clean
from annotator.errors import ValidationFailed
from annotator.llm.client import MAX_STOP_SEQUENCES
from annotator.models import GenerationRun, GenerationRunStatus, ModelEndpoint, Project, Role
from annotator.selectors.generation import (
    generation_item_failures,
    generation_prompts_select,
    generation_run_get_in_project,
    generation_run_list,
)
from annotator.selectors.model_endpoints import model_endpoint_get_for_project, model_endpoint_list
from annotator.selectors.projects import project_get_for_role
from annotator.services import generation as generation_services
from annotator.services import model_endpoints as endpoint_services
from annotator.services.generation import MAX_CONTINUATION_TURNS, MAX_ENDPOINTS_PER_RUN, MAX_PROMPTS_PER_RUN
from annotator.services.model_endpoints import ATTEMPTS_MAX, CONCURRENCY_MAX, KEY_ENV_PREFIX, TIMEOUT_MAX_SECONDS

MANAGE = {Role.LEAD}
READ = {Role.LEAD, Role.RESEARCHER}


def _project(request: Request, slug: str, roles: Collection[str]) -> Project:
    return project_get_for_role(slug=slug, user=request.user, roles=roles)


def _own_endpoint(project: Project, endpoint_id: int) -> ModelEndpoint:
    endpoint = model_endpoint_get_for_project(project=project, endpoint_id=endpoint_id)
    if endpoint.project_id is None:
        raise ValidationFailed("A site endpoint is managed by an administrator.")
    return endpoint


class ModelEndpointOutput(serializers.Serializer):
    id = serializers.IntegerField()
    site = serializers.SerializerMethodField(help_text="True: an endpoint of the whole site (read-only here).")
    name = serializers.CharField()
    base_url = serializers.CharField()
    model_id = serializers.CharField()
    sampling = serializers.DictField()
    concurrency_limit = serializers.IntegerField()
    timeout_seconds = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    api_key_env = serializers.CharField(help_text="The name of the environment variable; the key is never shown.")
    json_schema_output = serializers.BooleanField(
        help_text="The server accepts response_format json_schema (the judge sends its answer schema there too)."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_site(self, endpoint: ModelEndpoint) -> bool:
        return endpoint.project_id is None


class SamplingInput(serializers.Serializer):
    """The sampling parameters an endpoint may set, with their ranges (``annotator.llm.client.sampling_problems``)."""

    class Meta:
        ref_name = "SamplingInput"

    temperature = serializers.FloatField(required=False, min_value=0.0, max_value=2.0)
    top_p = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    max_tokens = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    seed = serializers.IntegerField(required=False, min_value=-MAX_ID, max_value=MAX_ID)
    presence_penalty = serializers.FloatField(required=False, min_value=-2.0, max_value=2.0)
    frequency_penalty = serializers.FloatField(required=False, min_value=-2.0, max_value=2.0)
    stop = serializers.ListField(child=serializers.CharField(trim_whitespace=False), required=False,
                                 max_length=MAX_STOP_SEQUENCES)  # fmt: skip


# What the service accepts, said in the schema: http(s), a host, an optional port, a path; no query.
_PORT = r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"
BASE_URL_PATTERN = rf"^https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*{_PORT}(/[A-Za-z0-9._~%/-]*)?$"
KEY_ENV_PATTERN = rf"^({KEY_ENV_PREFIX}[A-Z0-9_]+)?$"
NOT_BLANK_PATTERN = r"\S"


class ModelEndpointInput(serializers.Serializer):
    class Meta:
        ref_name = "ModelEndpointInput"

    name = serializers.RegexField(NOT_BLANK_PATTERN, max_length=100)
    base_url = serializers.RegexField(BASE_URL_PATTERN, max_length=500, help_text="e.g. https://api.example.com/v1")
    model_id = serializers.RegexField(NOT_BLANK_PATTERN, max_length=200)
    sampling = SamplingInput(required=False, default=dict)
    concurrency_limit = serializers.IntegerField(required=False, default=4, min_value=1, max_value=CONCURRENCY_MAX)
    timeout_seconds = serializers.IntegerField(required=False, default=60, min_value=1, max_value=TIMEOUT_MAX_SECONDS)
    max_attempts = serializers.IntegerField(required=False, default=4, min_value=1, max_value=ATTEMPTS_MAX)
    api_key_env = serializers.RegexField(KEY_ENV_PATTERN, required=False, allow_blank=True, max_length=100,
                                         default="", help_text="The name of the workers' variable holding the key.")  # fmt: skip
    json_schema_output = serializers.BooleanField(
        required=False, default=False,
        help_text="Whether the server accepts OpenAI's response_format json_schema (off: not every server does).",
    )  # fmt: skip


class ModelEndpointListApi(APIView):
    @extend_schema(
        operation_id="model_endpoints_list",
        summary="The endpoints the project may use: its own and the site's.",
        responses={200: paginated(ModelEndpointOutput), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = _project(request, slug, READ)
        return paginate(
            queryset=model_endpoint_list(project=project), serializer_class=ModelEndpointOutput, request=request,
            view=self,
        )  # fmt: skip


class ModelEndpointCreateApi(APIView):
    @extend_schema(
        operation_id="model_endpoints_create",
        summary="Add an endpoint to the project (leads).",
        request=ModelEndpointInput,
        responses={201: ModelEndpointOutput, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = _project(request, slug, MANAGE)
        data = body_input(ModelEndpointInput, request)
        endpoint = endpoint_services.model_endpoint_create(project=project, **data)
        return Response(ModelEndpointOutput(endpoint).data, status=status.HTTP_201_CREATED)


class ModelEndpointDetailApi(APIView):
    @extend_schema(
        operation_id="model_endpoints_detail",
        summary="One endpoint.",
        responses={200: ModelEndpointOutput, **errors(401, 403, 404)},
    )
    def get(self, request: Request, slug: str, endpoint_id: int) -> Response:
        project = _project(request, slug, READ)
        return Response(
            ModelEndpointOutput(model_endpoint_get_for_project(project=project, endpoint_id=endpoint_id)).data
        )


class ModelEndpointUpdateApi(APIView):
    class InputSerializer(ModelEndpointInput):
        class Meta:
            ref_name = "ModelEndpointUpdateInput"

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            for field in self.fields.values():
                field.required = False
                field.default = serializers.empty

    @extend_schema(
        operation_id="model_endpoints_update",
        summary="Change the fields given (leads; the project's own endpoints).",
        request=InputSerializer,
        responses={200: ModelEndpointOutput, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def patch(self, request: Request, slug: str, endpoint_id: int) -> Response:
        project = _project(request, slug, MANAGE)
        endpoint = _own_endpoint(project, endpoint_id)
        data = body_input(self.InputSerializer, request)
        endpoint = endpoint_services.model_endpoint_update(endpoint=endpoint, **data)
        return Response(ModelEndpointOutput(endpoint).data)


class ModelEndpointDeleteApi(APIView):
    @extend_schema(
        operation_id="model_endpoints_delete",
        summary="Delete an endpoint no unfinished run uses (leads).",
        responses={204: None, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def delete(self, request: Request, slug: str, endpoint_id: int) -> Response:
        project = _project(request, slug, MANAGE)
        endpoint_services.model_endpoint_delete(endpoint=_own_endpoint(project, endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GenerationFailureOutput(serializers.Serializer):
    prompt = serializers.IntegerField(source="prompt_id")
    reason = serializers.CharField()
    failures = serializers.DictField(source="details.failures", default=dict)


class GenerationRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=GenerationRunStatus.choices)
    endpoints = serializers.SerializerMethodField()
    selection = serializers.DictField()
    seed = serializers.IntegerField()
    pairs_per_prompt = serializers.IntegerField()
    continuation_turns = serializers.IntegerField()
    items_total = serializers.IntegerField()
    items_done = serializers.IntegerField()
    items_failed = serializers.IntegerField()
    comparisons_created = serializers.IntegerField()
    error = serializers.CharField()
    attempt = serializers.IntegerField(help_text="Starts of the run; a worker that died costs one.")
    requeue_reason = serializers.CharField(
        help_text="Why the stale-run sweep last queued the run again (empty: never)."
    )
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_endpoints(self, run: GenerationRun) -> list[int]:
        return sorted(e.pk for e in run.endpoints.all())


class GenerationRunDetailOutput(GenerationRunOutput):
    failures = serializers.SerializerMethodField(help_text="The failed prompts with their reasons (first 200).")

    def get_failures(self, run: GenerationRun) -> list[dict[str, Any]]:
        return list(GenerationFailureOutput(generation_item_failures(run=run), many=True).data)


class GenerationRunListApi(APIView):
    @extend_schema(
        operation_id="generation_runs_list",
        summary="The project's generation runs, newest first.",
        responses={200: paginated(GenerationRunOutput), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = _project(request, slug, READ)
        return paginate(
            queryset=generation_run_list(project=project), serializer_class=GenerationRunOutput, request=request,
            view=self,
        )  # fmt: skip


class GenerationRunCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GenerationRunCreateInput"

        endpoints = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=2,
            max_length=MAX_ENDPOINTS_PER_RUN,
        )  # fmt: skip
        source = serializers.CharField(required=False, allow_blank=True, max_length=64, default="",
                                       help_text="The prompts of the comparisons imported from this format.")  # fmt: skip
        prompt_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
            max_length=MAX_PROMPTS_PER_RUN, help_text="These prompts (with source: those of the import among them).",
        )  # fmt: skip
        domain = scope_field(default="", help_text="Only prompts of this domain.")
        language = scope_field(default="", help_text="Only prompts of this language.")
        seed = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1, default=0)
        pairs_per_prompt = serializers.IntegerField(required=False, min_value=1, max_value=100, default=1)
        continuation_turns = serializers.IntegerField(
            required=False, min_value=0, max_value=MAX_CONTINUATION_TURNS, default=0
        )

    @extend_schema(
        operation_id="generation_runs_create",
        summary="Launch a run (leads); it runs in the background (poll its status).",
        request=InputSerializer,
        responses={202: GenerationRunDetailOutput, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = _project(request, slug, MANAGE)
        data = body_input(self.InputSerializer, request)
        endpoints = [model_endpoint_get_for_project(project=project, endpoint_id=pk) for pk in data["endpoints"]]
        selection = {
            "source": data["source"],
            "domain": scope_clean(data["domain"]),
            "language": scope_clean(data["language"]),
            "prompt_ids": data.get("prompt_ids"),
        }
        if not any(selection[k] for k in ("source", "domain", "language")) and selection["prompt_ids"] is None:
            message = "Give source (an import's format), domain, language or prompt_ids."
            raise ValidationFailed(message, extra={"fields": {"source": message}})
        run = generation_services.generation_run_create(
            project=project,
            user=request.user,
            endpoints=endpoints,
            prompts=generation_prompts_select(project=project, **selection),
            selection={k: v for k, v in selection.items() if v},
            seed=data["seed"],
            pairs_per_prompt=data["pairs_per_prompt"],
            continuation_turns=data["continuation_turns"],
        )
        return Response(GenerationRunDetailOutput(run).data, status=status.HTTP_202_ACCEPTED)


class GenerationRunDetailApi(APIView):
    @extend_schema(
        operation_id="generation_runs_detail",
        summary="A run's status, counts and failed prompts.",
        responses={200: GenerationRunDetailOutput, **errors(401, 403, 404)},
    )
    def get(self, request: Request, slug: str, run_id: int) -> Response:
        project = _project(request, slug, READ)
        return Response(GenerationRunDetailOutput(generation_run_get_in_project(project=project, run_id=run_id)).data)


class GenerationRunCancelApi(APIView):
    @extend_schema(
        operation_id="generation_runs_cancel",
        summary="Cancel a pending or running run (leads); what it wrote stays.",
        request=None,
        responses={200: GenerationRunDetailOutput, **errors(401, 403, 404), **CONFLICT},
    )
    def post(self, request: Request, slug: str, run_id: int) -> Response:
        project = _project(request, slug, MANAGE)
        run = generation_services.generation_run_cancel(
            run=generation_run_get_in_project(project=project, run_id=run_id)
        )
        return Response(GenerationRunDetailOutput(run).data)


class GenerationRunResumeApi(APIView):
    @extend_schema(
        operation_id="generation_runs_resume",
        summary="Run a finished, failed or cancelled run again for what it lacks (leads).",
        request=None,
        responses={202: GenerationRunDetailOutput, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def post(self, request: Request, slug: str, run_id: int) -> Response:
        project = _project(request, slug, MANAGE)
        run = generation_services.generation_run_resume(
            run=generation_run_get_in_project(project=project, run_id=run_id)
        )
        return Response(GenerationRunDetailOutput(run).data, status=status.HTTP_202_ACCEPTED)
