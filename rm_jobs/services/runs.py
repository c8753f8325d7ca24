"""What a worker does with a training job: claim it, feed the snapshot's trainer-ready files to the engine, record
progress, evaluate, and finish — every write through the conditional transitions of :mod:`rm_jobs.services.jobs`.
"""

from __future__ import annotations

import logging
import math
import traceback
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from annotator.models import Snapshot
from annotator.services.heartbeats import BackgroundBeat
from annotator.services.snapshots.files import snapshot_export_file
from annotator.storage import key_of, retrying
from rm_jobs.models import JobStatus, TrainingJob
from rm_jobs.services.groups import stage_runs_as_group, training_stage_run_group
from rm_jobs.services.jobs import (
    latest_checkpoint,
    media_path,
    stage_output_dir,
    training_job_checkpoint_store,
    training_job_finish,
    training_job_heartbeat,
    training_job_log,
    training_job_progress,
    training_job_stage_done,
    training_job_start,
)
from rm_jobs.training import TrainConfig

if TYPE_CHECKING:  # torch and transformers load in the worker only, when a job runs
    from rm_jobs.training import PairMetrics, Progress, RegressionMetrics
    from rm_jobs.training.data import Row

logger = logging.getLogger(__name__)

# Trainer-ready export formats (annotator.exports.formats) by the kind of data a stage trains on.
TRAINER_FORMATS = {"preference": "trl-preference", "regression": "regression"}


def snapshot_trainer_rows(*, snapshot: Snapshot, data: str) -> tuple[list[Row], list[Row]]:
    """(train, validation) rows of a ready snapshot's trainer-ready file: ``preference`` (TRL: prompt, chosen,
    rejected, margin, split, id) or ``regression`` (prompt, response, one column per attribute, split, id)."""
    path = snapshot_export_file(snapshot=snapshot, fmt=TRAINER_FORMATS[data], file_type="jsonl")
    from rm_jobs.training import load_rows, split_rows

    return split_rows(load_rows(path))


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _finite_map(values: dict[str, float]) -> dict[str, float | None]:
    return {name: _finite(v) for name, v in values.items()}


def validation_summary(metrics: PairMetrics | RegressionMetrics | None) -> dict[str, Any]:
    """Engine validation metrics as JSON-safe numbers (NaN → null)."""
    from rm_jobs.training import PairMetrics, RegressionMetrics

    if isinstance(metrics, PairMetrics):
        return {
            "loss": _finite(metrics.loss),
            "accuracy": _finite(metrics.accuracy),
            "mean_margin": _finite(metrics.mean_margin),
            "num_pairs": metrics.num_pairs,
        }
    if isinstance(metrics, RegressionMetrics):
        return {
            "loss": _finite(metrics.loss),
            "rmse": _finite_map(metrics.rmse),
            "pearson": _finite_map(metrics.pearson),
            "num_rows": metrics.num_rows,
        }
    return {}


class _Reporter:
    """The engine's ``on_progress`` and ``should_stop``: writes each step, and stops the loop when the job was
    cancelled or taken from this attempt."""

    def __init__(self, job_id: int, attempt: int, stage: int) -> None:
        self.job_id, self.attempt, self.stage = job_id, attempt, stage
        self.stop = False
        self.lost = False

    def on_progress(self, progress: Progress) -> None:
        points: list[dict[str, Any]] = [
            {
                "split": "train",
                "epoch": progress.epoch,
                "loss": _finite(progress.loss),
                "accuracy": _finite(progress.accuracy),
                "tokens_per_s": _finite(progress.tokens_per_s),
                "learning_rate": progress.lr,
            }
        ]
        if progress.validation is not None:
            summary = validation_summary(progress.validation)
            points.append(
                {"split": "validation", "epoch": progress.epoch, "loss": summary.get("loss"),
                 "accuracy": summary.get("accuracy")}
            )  # fmt: skip
        report = training_job_progress(
            job_id=self.job_id,
            attempt=self.attempt,
            stage=self.stage,
            step=progress.step,
            total_steps=progress.total_steps,
            points=points,
        )
        if not report.owned:
            self.lost = self.stop = True
        elif report.cancel_requested:
            self.stop = True

    def should_stop(self) -> bool:
        return self.stop


def training_job_execute(*, job_id: int, worker: str) -> TrainingJob | None:
    """Run a queued job to its end on this worker; None when it was not queued (a repeated delivery).

    Stages run in order (regression then Scaled BT starts the second from the first's ``final/``); an attempt that
    resumes picks up its stage at ``resume_from``. At the end the model is evaluated on the snapshot's validation
    split and the job succeeds with ``checkpoint_path`` = the final model directory. A cancel ends it
    ``cancelled`` with the checkpoint written at the stop; any exception ends it ``failed`` with the traceback.
    """
    job = training_job_start(job_id=job_id, worker=worker)
    if job is None:
        logger.info("job %s is not queued: nothing to run", job_id)
        return None
    attempt = job.attempt
    # Beats from a thread while the engine loads, tokenizes and trains, so a long model load or a slow step is not
    # taken for a dead worker.
    beat = partial(training_job_heartbeat, job_id=job_id, attempt=attempt)
    with BackgroundBeat(beat, every_s=settings.PREFSTACK_JOB_HEARTBEAT_SECONDS, name=f"heartbeat of job {job_id}"):
        try:
            outcome = _run_stages(job, attempt)
        except Exception as error:
            logger.exception("training job %s failed", job_id)
            training_job_finish(
                job_id=job_id,
                attempt=attempt,
                status=JobStatus.FAILED,
                error=f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=12)}",
            )
        else:
            if outcome is not None:
                status, checkpoint, summary = outcome
                training_job_finish(
                    job_id=job_id, attempt=attempt, status=status, checkpoint_path=checkpoint, summary=summary
                )
    return TrainingJob.objects.get(id=job_id)


