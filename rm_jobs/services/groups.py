"""A training stage that runs as a ``torchrun`` process group supervised by the worker (jobs with ``gpus > 1`` or
strategy ``fsdp``). The worker keeps its heartbeat thread and records rank 0's live metrics through the same
reporter as an in-process run; see :mod:`rm_jobs.training.launcher` for cancel, failure and worker-death handling.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from annotator.error_codes import ErrorCode
from annotator.errors import ApplicationError
from rm_jobs.models import Queue, Strategy, TrainingJob
from rm_jobs.services.jobs import latest_checkpoint, stage_output_dir, training_job_log
from rm_jobs.training import TrainConfig

if TYPE_CHECKING:
    from rm_jobs.training import Progress, TrainResult

logger = logging.getLogger(__name__)

LAUNCH_CONFIG_FILE_NAME = "launch-config.json"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # on the ranks' PYTHONPATH, so ``-m rm_jobs.training`` imports


class GroupFailed(ApplicationError):
    """The torchrun group of a job ended without a result (a rank died, or it could not start)."""

    code = ErrorCode.TRAINING_GROUP_FAILED


def stage_runs_as_group(job: TrainingJob) -> bool:
    """True when the job's stages run under torchrun rather than in the worker's own process."""
    return job.gpus > 1 or job.strategy == Strategy.FSDP


def worker_devices(queue: str) -> int:
    """What this worker can give one job: its CUDA devices on the gpu queue, the configured CPU processes else."""
    if queue == Queue.GPU:
        import torch

        return torch.cuda.device_count()
    return int(settings.PREFSTACK_QUEUE_DEVICES.get(queue, 1))


def training_stage_run_group(
    *,
    job: TrainingJob,
    stage: int,
    config: TrainConfig,
    train_file: Path,
    resume_from: Path | None,
    on_progress: Callable[[Progress], None],
    should_stop: Callable[[], bool],
) -> TrainResult:
    """Run one stage as ``torchrun --nproc-per-node job.gpus … -m rm_jobs.training train`` and wait for its end.

    Raises GroupFailed before starting anything when this worker has fewer devices than the job asks for, and when
    the group ends without rank 0's result (a rank died, a bad configuration): the job then fails with the log tail.
    """
    from rm_jobs.training.launcher import RESULT_FILE_NAME, supervise, torchrun_command

    available = worker_devices(job.queue)
    if job.gpus > available:
        raise GroupFailed(
            f"job {job.id} asks for {job.gpus} devices and worker {job.worker} has {available}; "
            f"relaunch it with gpus ≤ {available} or on a queue whose workers have more"
        )
    run_dir = stage_output_dir(job, stage)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / LAUNCH_CONFIG_FILE_NAME
    config_path.write_text(json.dumps(config.to_dict(), indent=2))
    arguments = ["--config", str(config_path), "--train", str(train_file), "--output-dir", str(run_dir)]
    arguments += ["--progress-file", str(run_dir / "progress.jsonl"), "--result-file", str(run_dir / RESULT_FILE_NAME)]
    if resume_from is not None:
        arguments += ["--resume-from", str(resume_from)]
    command = torchrun_command(job.gpus, arguments)
    root = str(PROJECT_ROOT)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": str(config.num_threads or 1),
    }
    training_job_log(job_id=job.id, line=f"stage {stage + 1}: torchrun group of {job.gpus} ({config.strategy})")
    outcome = supervise(command, run_dir, on_progress=on_progress, should_stop=should_stop, env=env)
    if outcome.result is not None:
        return outcome.result
    if outcome.stopped:  # stopped before rank 0 could write a result: keep what the group had saved
        checkpoint = latest_checkpoint(run_dir)
        raise GroupFailed(
            f"the torchrun group was stopped before it finished (exit {outcome.returncode}); "
            f"last checkpoint: {checkpoint or 'none'}"
        )
    logger.error("torchrun group of job %s failed:\n%s", job.id, outcome.log_tail)
    raise GroupFailed(
        f"the torchrun group exited with status {outcome.returncode} (a rank failed or died); "
        f"the end of its log:\n{outcome.log_tail[-2000:]}"
    )
