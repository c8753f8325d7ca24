"""A generation run end to end: ``transformers serve`` (a tiny local model) on 127.0.0.1, a proxy that answers 429
twice and garbage for one prompt, a real Celery worker, and the comparisons and provenance it writes."""

from __future__ import annotations

import os
import signal
import time

import pytest

from annotator.models import Comparison, GenerationItemStatus, GenerationRun, GenerationRunStatus, Response
from annotator.services.generation import generation_run_create
from annotator.services.model_endpoints import model_endpoint_create
from tests.factories import ProjectFactory, PromptFactory
from tests.llm_server import FlakyProxy, LlmServer
from tests.worker import pool_children, worker_process

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for_end(run: GenerationRun, timeout: float = 240) -> GenerationRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status not in (GenerationRunStatus.PENDING, GenerationRunStatus.RUNNING):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run still {run.status} after {timeout:.0f} s")


def test_a_worker_runs_a_generation_job_against_a_real_openai_compatible_server(
    llm_server: LlmServer, flaky_proxy: FlakyProxy
) -> None:
    project = ProjectFactory()
    direct = model_endpoint_create(project=project, name="direct", base_url=llm_server.base_url,
                                   model_id=llm_server.model_id, sampling={"max_tokens": 8, "temperature": 0.8})  # fmt: skip
    proxied = model_endpoint_create(project=project, name="proxied", base_url=flaky_proxy.base_url,
                                    model_id=llm_server.model_id, sampling={"max_tokens": 6, "seed": 3},
                                    max_attempts=4, concurrency_limit=2)  # fmt: skip
    prompts = [PromptFactory(project=project, turns=[{"role": "user", "content": f"Say something {i}."}])
               for i in range(3)]  # fmt: skip
    prompts.append(PromptFactory(project=project, turns=[{"role": "user", "content": "GARBAGE please"}]))
    flaky_proxy.busy, flaky_proxy.garbage_word = 2, "GARBAGE"

    with worker_process():
        run = generation_run_create(project=project, user=None, endpoints=[direct, proxied], prompts=prompts, seed=5)
        run = wait_for_end(run)

    assert run.status == GenerationRunStatus.FINISHED, run.error
    assert (run.items_total, run.items_done, run.items_failed, run.comparisons_created) == (4, 3, 1, 3)
    assert flaky_proxy.statuses.count(429) == 2  # retried, then answered
    failed = run.items.get(status=GenerationItemStatus.FAILED)
    assert failed.prompt_id == prompts[-1].pk
    assert "proxied" in failed.reason and "not JSON" in failed.reason
    assert failed.details["failures"]["proxied"]["kind"] == "garbage"

    for comparison in Comparison.objects.filter(project=project).select_related("response_1", "response_2"):
        assert {comparison.response_1.endpoint_name, comparison.response_2.endpoint_name} == {"direct", "proxied"}
    responses = Response.objects.filter(generation_run=run)
    assert responses.count() == 3 * 2 + 1  # the failed prompt keeps the direct answer for a resume
    for response in responses:
        assert response.model_name == llm_server.model_id
        assert response.finish_reason in ("stop", "length")
        assert response.prompt_tokens and response.prompt_tokens > 0
        assert response.completion_tokens is not None and response.latency_ms is not None
    proxied_answer = responses.filter(endpoint=proxied).first()
    assert proxied_answer is not None and proxied_answer.sampling == {"max_tokens": 6, "seed": 3}
    assert proxied_answer.completion_tokens is not None and proxied_answer.completion_tokens <= 6
    assert all(body["max_tokens"] == 6 for body in flaky_proxy.seen)


def test_a_run_whose_pool_process_is_killed_mid_request_is_taken_over_by_the_task_celery_hands_back(
    llm_server: LlmServer, flaky_proxy: FlakyProxy
) -> None:
    """kill -9 of the pool process while it waits for an answer: Celery hands the task back (acks_late,
    reject_on_worker_lost), the new pool process takes the run over after two silent heartbeat intervals — not after
    the sweep's stale threshold (600 s here) — and asks only what the dead attempt had not written."""
    project = ProjectFactory()
    direct = model_endpoint_create(project=project, name="direct", base_url=llm_server.base_url,
                                   model_id=llm_server.model_id, sampling={"max_tokens": 4})  # fmt: skip
    proxied = model_endpoint_create(project=project, name="proxied", base_url=flaky_proxy.base_url,
                                    model_id=llm_server.model_id, sampling={"max_tokens": 4})  # fmt: skip
    prompts = [PromptFactory(project=project, turns=[{"role": "user", "content": "Say something."}]),
               PromptFactory(project=project, turns=[{"role": "user", "content": "HOLD on a moment."}])]  # fmt: skip
    flaky_proxy.hold_word = "HOLD"
    env = {"PREFSTACK_JOB_HEARTBEAT_SECONDS": "1", "PREFSTACK_JOB_STALE_SECONDS": "600"}
    with worker_process(hostname="oom-generation", env=env, pool="prefork") as worker:
        run = generation_run_create(project=project, user=None, endpoints=[direct, proxied], prompts=prompts, seed=1)
        assert flaky_proxy.held.wait(timeout=120), "the run never reached the held request"
        (child,) = pool_children(worker)
        os.kill(child, signal.SIGKILL)
        killed_at = time.monotonic()
        flaky_proxy.released.set()
        run = wait_for_end(run)
        taken_after = time.monotonic() - killed_at
    assert run.status == GenerationRunStatus.FINISHED, run.error
    assert (run.attempt, run.items_done, run.comparisons_created) == (2, 2, 2)
    assert run.requeue_reason.startswith("attempt 1: its worker stopped sending heartbeats")
    assert taken_after < 120, f"{taken_after:.0f} s: the sweep's threshold is 600 s"
    # Each prompt was answered once per endpoint, however many times the dead attempt had asked.
    assert Response.objects.filter(generation_run=run).count() == 4
