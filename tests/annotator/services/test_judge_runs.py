"""Judge runs through a scripted OpenAI-compatible transport (httpx2.MockTransport): drafts with ratings, strength,
confidence and reason; per-item failures with their reason (off the schema, garbage, a timeout, an HTTP error);
a key missing at launch; a repeated delivery."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from django.utils import timezone

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, ValidationFailed
from annotator.llm.judge import DEFAULT_TEMPLATE, AttributeScale, answer_schema
from annotator.models import Comparison, JudgeDraft, JudgeDraftStatus, JudgeRun, JudgeRunStatus, Project
from annotator.selectors.projects import project_attribute_list
from annotator.services.heartbeats import SweepResult
from annotator.services.judge import (
    judge_draft_record,
    judge_run_create,
    judge_run_execute,
    judge_run_heartbeat,
    judge_runs_sweep_stale,
    judge_save,
)
from annotator.services.model_endpoints import KEY_ENV_PREFIX
from tests.factories import ComparisonFactory, ModelEndpointFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def good_answer(names: list[str], strength: int = -2, **extra: Any) -> str:
    return json.dumps({
        "response_1": dict.fromkeys(names, 3), "response_2": dict.fromkeys(names, 1),
        "preference_strength": strength, "confidence": 0.8, "reason": "Response 1 is right.", **extra,
    })  # fmt: skip


class Judge:
    """Answers each comparison by what its response 1 text says: "garbage", "offscale", "timeout", "busy", else a
    good answer."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.prompts: list[str] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        prompt = json.loads(request.content)["messages"][-1]["content"]
        self.prompts.append(prompt)
        first = prompt.split("[Response 1]\n", 1)[1].split("\n", 1)[0]
        if first == "timeout":
            raise httpx2.ReadTimeout("slow", request=request)
        if first == "busy":
            return httpx2.Response(503, text="busy")
        if first == "garbage":
            return httpx2.Response(200, text="<html>not json</html>")
        content = good_answer(self.names, strength=5) if first == "offscale" else good_answer(self.names)
        return httpx2.Response(200, json={"choices": [{"message": {"role": "assistant", "content": content},
                                                       "finish_reason": "stop"}], "usage": {}})  # fmt: skip

    def options(self) -> dict[str, Any]:
        return {"transport": httpx2.MockTransport(self.handle), "sleep": lambda s: None}


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


def names(project: Project) -> list[str]:
    return list(project.attributes.order_by("position", "id").values_list("name", flat=True))


def comparison(project: Project, first: str = "A fine answer.") -> Comparison:
    item = ComparisonFactory(project=project)
    item.response_1.text = first
    item.response_1.save()
    return item


def attach(project: Project, **fields: Any) -> None:
    endpoint = ModelEndpointFactory(project=project, max_attempts=1, **fields)
    judge_save(project=project, endpoint=endpoint, template=DEFAULT_TEMPLATE)


def test_a_run_drafts_every_comparison_and_records_each_failure_with_its_reason(project: Project) -> None:
    attach(project)
    good = comparison(project)
    bad = {kind: comparison(project, kind) for kind in ("garbage", "offscale", "timeout", "busy")}
    server = Judge(names(project))
    run = judge_run_execute(run_id=judge_run_create(project=project, user=None).pk, client_options=server.options())
    assert run is not None and run.status == JudgeRunStatus.SUCCEEDED
    assert (run.items_total, run.items_done, run.items_failed) == (5, 5, 4)
    draft = JudgeDraft.objects.get(comparison=good)
    assert draft.status == JudgeDraftStatus.OK
    assert (draft.preference_strength, draft.confidence, draft.reason) == (-2, 0.8, "Response 1 is right.")
    assert draft.ratings["1"] == dict.fromkeys(names(project), 3)
    failures = {kind: JudgeDraft.objects.get(comparison=c).failure for kind, c in bad.items()}
    assert failures["garbage"].startswith("garbage:")
    assert failures["offscale"] == "schema: preference_strength is 5, outside -3 to 3."
    assert failures["timeout"].startswith("timeout:")
    assert failures["busy"].startswith("http_status:") and "503" in failures["busy"]
    assert JudgeDraft.objects.get(comparison=bad["offscale"]).raw.startswith("{")
    assert "- helpfulness (0 to 4)" in server.prompts[0]


def test_a_repeated_delivery_does_nothing(project: Project) -> None:
    attach(project)
    comparison(project)
    run = judge_run_create(project=project, user=None)
    assert judge_run_execute(run_id=run.pk, client_options=Judge(names(project)).options()) is not None
    assert judge_run_execute(run_id=run.pk) is None
    assert JudgeDraft.objects.count() == 1


