"""The Python client with a real Celery worker behind the live server: a snapshot built by the worker, a tiny
training job launched, its metrics streamed with a tqdm bar until it succeeds, then an evaluation run by the worker
and the trained model scoring pairs."""

from __future__ import annotations

from typing import Any

import pytest
from prefstack import Client

from annotator.models import Role
from rm_jobs.models import JobMetric
from tests.annotator.services.test_snapshots import annotate
from tests.factories import ComparisonFactory, ProjectFactory, member
from tests.rm_jobs.conftest import ready_snapshot
from tests.worker import worker_process

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {"PREFSTACK_JOB_HEARTBEAT_SECONDS": "1", "OMP_NUM_THREADS": "1"}


def test_snapshot_training_metrics_evaluation_and_scores_through_a_worker(
    live_server: Any, tiny_base_model: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = ProjectFactory(slug="worker-client")
    researcher = member(project, Role.RESEARCHER, username="rex")
    annotators = [member(project, Role.ANNOTATOR) for _ in range(3)]
    for strength in (-1, 2):
        comparison = ComparisonFactory(project=project)
        for user in annotators:
            annotate(comparison, user, 2, 3, strength)
    trainable = ready_snapshot(project, comparisons=20)  # 16 train pairs, 4 validation
    assert researcher.username == "rex"

    with worker_process(env=WORKER_ENV), Client.login(live_server.url, "rex", "pw-for-tests") as client:
        built = client.create_snapshot("worker-client", wait=True, timeout=180)
        assert built.status == "ready"
        assert built.counts["included"] == 2

        job = client.create_training_job(
            "worker-client",
            snapshot=trainable.id,
            objective="bt",
            base_model=tiny_base_model,
            hyperparameters={"batch_size": 2, "max_length": 64, "max_steps": 6},
        )
        assert job.status == "queued"
        streamed = [(name, point.x) for name, point in client.stream_metrics(job.id, poll_interval=0.2)]
        assert [x for name, x in streamed if name == "loss"] == list(range(1, 7))
        done = client.wait_for_training_job(job.id, progress=False, timeout=60)
        assert (done.status, done.step, done.total_steps) == ("succeeded", 6, 6)
        assert JobMetric.objects.filter(job_id=job.id, split="train").count() == 6

        evaluation = client.evaluate(job.id, snapshot=trainable.id, wait=True, timeout=180)
        assert evaluation.status == "succeeded", evaluation.error
        assert evaluation.metrics["num_pairs"] == 4

        rewards = client.score_pairs(job.id, [("How do I do it?", "clear helpful"), ("How do I do it?", "rude")])
        assert len(rewards) == 2

    bar = capsys.readouterr().err
    assert f"job {job.id}" in bar and "6/6" in bar  # the tqdm bar reached the last step
