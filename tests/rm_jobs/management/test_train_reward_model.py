"""manage.py train_reward_model: creates the same job as the page; ends with job/status/checkpoint lines and a
non-zero exit unless the job succeeded. (--wait with a real worker: tests/rm_jobs/test_training_job_worker.py.)"""

from __future__ import annotations

import io
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from transformers import AutoModelForSequenceClassification

from rm_jobs.models import JobStatus, TrainingJob

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("train_reward_model", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().splitlines()


def test_without_wait_it_queues_the_job(snapshot, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        lines = run("--snapshot", str(snapshot.id), "--objective", "margin_bt", "--base-model", str(tiny_model),
                    "--max-steps", "3", "--queue", "gpu")  # fmt: skip
    job = TrainingJob.objects.get()
    assert lines == [f"job: {job.id}", "status: queued"]
    assert (job.queue, job.objective, job.config["hyperparameters"]["max_steps"]) == ("gpu", "margin_bt", 3)
    assert len(callbacks) == 1


def test_inline_runs_it_here_and_prints_the_checkpoint(snapshot, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        lines = run("--snapshot", str(snapshot.id), "--objective", "bt", "--base-model", str(tiny_model),
                    "--max-steps", "2", "--batch-size", "8", "--max-length", "64", "--inline")  # fmt: skip
    job = TrainingJob.objects.get()
    assert lines[0] == f"job: {job.id}"
    assert "status: succeeded" in lines
    checkpoint = next(line for line in lines if line.startswith("checkpoint: ")).removeprefix("checkpoint: ")
    assert AutoModelForSequenceClassification.from_pretrained(checkpoint).config.num_labels == 1


def test_a_failed_job_exits_non_zero(snapshot, tiny_model, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=False),
        mock.patch("rm_jobs.training.loop.train", side_effect=RuntimeError("boom")),
        pytest.raises(CommandError, match="did not succeed: RuntimeError: boom"),
    ):
        run("--snapshot", str(snapshot.id), "--objective", "bt", "--base-model", str(tiny_model), "--inline")
    assert TrainingJob.objects.get().status == JobStatus.FAILED


def test_bad_arguments_are_command_errors(snapshot, tiny_model):
    with pytest.raises(CommandError, match="No snapshot"):
        run("--snapshot", "999999", "--objective", "bt")
    with pytest.raises(CommandError, match="Unknown base model"):
        run("--snapshot", str(snapshot.id), "--objective", "bt", "--base-model", "/no/such/dir")


def test_more_devices_than_a_worker_has_is_a_command_error(snapshot, tiny_model, settings):
    settings.PREFSTACK_QUEUE_DEVICES = {"default": 2, "gpu": 1}
    with pytest.raises(CommandError, match="asks for 3 CPU processes, and a worker of the 'default' queue has 2"):
        run("--snapshot", str(snapshot.id), "--objective", "bt", "--base-model", str(tiny_model), "--gpus", "3")
    assert not TrainingJob.objects.exists()


@pytest.mark.slow
def test_inline_fsdp_on_two_processes_runs_a_supervised_group(snapshot, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        lines = run("--snapshot", str(snapshot.id), "--objective", "bt", "--base-model", str(tiny_model),
                    "--max-steps", "2", "--batch-size", "4", "--max-length", "64", "--gpus", "2",
                    "--strategy", "fsdp", "--inline")  # fmt: skip
    job = TrainingJob.objects.get()
    assert "status: succeeded" in lines, job.error
    assert "torchrun group of 2 (fsdp)" in job.log
    assert job.metrics.filter(split="train").count() == 2
    checkpoint = next(line for line in lines if line.startswith("checkpoint: ")).removeprefix("checkpoint: ")
    AutoModelForSequenceClassification.from_pretrained(checkpoint)