def _run_stages(job: TrainingJob, attempt: int) -> tuple[str, str, dict[str, Any]] | None:
    stages: list[dict[str, Any]] = job.config["stages"]
    summary: dict[str, Any] = dict(job.summary or {})
    summary.setdefault("stages", [])
    rows_cache: dict[str, tuple[list[Row], list[Row]]] = {}
    model_dir: Path | None = None
    for index in range(job.stage, len(stages)):
        spec = stages[index]
        config = TrainConfig.from_dict(spec["train"])
        if spec["init_from"] == "previous":
            previous = stage_output_dir(job, index - 1) / "final"
            config = config.replace(model_path=str(previous))
        if spec["data"] not in rows_cache:
            rows_cache[spec["data"]] = snapshot_trainer_rows(snapshot=job.snapshot, data=spec["data"])
        train_rows, val_rows = rows_cache[spec["data"]]
        resume = _local_resume_point(job) if index == job.stage else None
        training_job_log(
            job_id=job.id,
            line=f"stage {index + 1}/{len(stages)}: {config.objective} on {len(train_rows)} training rows, "
            f"{len(val_rows)} validation rows" + (f", resuming {key_of(resume)}" if resume else ""),
        )
        reporter = _Reporter(job.id, attempt, index)
        from rm_jobs.training import train

        if stage_runs_as_group(job):  # several devices, or FSDP: a supervised torchrun group trains it
            result = training_stage_run_group(
                job=job,
                stage=index,
                config=config,
                train_file=snapshot_export_file(
                    snapshot=job.snapshot, fmt=TRAINER_FORMATS[spec["data"]], file_type="jsonl"
                ),
                resume_from=resume,
                on_progress=reporter.on_progress,
                should_stop=reporter.should_stop,
            )
        else:
            result = train(
                config,
                train_rows,
                val_rows,
                output_dir=stage_output_dir(job, index),
                on_progress=reporter.on_progress,
                should_stop=reporter.should_stop,
                resume_from=resume,
            )
        if reporter.lost:
            logger.warning("job %s attempt %s lost its claim; stopping without writing", job.id, attempt)
            return None
        stage_summary = {
            "objective": config.objective,
            "steps": result.steps,
            "total_steps": result.total_steps,
            "train_loss": _finite(result.train_loss),
            "wall_s": round(result.wall_s, 3),
            "tokens_per_s": _finite(result.tokens_per_s),
            "examples_per_s": _finite(result.examples_per_s),
            "validation": validation_summary(result.validation),
        }
        summary["stages"] = [*summary["stages"][:index], stage_summary]
        if result.cancelled:
            return JobStatus.CANCELLED, _store(job, result.checkpoint_dir), _totals(summary)
        model_dir = result.model_dir
        if index + 1 < len(stages):
            training_job_stage_done(job_id=job.id, attempt=attempt, next_stage=index + 1, summary=summary)
    assert model_dir is not None
    from rm_jobs.services.evaluations import evaluation_run_for_job  # evaluations import this module's helpers

    evaluation = evaluation_run_for_job(job=job, model_dir=model_dir)
    summary["evaluation"] = evaluation.id
    if evaluation.metrics:
        summary["accuracy"] = evaluation.metrics.get("accuracy")
        summary["rmse"] = evaluation.metrics.get("rmse_mean")
    # The model is stored (files and zip) before the job is recorded as succeeded with its key.
    return JobStatus.SUCCEEDED, _store(job, model_dir), _totals(summary)


def _store(job: TrainingJob, model_dir: Path) -> str:
    """Upload the model from this worker's scratch (retried while the store is down); a distributed job's
    transfers are made here too, by the worker that supervises its torchrun group (where rank 0 runs)."""
    return retrying(lambda: training_job_checkpoint_store(job=job, model_dir=model_dir), what=f"job {job.id}")


def _local_resume_point(job: TrainingJob) -> Path | None:
    """Where the job's current stage resumes on this worker. Resumable checkpoints (optimizer state included) stay in
    the local scratch of the worker that wrote them and are never uploaded: a job re-queued after its worker died
    resumes from them when it runs on that worker again (the usual case: the worker restarted), from the newest
    one found there even when the sweeper that re-queued it ran elsewhere; on another worker the stage starts over."""
    if job.resume_from and media_path(job.resume_from).is_dir():
        return media_path(job.resume_from)
    if job.attempt > 1:
        return latest_checkpoint(stage_output_dir(job, job.stage))
    return None


def _totals(summary: dict[str, Any]) -> dict[str, Any]:
    stages = summary.get("stages", [])
    wall = sum(s.get("wall_s") or 0.0 for s in stages)
    summary["wall_s"] = round(wall, 3)
    rates = [s["tokens_per_s"] for s in stages if s.get("tokens_per_s")]
    summary["tokens_per_s"] = round(sum(rates) / len(rates), 1) if rates else None
    return summary