def test_a_key_missing_from_the_environment_is_refused_at_launch(project: Project, monkeypatch: Any) -> None:
    variable = f"{KEY_ENV_PREFIX}JUDGE_TEST"
    monkeypatch.delenv(variable, raising=False)
    attach(project, api_key_env=variable)
    comparison(project)
    with pytest.raises(ValidationFailed) as refused:
        judge_run_create(project=project, user=None)
    assert refused.value.code == ErrorCode.ENDPOINT_KEY_MISSING and variable in refused.value.message


def test_a_key_gone_after_the_launch_fails_the_run_with_the_reason(project: Project, monkeypatch: Any) -> None:
    variable = f"{KEY_ENV_PREFIX}JUDGE_TEST"
    monkeypatch.setenv(variable, "secret")
    attach(project, api_key_env=variable)
    comparison(project)
    run = judge_run_create(project=project, user=None)
    monkeypatch.delenv(variable)
    done = judge_run_execute(run_id=run.pk, client_options=Judge(names(project)).options())
    assert done is not None and done.status == JudgeRunStatus.FAILED and variable in done.error


def test_no_judge_no_run(project: Project) -> None:
    comparison(project)
    with pytest.raises(Conflict) as refused:
        judge_run_create(project=project, user=None)
    assert refused.value.code == ErrorCode.JUDGE_NOT_CONFIGURED


def test_a_template_with_unknown_placeholders_or_another_projects_endpoint_is_refused(project: Project) -> None:
    with pytest.raises(ValidationFailed) as refused:
        judge_save(project=project, endpoint=ModelEndpointFactory(), template="{conversation} {score}")
    fields = refused.value.extra["fields"]
    assert "another project" in fields["endpoint"]
    assert "unknown placeholder {score}" in fields["template"] and "{response_1}" in fields["template"]


def test_a_run_against_a_real_openai_compatible_server(project: Project, llm_server: Any) -> None:
    """The whole HTTP path against ``transformers serve`` (a tiny random model): its answers are noise, so each item
    is recorded as off the schema with the raw answer kept, and the run still succeeds."""
    endpoint = ModelEndpointFactory(project=project, base_url=llm_server.base_url, model_id=llm_server.model_id,
                                    sampling={"max_tokens": 8, "temperature": 0.0}, max_attempts=1,
                                    timeout_seconds=120)  # fmt: skip
    judge_save(project=project, endpoint=endpoint, template=DEFAULT_TEMPLATE)
    comparison(project)
    run = judge_run_execute(run_id=judge_run_create(project=project, user=None).pk)
    assert run is not None and run.status == JudgeRunStatus.SUCCEEDED, run and run.error
    draft = JudgeDraft.objects.get(run=run)
    assert draft.status == JudgeDraftStatus.FAILED and draft.failure.startswith("schema: "), draft.failure


@pytest.mark.parametrize("structured", [False, True])
def test_the_answer_schema_goes_as_response_format_only_where_the_endpoint_accepts_it(
    project: Project, structured: bool
) -> None:
    attach(project, json_schema_output=structured)
    comparison(project)
    bodies: list[dict[str, Any]] = []
    server = Judge(names(project))

    def handle(request: httpx2.Request) -> httpx2.Response:
        bodies.append(json.loads(request.content))
        return server.handle(request)

    options = {"transport": httpx2.MockTransport(handle), "sleep": lambda s: None}
    run = judge_run_execute(run_id=judge_run_create(project=project, user=None).pk, client_options=options)
    assert run is not None and (run.items_done, run.items_failed) == (1, 0)
    (body,) = bodies
    if structured:
        scales = [
            AttributeScale(a.name, a.scale_min, a.scale_max, a.description)
            for a in project_attribute_list(project=project)
        ]
        assert body["response_format"] == {
            "type": "json_schema", "json_schema": {"name": "judge_answer", "schema": answer_schema(scales)},
        }  # fmt: skip
        assert "JSON schema" in body["messages"][-1]["content"]  # the prompt still carries it
    else:
        assert "response_format" not in body


def test_a_server_that_refuses_response_format_fails_each_item_with_the_reason(project: Project) -> None:
    """What a server without structured output answers when the option is on anyway: 400, an http_status failure
    per item; the run itself succeeds and says why on each draft."""
    attach(project, json_schema_output=True)
    comparison(project)

    def refuse(request: httpx2.Request) -> httpx2.Response:
        assert "response_format" in json.loads(request.content)
        return httpx2.Response(400, json={"error": {"message": "response_format is not supported"}})

    options = {"transport": httpx2.MockTransport(refuse), "sleep": lambda s: None}
    run = judge_run_execute(run_id=judge_run_create(project=project, user=None).pk, client_options=options)
    assert run is not None and run.status == JudgeRunStatus.SUCCEEDED and run.items_failed == 1
    failure = JudgeDraft.objects.get(run=run).failure
    assert failure.startswith("http_status: The endpoint answered 400") and "response_format" in failure


