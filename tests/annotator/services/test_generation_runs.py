"""Generation runs through a scripted OpenAI-compatible transport (httpx2.MockTransport): responses with their
provenance, comparisons from seeded pairs of different endpoints, per-item failures with reasons, retries, the
concurrency limit, continuation turns, cancel and resume (continuing where the run stopped)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import httpx2
import pytest

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, ValidationFailed
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
from annotator.services.generation import (
    GENERATION_SOURCE,
    generation_run_cancel,
    generation_run_create,
    generation_run_execute,
    generation_run_resume,
)
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
