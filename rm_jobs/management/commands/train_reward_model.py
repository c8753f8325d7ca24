"""``manage.py train_reward_model``: the same job the jobs page creates, from the command line."""

from __future__ import annotations

import socket
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotator.errors import ApplicationError
from annotator.selectors.snapshots import snapshot_find
from rm_jobs.models import FINISHED_STATUSES, JobStatus, Objective, Queue, Strategy, TrainingJob
from rm_jobs.services.jobs import media_path, training_job_create
from rm_jobs.services.runs import training_job_execute


class Command(BaseCommand):
    help = (
        "Train a reward model on a ready snapshot. The job runs on a Celery worker of --queue; --wait follows it "
        "with a progress bar, --inline runs it in this process. Ends with job/status/checkpoint lines; the exit "
        "status is non-zero unless the job succeeded (with --wait or --inline)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--snapshot", type=int, required=True, help="Snapshot id (a ready one).")
        parser.add_argument("--objective", required=True, choices=Objective.values)
        parser.add_argument("--base-model", help="A name from PREFSTACK_BASE_MODELS or a local model directory.")
        parser.add_argument("--max-steps", type=int, help="Stop each stage after N optimizer steps.")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--learning-rate", type=float)
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--max-length", type=int)
        parser.add_argument("--queue", choices=Queue.values, default=Queue.DEFAULT)
        parser.add_argument("--gpus", type=int, default=1, help="Processes of the job's torchrun group.")
        parser.add_argument("--strategy", choices=Strategy.values, default=Strategy.AUTO)
        parser.add_argument("--wait", action="store_true", help="Follow the job until it ends.")
        parser.add_argument("--inline", action="store_true", help="Run the job here instead of on a worker.")
        parser.add_argument("--timeout", type=float, default=24 * 3600, help="With --wait: give up after N seconds.")

    def handle(self, *args: Any, **options: Any) -> None:
        snapshot = snapshot_find(snapshot_id=options["snapshot"])
        if snapshot is None:
            raise CommandError(f"No snapshot with id {options['snapshot']}.")
        hyper = {
            key: options[key]
            for key in ("max_steps", "batch_size", "learning_rate", "epochs", "max_length")
            if options.get(key) is not None
        }
        try:
            job = training_job_create(
                snapshot=snapshot,
                user=None,
                objective=options["objective"],
                base_model=options.get("base_model"),
                queue=options["queue"],
                hyperparameters=hyper,
                allow_model_path=True,
                gpus=options["gpus"],
                strategy=options["strategy"],
            )
        except ApplicationError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"job: {job.id}")
        if options["inline"]:
            training_job_execute(job_id=job.id, worker=f"cli@{socket.gethostname()}")
        elif options["wait"]:
            self._follow(job, options["timeout"])
        else:
            self.stdout.write(f"status: {job.status}")
            return
        job.refresh_from_db()
        self._report(job)

    def _follow(self, job: TrainingJob, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        bar = tqdm(total=None, unit="step", desc=f"job {job.id} {job.status}", file=self.stderr, dynamic_ncols=True)
        try:
            while time.monotonic() < deadline:
                job.refresh_from_db()
                if job.total_steps and bar.total != job.total_steps:
                    bar.reset(total=job.total_steps)
                bar.n = job.step
                bar.set_description(f"job {job.id} {job.status} stage {job.stage + 1}")
                bar.refresh()
                if job.status in FINISHED_STATUSES:
                    return
                time.sleep(0.5)
        finally:
            bar.close()

    def _report(self, job: TrainingJob) -> None:
        self.stdout.write(f"status: {job.status}")
        if job.summary.get("accuracy") is not None:
            self.stdout.write(f"accuracy: {job.summary['accuracy']:.4f}")
        if job.checkpoint_path:
            self.stdout.write(f"checkpoint: {media_path(job.checkpoint_path)}")
        if job.status != JobStatus.SUCCEEDED:
            reason = job.error.splitlines()[0] if job.error else f"the job is {job.status}"
            raise CommandError(f"job {job.id} did not succeed: {reason}")