def test_transformers_serve_takes_response_format_but_does_not_enforce_it(project: Project, llm_server: Any) -> None:
    """``transformers serve`` answers 200 and ignores the field (it logs so): the answer is checked by Prefstack all
    the same, and the tiny model's noise is recorded as off the schema."""
    endpoint = ModelEndpointFactory(project=project, base_url=llm_server.base_url, model_id=llm_server.model_id,
                                    sampling={"max_tokens": 8, "temperature": 0.0}, max_attempts=1,
                                    timeout_seconds=120, json_schema_output=True)  # fmt: skip
    judge_save(project=project, endpoint=endpoint, template=DEFAULT_TEMPLATE)
    comparison(project)
    run = judge_run_execute(run_id=judge_run_create(project=project, user=None).pk)
    assert run is not None and run.status == JudgeRunStatus.SUCCEEDED, run and run.error
    draft = JudgeDraft.objects.get(run=run)
    assert draft.status == JudgeDraftStatus.FAILED and draft.failure.startswith("schema: "), draft.failure
    assert "Ignoring unsupported fields in the request: {'response_format'}" in llm_server.log.read_text()


# --- a worker that died: heartbeat and sweep -----------------------------------------------------------------------


def _start_and_die(run: JudgeRun, *, drafted: Comparison | None = None) -> None:
    """What a first attempt leaves when its worker dies: running, a heartbeat long past, maybe one draft."""
    JudgeRun.objects.filter(pk=run.pk).update(status=JudgeRunStatus.RUNNING, attempt=1, started_at=timezone.now())
    if drafted is not None:
        fields = {"status": JudgeDraftStatus.FAILED, "failure": "timeout: before the crash"}
        assert judge_draft_record(run=run, attempt=1, comparison_id=drafted.pk, fields=fields) is not None
    JudgeRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))


def test_a_run_whose_worker_died_is_queued_again_and_drafts_only_the_rest(
    project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    attach(project)
    first, *rest = [comparison(project) for _ in range(3)]
    run = judge_run_create(project=project, user=None)
    _start_and_die(run, drafted=first)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = judge_runs_sweep_stale(stale_seconds=60)
    assert (result.requeued, result.failed, len(callbacks)) == ([run.pk], [], 1)
    run.refresh_from_db()
    assert (run.status, run.heartbeat_at) == (JudgeRunStatus.QUEUED, None)
    assert run.requeue_reason.startswith("attempt 1: its worker stopped sending heartbeats")

    server = Judge(names(project))
    run = judge_run_execute(run_id=run.pk, client_options=server.options())  # type: ignore[assignment]
    assert (run.status, run.attempt, run.items_done, run.items_failed) == (JudgeRunStatus.SUCCEEDED, 2, 3, 1)
    assert len(server.prompts) == 2  # the comparison drafted before the crash is not asked again
    assert set(run.drafts.values_list("comparison_id", flat=True)) == {first.pk, *(c.pk for c in rest)}
    # The dead attempt, should it wake up, writes nothing more.
    fields = {"status": JudgeDraftStatus.FAILED, "failure": "late"}
    assert judge_draft_record(run=run, attempt=1, comparison_id=first.pk, fields=fields) is None
    assert not judge_run_heartbeat(run_id=run.pk, attempt=1)


def test_a_delivery_that_finds_its_run_silent_takes_it_over(
    project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    """Celery handed the task back after the pool process died: that delivery runs the rest at once, no sweep."""
    attach(project)
    first, _second = [comparison(project) for _ in range(2)]
    run = judge_run_create(project=project, user=None)
    _start_and_die(run, drafted=first)
    server = Judge(names(project))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = judge_run_execute(run_id=run.pk, client_options=server.options())  # type: ignore[assignment]
    assert callbacks == []
    assert (run.status, run.attempt, run.items_done) == (JudgeRunStatus.SUCCEEDED, 2, 2)
    assert run.requeue_reason.startswith("attempt 1: its worker stopped sending heartbeats")
    assert len(server.prompts) == 1


def test_the_sweep_leaves_a_run_that_beats(project: Project) -> None:
    attach(project)
    comparison(project)
    run = judge_run_create(project=project, user=None)
    JudgeRun.objects.filter(pk=run.pk).update(status=JudgeRunStatus.RUNNING, attempt=1)
    assert judge_run_heartbeat(run_id=run.pk, attempt=1)
    assert judge_runs_sweep_stale(stale_seconds=60) == SweepResult()
    assert JudgeRun.objects.get(pk=run.pk).status == JudgeRunStatus.RUNNING


def test_a_run_out_of_attempts_fails_with_the_reason(project: Project, settings: Any) -> None:
    settings.PREFSTACK_JOB_MAX_ATTEMPTS = 1
    attach(project)
    comparison(project)
    run = judge_run_create(project=project, user=None)
    _start_and_die(run)
    assert judge_runs_sweep_stale(stale_seconds=60).failed == [run.pk]
    run.refresh_from_db()
    assert run.status == JudgeRunStatus.FAILED and run.finished_at is not None
    assert "stopped sending heartbeats" in run.error and run.error.endswith("no attempts left.")
