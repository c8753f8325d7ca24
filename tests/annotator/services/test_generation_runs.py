"""Generation runs through a scripted OpenAI-compatible transport (httpx2.MockTransport): responses with their
provenance, comparisons from seeded pairs of different endpoints, per-item failures with reasons, retries, the
concurrency limit, continuation turns, cancel and resume (continuing where the run stopped)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from django.utils import timezone

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, ValidationFailed
from annotator.llm.client import ChatResult
from annotator.models import (
    Comparison,
    GenerationItem,
    GenerationItemStatus,
    GenerationRun,
    GenerationRunStatus,
    ModelEndpoint,
    Project,
    Response,
)
from annotator.services import heartbeats
from annotator.services.generation import (
    GENERATION_SOURCE,
    generation_response_record,
    generation_run_cancel,
    generation_run_create,
    generation_run_execute,
    generation_run_finish,
    generation_run_heartbeat,
    generation_run_resume,
    generation_run_start,
    generation_runs_sweep_stale,
)
from annotator.services.heartbeats import SweepResult
from annotator.services.model_endpoints import KEY_ENV_PREFIX
from tests.factories import ModelEndpointFactory, ProjectFactory, PromptFactory

pytestmark = pytest.mark.django_db


class Server:
    """Answers chat completions as ``<model> says: <last message>``; ``rules`` map (a word in the last message, a
    model or ``*``) to a list of statuses answered first (a 200 after them), or to ``"nul"`` (a text with a NUL)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.rules: dict[tuple[str, str], list[int] | str] = {}
        self.delay = 0.0
        self.lock = threading.Lock()
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        model, last = body["model"], body["messages"][-1]["content"]
        with self.lock:
            self.calls.append(body)
            self.in_flight[model] += 1
            self.most_in_flight[model] = max(self.most_in_flight[model], self.in_flight[model])
        try:
            time.sleep(self.delay)
            for (word, only), rule in self.rules.items():
                if word in last and only in ("*", model):
                    if rule == "nul":
                        return self.answer(model, "bad\x00text")
                    if rule == "too_long":
                        return httpx2.Response(400, json={"error": {"code": "context_length_exceeded",
                                                                     "message": "maximum context length is 8 tokens"}})  # fmt: skip
                    if isinstance(rule, list) and rule:
                        return httpx2.Response(rule.pop(0), text="busy")
            return self.answer(model, f"{model} says: {last}")
        finally:
            with self.lock:
                self.in_flight[model] -= 1

    @staticmethod
    def answer(model: str, content: str) -> httpx2.Response:
        return httpx2.Response(200, json={
            "model": model, "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4}})  # fmt: skip

    def options(self) -> dict[str, Any]:
        return {"transport": httpx2.MockTransport(self.handle), "sleep": lambda s: None}


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


def endpoints(project: Project, n: int = 2, **fields: Any) -> list[ModelEndpoint]:
    return [ModelEndpointFactory(project=project, name=f"ep-{i}", model_id=f"m{i}", sampling={"temperature": 0.5},
                                 **fields) for i in range(n)]  # fmt: skip


def launch(project: Project, eps: list[ModelEndpoint], prompts: int = 3, **options: Any) -> GenerationRun:
    chosen = [PromptFactory(project=project) for _ in range(prompts)]
    return generation_run_create(project=project, user=None, endpoints=eps, prompts=chosen, **options)


def test_a_run_writes_responses_with_provenance_and_comparisons_of_different_endpoints(
    project: Project, server: Server
) -> None:
    eps = endpoints(project)
    run = generation_run_execute(run_id=launch(project, eps).pk, client_options=server.options())
    assert run.status == GenerationRunStatus.FINISHED
    assert (run.items_total, run.items_done, run.items_failed, run.comparisons_created) == (3, 3, 0, 3)
    responses = Response.objects.filter(generation_run=run)
    assert responses.count() == 6
    response = responses.get(endpoint=eps[0], prompt=run.items.first().prompt)  # type: ignore[union-attr]
    assert response.text.startswith("m0 says: Question number")
    assert (response.model_name, response.endpoint_name, response.sampling) == ("m0", "ep-0", {"temperature": 0.5})
    assert (response.finish_reason, response.prompt_tokens, response.completion_tokens) == ("stop", 10, 4)
    assert response.latency_ms is not None
    for comparison in Comparison.objects.filter(project=project):
        assert comparison.source == GENERATION_SOURCE
        assert comparison.response_1.endpoint_id != comparison.response_2.endpoint_id
        assert comparison.response_1.prompt_id == comparison.prompt_id == comparison.response_2.prompt_id
    assert all(c["temperature"] == 0.5 for c in server.calls)


def test_pairs_are_seeded_and_several_per_prompt(project: Project, server: Server) -> None:
    eps = endpoints(project, 3)
    prompts = [PromptFactory(project=project) for _ in range(4)]

    def pairs(seed: int) -> list[tuple[str, str]]:
        run = generation_run_create(project=project, user=None, endpoints=eps, prompts=prompts, seed=seed,
                                    pairs_per_prompt=2)  # fmt: skip
        generation_run_execute(run_id=run.pk, client_options=server.options())
        comparisons = Comparison.objects.filter(metadata__generation_run=run.pk).order_by("prompt_id", "id")
        return [(c.response_1.endpoint_name, c.response_2.endpoint_name) for c in comparisons]

    first = pairs(seed=11)
    assert len(first) == 8 and all(a != b for a, b in first)
    assert pairs(seed=11) == first  # same seed, same pairs
    assert any(pairs(seed=s) != first for s in range(12, 15))  # another seed gives other pairs


def test_a_failed_prompt_is_reported_and_the_rest_go_on_then_a_resume_asks_only_what_is_missing(
    project: Project, server: Server
) -> None:
    eps = endpoints(project, max_attempts=2)
    run = launch(project, eps)
    bad = run.items.order_by("id")[1].prompt
    word = bad.turns[0]["content"]
    server.rules[word, "m1"] = [503, 503]  # m1 fails this prompt on both attempts
    run = generation_run_execute(run_id=run.pk, client_options=server.options())
    assert run.status == GenerationRunStatus.FINISHED
    assert (run.items_done, run.items_failed, run.comparisons_created) == (2, 1, 2)
    failed = GenerationItem.objects.get(run=run, status=GenerationItemStatus.FAILED)
    assert failed.prompt_id == bad.pk and "ep-1" in failed.reason and "503" in failed.reason
    assert failed.details["failures"]["ep-1"]["attempts"] == 2
    assert not Comparison.objects.filter(prompt=bad).exists()  # never half an item

    asked = len(server.calls)
    generation_run_resume(run=run)
    run = generation_run_execute(run_id=run.pk, client_options=server.options())
    assert (run.status, run.items_done, run.items_failed, run.comparisons_created) == ("finished", 3, 0, 3)
    assert len(server.calls) == asked + 1  # only m1 on the failed prompt: m0's answer was kept
    assert Response.objects.filter(generation_run=run).count() == 6


def test_429_and_5xx_are_retried_within_the_endpoints_attempts(project: Project, server: Server) -> None:
    run = launch(project, endpoints(project, max_attempts=3), prompts=1)
    server.rules["Question", "*"] = [429, 500]
    run = generation_run_execute(run_id=run.pk, client_options=server.options())
    assert (run.items_done, run.items_failed) == (1, 0)


def test_a_response_that_cannot_be_stored_fails_its_item(project: Project, server: Server) -> None:
    run = launch(project, endpoints(project), prompts=1)
    server.rules["Question", "*"] = "nul"
    run = generation_run_execute(run_id=run.pk, client_options=server.options())
    item = run.items.get()
    assert item.status == GenerationItemStatus.FAILED and "NUL" in item.reason
    assert not Response.objects.filter(generation_run=run).exclude(text__contains="says").exists()


def test_a_prompt_too_long_for_the_model_fails_its_item_without_retrying(project: Project, server: Server) -> None:
    run = launch(project, endpoints(project, max_attempts=4), prompts=2)
    long_prompt = run.items.order_by("id").first().prompt  # type: ignore[union-attr]
    server.rules[long_prompt.turns[0]["content"], "m0"] = "too_long"
    run = generation_run_execute(run_id=run.pk, client_options=server.options())
    failed = run.items.get(status=GenerationItemStatus.FAILED)
    assert failed.prompt_id == long_prompt.pk and "maximum context length" in failed.reason
    assert failed.details["failures"]["ep-0"] == {
        "kind": "too_long",
        "message": failed.details["failures"]["ep-0"]["message"],
        "attempts": 1,
    }
    assert run.items_done == 1


def test_each_endpoint_keeps_its_concurrency_limit(project: Project, server: Server) -> None:
    one, two = endpoints(project)
    ModelEndpoint.objects.filter(pk=one.pk).update(concurrency_limit=1)
    ModelEndpoint.objects.filter(pk=two.pk).update(concurrency_limit=3)
    server.delay = 0.05
    run = launch(project, [one, two], prompts=6)
    assert generation_run_execute(run_id=run.pk, client_options=server.options()).items_done == 6
    assert server.most_in_flight["m0"] == 1
    assert 1 < server.most_in_flight["m1"] <= 3


def test_continuation_turns_extend_the_prompt_before_the_final_pair(project: Project, server: Server) -> None:
    run = launch(project, endpoints(project), prompts=1, continuation_turns=2)
    run = generation_run_execute(run_id=run.pk, client_options=server.options())
    item = run.items.get()
    assert item.status == GenerationItemStatus.DONE and item.context_prompt is not None
    roles = [t["role"] for t in item.context_prompt.turns]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert len(item.details["context"]) == 4 and item.details["context"][0]["latency_ms"] is not None
    comparison = Comparison.objects.get(metadata__generation_run=run.pk)
    assert comparison.prompt_id == item.context_prompt_id
    simulated = [c for c in server.calls if c["messages"][0]["role"] == "system"]
    assert len(simulated) == 2  # the user turns, asked by role reversal


def test_a_run_delivered_twice_runs_once_and_a_cancelled_one_not_at_all(project: Project, server: Server) -> None:
    eps = endpoints(project)
    run = launch(project, eps, prompts=1)
    generation_run_execute(run_id=run.pk, client_options=server.options())
    calls = len(server.calls)
    assert generation_run_execute(run_id=run.pk, client_options=server.options()).status == "finished"
    assert len(server.calls) == calls

    other = launch(project, eps)
    assert generation_run_cancel(run=other).status == GenerationRunStatus.CANCELLED
    assert generation_run_execute(run_id=other.pk, client_options=server.options()).status == "cancelled"
    assert len(server.calls) == calls
    with pytest.raises(Conflict) as caught:
        generation_run_cancel(run=other)
    assert caught.value.code == ErrorCode.GENERATION_NOT_RESUMABLE
    with pytest.raises(Conflict):
        generation_run_resume(run=GenerationRun.objects.create(project=project))  # a pending run


def test_launch_refuses_bad_selections(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    eps = endpoints(project)
    prompt = PromptFactory(project=project)
    for kwargs, field in [
        ({"endpoints": eps[:1]}, "endpoints"),
        ({"endpoints": [*eps[:1], ModelEndpointFactory()]}, "endpoints"),
        ({"prompts": []}, "prompts"),
        ({"prompts": [PromptFactory()]}, "prompts"),
        ({"pairs_per_prompt": 2}, "pairs_per_prompt"),
        ({"continuation_turns": 99}, "continuation_turns"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            generation_run_create(**{"project": project, "user": None, "endpoints": eps, "prompts": [prompt], **kwargs})
        assert field in caught.value.extra["fields"], kwargs
    monkeypatch.delenv(f"{KEY_ENV_PREFIX}GONE", raising=False)
    ModelEndpoint.objects.filter(pk=eps[0].pk).update(api_key_env=f"{KEY_ENV_PREFIX}GONE")
    eps[0].refresh_from_db()
    with pytest.raises(ValidationFailed) as caught:
        generation_run_create(project=project, user=None, endpoints=eps, prompts=[prompt])
    assert caught.value.code == ErrorCode.ENDPOINT_KEY_MISSING
    assert not GenerationRun.objects.exists()


def test_a_site_endpoint_serves_every_project(project: Project, server: Server) -> None:
    site = ModelEndpointFactory(project=None, name="site", model_id="site-model")
    run = launch(project, [endpoints(project, 1)[0], site], prompts=1)
    assert generation_run_execute(run_id=run.pk, client_options=server.options()).items_done == 1


def test_a_cancel_during_the_run_stops_it_and_leaves_no_half_item(
    project: Project, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from annotator.services import generation

    run = launch(project, endpoints(project, concurrency_limit=1), prompts=6)
    server.delay = 0.2
    checks = {"n": 0}
    still_owned = generation._still_owned

    def cancel_on_second_check(run_id: int, attempt: int, clock: Any) -> bool:
        checks["n"] += 1
        if checks["n"] == 2:
            generation_run_cancel(run=GenerationRun.objects.get(pk=run_id))
        return still_owned(run_id, attempt, clock)

    monkeypatch.setattr(generation, "_still_owned", cancel_on_second_check)
    run = generation_run_execute(run_id=run.pk, client_options=server.options())
    assert run.status == GenerationRunStatus.CANCELLED
    assert run.items.filter(status=GenerationItemStatus.PENDING).exists()
    assert run.items_done == Comparison.objects.filter(metadata__generation_run=run.pk).count() < 6
    assert len(server.calls) < 12


@pytest.mark.parametrize("failure", ["unreachable", "timeout"])
def test_an_unreachable_or_slow_endpoint_fails_its_items_with_the_reason(project: Project, failure: str) -> None:
    """Real sockets (no transport): a closed port, and a local stub that accepts but never answers in time."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if failure == "unreachable":
        listener.close()
    else:
        listener.listen()  # accepts connections, never answers
    try:
        eps = [ModelEndpointFactory(project=project, base_url=f"http://127.0.0.1:{port}/v1", max_attempts=1,
                                    timeout_seconds=1) for _ in range(2)]  # fmt: skip
        run = generation_run_execute(
            run_id=launch(project, eps, prompts=1).pk, client_options={"sleep": lambda s: None}
        )
    finally:
        listener.close()
    item = run.items.get()
    assert (run.status, item.status) == (GenerationRunStatus.FINISHED, GenerationItemStatus.FAILED)
    assert set(item.details["failures"]) == {e.name for e in eps}
    assert {f["kind"] for f in item.details["failures"].values()} == {failure}
    assert ("Cannot reach" if failure == "unreachable" else "No answer within") in item.reason


def test_a_run_records_one_response_per_prompt_and_endpoint(project: Project) -> None:
    from django.db import IntegrityError, transaction

    from annotator.llm.client import ChatResult
    from annotator.services.generation import generation_response_record

    run = launch(project, endpoints(project), prompts=1)
    endpoint, prompt = run.endpoints.first(), run.items.get().prompt
    assert endpoint is not None
    result = ChatResult(content="x", finish_reason="stop", prompt_tokens=1, completion_tokens=1, latency_ms=3,
                        attempts=1, model="m0")  # fmt: skip
    first = generation_response_record(run=run, prompt_id=prompt.pk, endpoint=endpoint, result=result)
    again = generation_response_record(run=run, prompt_id=prompt.pk, endpoint=endpoint, result=result)
    assert first.pk == again.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(prompt=prompt, text="y", generation_run=run, endpoint=endpoint)


def test_a_selection_over_the_limit_is_refused(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from annotator.selectors.generation import generation_prompts_select
    from annotator.services import generation

    monkeypatch.setattr(generation, "MAX_PROMPTS_PER_RUN", 2)
    prompts = [PromptFactory(project=project) for _ in range(3)]
    selection = generation_prompts_select(project=project, prompt_ids=[p.pk for p in prompts])
    with pytest.raises(ValidationFailed) as caught:
        generation_run_create(project=project, user=None, endpoints=endpoints(project), prompts=selection)
    assert "At most 2 prompts" in caught.value.extra["fields"]["prompts"]
    two = generation_prompts_select(project=project, prompt_ids=[p.pk for p in prompts[:2]])
    assert generation_run_create(project=project, user=None, endpoints=list(ModelEndpoint.objects.all()),
                                 prompts=two).items_total == 2  # fmt: skip


# --- a worker that died: heartbeat and sweep -----------------------------------------------------------------------


def _go_stale(run: GenerationRun) -> None:
    GenerationRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))


def _answer(text: str) -> ChatResult:
    return ChatResult(content=text, finish_reason="stop", prompt_tokens=1, completion_tokens=1, latency_ms=5,
                      attempts=1, model="m0")  # fmt: skip


def test_a_run_whose_worker_died_is_requeued_and_continues_where_it_stopped(
    project: Project, server: Server, django_capture_on_commit_callbacks: Any
) -> None:
    eps = endpoints(project)
    run = launch(project, eps, prompts=3)
    first = generation_run_start(run_id=run.pk)
    assert first is not None and (first.attempt, first.heartbeat_at is not None) == (1, True)
    prompt_id = run.items.order_by("id").first().prompt_id  # type: ignore[union-attr]
    generation_response_record(run=run, prompt_id=prompt_id, endpoint=eps[0], result=_answer("before the crash"))
    _go_stale(run)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = generation_runs_sweep_stale(stale_seconds=60)
    assert (result.requeued, result.failed) == ([run.pk], [])
    assert len(callbacks) == 1  # the run is sent to a worker again, once committed
    run.refresh_from_db()
    assert (run.status, run.attempt, run.heartbeat_at) == (GenerationRunStatus.PENDING, 1, None)
    assert run.requeue_reason.startswith("attempt 1: its worker stopped sending heartbeats")

    run = generation_run_execute(run_id=run.pk, client_options=server.options())
    assert (run.status, run.attempt, run.items_done) == (GenerationRunStatus.FINISHED, 2, 3)
    assert len(server.calls) == 2 * 3 - 1  # the answer written before the crash is not asked again
    assert Response.objects.filter(generation_run=run, prompt_id=prompt_id, endpoint=eps[0]).get().text == (
        "before the crash"
    )
    assert not generation_run_finish(run_id=run.pk, attempt=1)  # the dead attempt can no longer end the run


def test_the_sweep_leaves_a_run_that_beats_and_runs_that_do_not_run(project: Project) -> None:
    eps = endpoints(project)
    beating, pending = launch(project, eps), launch(project, eps)
    generation_run_start(run_id=beating.pk)
    assert generation_run_heartbeat(run_id=beating.pk, attempt=1)
    GenerationRun.objects.filter(pk=pending.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert generation_runs_sweep_stale(stale_seconds=60) == SweepResult()
    assert GenerationRun.objects.get(pk=beating.pk).status == GenerationRunStatus.RUNNING
    assert not generation_run_heartbeat(run_id=beating.pk, attempt=2)  # only the attempt that runs it beats


def test_a_run_out_of_attempts_fails_with_the_reason(
    project: Project, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PREFSTACK_JOB_MAX_ATTEMPTS = 1
    run = launch(project, endpoints(project))
    generation_run_start(run_id=run.pk)
    _go_stale(run)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert generation_runs_sweep_stale(stale_seconds=60).failed == [run.pk]
    assert not callbacks
    run.refresh_from_db()
    assert run.status == GenerationRunStatus.FAILED and run.finished_at is not None
    assert "stopped sending heartbeats" in run.error and run.error.endswith("no attempts left.")
    assert generation_runs_sweep_stale(stale_seconds=60) == SweepResult()  # a second sweep does nothing

    resumed = generation_run_resume(run=run)  # a lead's resume gives the run its attempts back
    assert (resumed.status, resumed.attempt, resumed.error) == (GenerationRunStatus.PENDING, 0, "")


def test_a_delivery_that_finds_its_run_silent_takes_it_over_and_continues(
    project: Project, server: Server, django_capture_on_commit_callbacks: Any
) -> None:
    """The pool process died mid-run and Celery handed the task back (acks_late, reject_on_worker_lost): that
    delivery takes the run over once its heartbeat has been silent two intervals, without waiting for the sweep or
    sending another message, and continues where the dead attempt stopped."""
    eps = endpoints(project)
    run = launch(project, eps, prompts=2)
    generation_run_start(run_id=run.pk)
    prompt_id = run.items.order_by("id").first().prompt_id  # type: ignore[union-attr]
    generation_response_record(run=run, prompt_id=prompt_id, endpoint=eps[0], result=_answer("before the crash"))
    _go_stale(run)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = generation_run_execute(run_id=run.pk, client_options=server.options())
    assert callbacks == []  # no second message: this delivery ran it
    assert (run.status, run.attempt, run.items_done) == (GenerationRunStatus.FINISHED, 2, 2)
    assert run.requeue_reason.startswith("attempt 1: its worker stopped sending heartbeats")
    assert len(server.calls) == 2 * 2 - 1


def test_a_delivery_that_finds_its_run_beating_leaves_it_to_its_worker(
    project: Project, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PREFSTACK_JOB_HEARTBEAT_SECONDS = 1
    run = launch(project, endpoints(project))
    generation_run_start(run_id=run.pk)

    def the_live_worker_beats(_seconds: float) -> None:
        assert generation_run_heartbeat(run_id=run.pk, attempt=1)

    monkeypatch.setattr(heartbeats.time, "sleep", the_live_worker_beats)
    assert generation_run_execute(run_id=run.pk).attempt == 1  # a duplicate delivery: nothing done
    run.refresh_from_db()
    assert (run.status, run.attempt, run.requeue_reason) == (GenerationRunStatus.RUNNING, 1, "")


def test_the_run_tasks_are_handed_back_when_their_pool_process_dies() -> None:
    from annotator.tasks import generation_run_execute_task, judge_run_execute_task

    for task in (generation_run_execute_task, judge_run_execute_task):
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True), task.name
