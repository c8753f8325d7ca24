"""Training jobs: create, cancel, and the conditional status transitions a worker makes.

Every transition is one conditional UPDATE on the current status (and, for a worker's writes, on its ``attempt``),
so a task delivered twice, a cancel racing a finish, or a worker that comes back after it was given up on changes
nothing twice. Work is enqueued with ``transaction.on_commit`` on the job's own queue: ``gpu`` jobs reach only the
workers that consume ``gpu``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from annotator.domain import HELPSTEER2_ATTRIBUTES
from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, InvalidCombination, NotFound, ValidationFailed
from annotator.models import Snapshot, SnapshotStatus
from annotator.selectors.projects import project_attribute_names
from annotator.services.heartbeats import (
    SweepResult,
    heartbeat_attempts_left,
    heartbeat_stale,
    heartbeat_stale_reason,
)
from annotator.storage import (
    delete_tree,
    download_to_scratch,
    exists,
    is_scratch_the_store,
    key_of,
    new_folder,
    scratch_path,
    upload_dir,
    upload_file,
)
from rm_jobs.models import JobStatus, Objective, Queue, Strategy, TrainingJob
from rm_jobs.services.webhook_events import training_job_finished_emit
from rm_jobs.training import TrainConfig
from rm_jobs.training.config import BOUNDS, DEFAULT_LORA_RANK, PRECISIONS
from rm_jobs.training.memory import GIB, ModelShape, plan_memory, suggestions
from rm_jobs.training.preflight import DeviceType, ModelInputError, preflight

logger = logging.getLogger(__name__)

CHECKPOINT_ZIP = "checkpoint.zip"
RESUME_STATE_FILE = "trainer_state.pt"
# A sharded (FSDP) checkpoint's resume state: rm_jobs.training.distributed.SHARDS_DIR_NAME (that module loads torch).
SHARDS_FOLDER = "dcp"


# ---------------------------------------------------------------------------------------------------------------
# Hyper-parameters and base models
# ---------------------------------------------------------------------------------------------------------------


_OPTIONAL = frozenset({"max_steps", "eval_every_steps", "center_rewards_coefficient", "num_threads", "lora_alpha"})


@dataclass(frozen=True)
class HyperParameters:
    """What a researcher may set for a job; everything else is the engine's default (rm_jobs.training.TrainConfig).

    Defaults are TRL's reward-trainer defaults where they exist (learning rate 1e-4 for small encoders, one epoch).
    """

    learning_rate: float = 1e-4
    batch_size: int = 16
    epochs: int = 1
    max_steps: int | None = None
    max_length: int = 512
    warmup_ratio: float = 0.0
    seed: int = 42
    save_every_steps: int = 200
    eval_every_steps: int | None = None
    margin_scale: float = 1.0
    """Margin BT: the margin is margin_scale x |preference strength|."""
    center_rewards_coefficient: float | None = None
    """Pairwise objectives: adds coef x mean((r_c + r_r)^2) so rewards stay centred (TRL recommends 0.01)."""
    expo_alpha: float = 0.0
    """ExPO on the job's last stage: final weights = theta_T + alpha (theta_T - theta_0); 0 = off."""
    num_threads: int | None = None
    """torch threads of a CPU job; empty = torch's default (every core of the worker)."""
    precision: str = "auto"
    """fp32, bf16-mixed, bf16 or auto (see TrainConfig.precision and docs/scaling.md)."""
    gradient_checkpointing: bool = False
    """Activation checkpointing: recompute each block in the backward (~+30 % compute, far less memory)."""
    lora_r: int = 0
    """LoRA rank; 0 = full fine-tuning."""
    lora_alpha: float | None = None
    lora_dropout: float = 0.0
    qlora: bool = False
    """4-bit base under the LoRA adapters (GPU queue only)."""

    def check(self) -> None:
        """Raise ValidationFailed naming every out-of-range field (ranges: rm_jobs.training.config.BOUNDS)."""
        problems: dict[str, str] = {}
        for name, bound in BOUNDS.items():
            value = getattr(self, name, None)
            if value is not None and not bound.contains(value):
                problems[name] = bound.message() + (" Or empty." if name in _OPTIONAL else "")
        if self.precision not in PRECISIONS:
            problems["precision"] = f"One of {', '.join(PRECISIONS)}."
        if problems:
            first = next(iter(problems))
            raise ValidationFailed(f"{first}: {problems[first]}", extra={"fields": problems})
        if self.qlora and self.lora_r == 0:
            message = "QLoRA trains LoRA adapters: set a rank (e.g. 16)."
            raise InvalidCombination(f"lora_r: {message}", extra={"fields": {"lora_r": message, "qlora": message}})

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> HyperParameters:
        data = {k: v for k, v in (data or {}).items() if v is not None and v != ""}
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationFailed(
                f"Unknown hyper-parameter {unknown[0]!r}.", extra={"fields": dict.fromkeys(unknown, "Unknown.")}
            )
        try:
            hyper = cls(**data)
        except TypeError as error:  # pragma: no cover - guarded by the unknown-key check
            raise ValidationFailed(str(error)) from error
        hyper.check()
        return hyper


def base_model_choices() -> dict[str, str]:
    """Name -> configured location (a path, or ``package:<module>`` for a model shipped as a Python package)."""
    return dict(settings.PREFSTACK_BASE_MODELS)


def base_model_default() -> str:
    return next(iter(base_model_choices()))


def base_model_resolve(location: str) -> str:
    """A configured location as a local directory path."""
    if location.startswith("package:"):
        module = importlib.import_module(location.removeprefix("package:"))
        return str(module.get_model_path())
    return location


def _model_path(base_model: str, *, allow_path: bool) -> str:
    choices = base_model_choices()
    if base_model in choices:
        path = base_model_resolve(choices[base_model])
    elif allow_path and Path(base_model).is_dir():
        path = str(Path(base_model).resolve())
    else:
        raise ValidationFailed(
            f"Unknown base model {base_model!r}.",
            extra={"fields": {"base_model": f"One of: {', '.join(choices)}."}},
        )
    if not (Path(path) / "config.json").exists():
        raise ValidationFailed(
            f"Base model {base_model!r} has no config.json at {path}.", extra={"fields": {"base_model": "Not a model."}}
        )
    return path


# ---------------------------------------------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------------------------------------------

# What each objective trains: (engine objective, which trainer-ready file, regression attributes) per stage.
# "project" = every attribute of the project; regression_then_scaled_bt is the HelpSteer2-Preference recipe
# (arXiv 2410.01257 §4): helpfulness-only regression, then Scaled BT initialised from it.
_STAGES: dict[str, list[tuple[str, str, str | None]]] = {
    Objective.BT: [("bt", "preference", None)],
    Objective.MARGIN_BT: [("margin_bt", "preference", None)],
    Objective.SCALED_BT: [("scaled_bt", "preference", None)],
    Objective.REGRESSION: [("regression", "regression", "project")],
    Objective.REGRESSION_HELPFULNESS: [("regression", "regression", "helpfulness")],
    Objective.REGRESSION_THEN_SCALED_BT: [
        ("regression", "regression", "helpfulness"),
        ("scaled_bt", "preference", None),
    ],
}


def queue_devices(queue: str) -> int:
    """How many processes one job may ask for on ``queue`` (GPUs of a gpu worker; CPU processes on default)."""
    return int(settings.PREFSTACK_QUEUE_DEVICES.get(queue, 1))


def _check_devices(*, queue: str, gpus: int, strategy: str) -> None:
    """Refuse, before anything is recorded, a device count the queue's workers cannot give or an unknown strategy."""
    if strategy not in Strategy.values:
        raise ValidationFailed(
            f"Unknown strategy {strategy!r}.", extra={"fields": {"strategy": f"One of {', '.join(Strategy.values)}."}}
        )
    available = queue_devices(queue)
    unit = "GPUs" if queue == Queue.GPU else "CPU processes"
    if not 1 <= gpus <= available:
        raise InvalidCombination(
            f"This job asks for {gpus} {unit}, and a worker of the '{queue}' queue has {available}: ask for 1 to "
            f"{available}, or use a queue whose workers have more.",
            extra={"fields": {"gpus": f"Between 1 and {available} on the '{queue}' queue."}, "available": available},
        )


def _with_strategy(hyper: HyperParameters, strategy: str) -> HyperParameters:
    """The strategy ``lora`` trains adapters (of the default rank unless one is set); FSDP shards full weights, so
    LoRA settings under it are refused rather than silently ignored."""
    if strategy == Strategy.LORA and not hyper.lora_r:
        return dataclasses.replace(hyper, lora_r=DEFAULT_LORA_RANK)
    if strategy == Strategy.FSDP and hyper.lora_r:
        raise InvalidCombination(
            "FSDP shards a full fine-tuning; LoRA adapters are replicated: choose the lora strategy, or a LoRA rank of 0.",
            extra={"fields": {"strategy": "lora, ddp or auto for LoRA.", "lora_r": "0 under FSDP."}},
        )
    return hyper


def _engine_strategy(strategy: str) -> str:
    """The engine's TrainConfig.strategy for a job's strategy (LoRA adapters replicate like DDP)."""
    return "fsdp" if strategy == Strategy.FSDP else "ddp" if strategy == Strategy.DDP else "auto"


def _stages(
    *,
    objective: str,
    model_path: str,
    hyper: HyperParameters,
    attributes: list[str],
    snapshot: Snapshot,
    strategy: str = Strategy.AUTO,
) -> list[dict[str, Any]]:
    stages = []
    last = len(_STAGES[objective]) - 1
    for index, (engine_objective, data, which) in enumerate(_STAGES[objective]):
        chosen: tuple[str, ...] = HELPSTEER2_ATTRIBUTES
        if which == "project":
            chosen = tuple(attributes)
        elif which == "helpfulness":
            if "helpfulness" not in attributes:
                raise InvalidCombination(
                    "This objective needs a helpfulness attribute, and the project has none.",
                    extra={"fields": {"objective": "The project has no helpfulness attribute."}},
                )
            chosen = ("helpfulness",)
        config = TrainConfig(
            model_path=model_path if index == 0 else "",
            objective=engine_objective,  # type: ignore[arg-type]
            attributes=chosen,
            learning_rate=hyper.learning_rate,
            batch_size=hyper.batch_size,
            epochs=hyper.epochs,
            max_steps=hyper.max_steps,
            max_length=hyper.max_length,
            warmup_ratio=hyper.warmup_ratio,
            seed=hyper.seed,
            save_every_steps=hyper.save_every_steps,
            eval_every_steps=hyper.eval_every_steps,
            margin_scale=hyper.margin_scale,
            # Centring concerns the pairwise reward; ExPO extrapolates the job's final weights from where the
            # last stage started (the base model, or the regression checkpoint of the two-stage recipe).
            center_rewards_coefficient=hyper.center_rewards_coefficient if engine_objective != "regression" else None,
            expo_alpha=hyper.expo_alpha if index == last else 0.0,
            num_threads=hyper.num_threads,
            strategy=_engine_strategy(strategy),  # type: ignore[arg-type]
            precision=hyper.precision,  # type: ignore[arg-type]
            gradient_checkpointing=hyper.gradient_checkpointing,
            lora_r=hyper.lora_r,
            lora_alpha=hyper.lora_alpha,
            lora_dropout=hyper.lora_dropout,
            qlora=hyper.qlora,
            extra={"snapshot": snapshot.id, "project": snapshot.project.slug, "stage": index},
        )
        # Through JSON now, so the job object holds what the database will (lists, not tuples).
        train = json.loads(json.dumps(config.to_dict()))
        stages.append({"data": data, "init_from": "base" if index == 0 else "previous", "train": train})
    return stages


@transaction.atomic
def training_job_create(
    *,
    snapshot: Snapshot,
    user: User | None,
    objective: str,
    base_model: str | None = None,
    queue: str = Queue.DEFAULT,
    hyperparameters: dict[str, Any] | None = None,
    allow_model_path: bool = False,
    gpus: int = 1,
    strategy: str = Strategy.AUTO,
) -> TrainingJob:
    """Record a queued training job on a ready ``snapshot`` and send it to ``queue`` after commit.

    Parameters
    ----------
    objective
        One of :class:`rm_jobs.models.Objective`'s values.
    base_model
        A name from ``PREFSTACK_BASE_MODELS`` (default: the first); with ``allow_model_path`` (the command line) also
        a local model directory.
    queue
        ``default`` (CPU workers) or ``gpu`` (only workers started with ``-Q gpu`` take it).
    hyperparameters
        Fields of :class:`HyperParameters`; missing ones take their defaults.
    gpus, strategy
        Processes of the job's torchrun group (at most ``PREFSTACK_QUEUE_DEVICES[queue]``) and how the model is
        spread over them (:class:`rm_jobs.models.Strategy`). ``gpus > 1`` or ``fsdp`` runs as a torchrun group.

    Raises
    ------
    ValidationFailed : unknown objective, base model, queue or strategy, a hyper-parameter out of range, more
        devices than the queue's workers have.
    Conflict : the snapshot is not ready.
    """
    if objective not in Objective.values:
        raise ValidationFailed(
            f"Unknown objective {objective!r}.",
            extra={"fields": {"objective": f"One of {', '.join(Objective.values)}."}},
        )
    if queue not in Queue.values:
        raise ValidationFailed(f"Unknown queue {queue!r}.", extra={"fields": {"queue": "default or gpu."}})
    if snapshot.status != SnapshotStatus.READY:
        raise Conflict(
            f"Snapshot {snapshot.number} is {snapshot.status}; train on a ready snapshot.",
            code=ErrorCode.SNAPSHOT_NOT_READY,
            extra={"status": snapshot.status},
        )
    _check_devices(queue=queue, gpus=gpus, strategy=strategy)
    hyper = _with_strategy(HyperParameters.from_mapping(hyperparameters), strategy)
    base_model = base_model or base_model_default()
    model_path = _model_path(base_model, allow_path=allow_model_path)
    attributes = project_attribute_names(project=snapshot.project)
    stages = _stages(
        objective=objective,
        model_path=model_path,
        hyper=hyper,
        attributes=attributes,
        snapshot=snapshot,
        strategy=strategy,
    )
    estimate = training_job_check_fits(
        config=TrainConfig.from_dict(stages[0]["train"]),
        queue=queue,
        pairwise=stages[-1]["data"] == "preference",
        gpus=gpus,
    )
    job = TrainingJob.objects.create(
        project=snapshot.project,
        snapshot=snapshot,
        created_by=user,
        objective=objective,
        base_model=base_model,
        queue=queue,
        gpus=gpus,
        strategy=strategy,
        config={
            "objective": objective,
            "base_model": base_model,
            "model_path": model_path,
            "hyperparameters": hyper.__dict__,
            "stages": stages,
            "memory_estimate": estimate,
        },
    )
    job.output_folder = new_folder(settings.PREFSTACK_RUNS_FOLDER, f"job-{job.id}")  # unguessable
    for stage in stages:
        stage["train"]["extra"]["job"] = job.id
    job.save(update_fields=["output_folder", "config"])
    devices = f" ({gpus} × {strategy})" if gpus > 1 or strategy != Strategy.AUTO else ""
    _log(job.id, f"queued on '{queue}'{devices}: {objective} from {base_model} on snapshot {snapshot.number}")
    training_job_enqueue(job)
    return job


def _strategy(config: TrainConfig) -> str:
    """The planner's name for how ``config`` holds the model on each GPU."""
    if config.qlora:
        return "qlora"
    if config.uses_lora:
        return "lora"
    return "fsdp" if config.strategy == "fsdp" else "full"


def training_job_check_fits(*, config: TrainConfig, queue: str, pairwise: bool = True, gpus: int = 1) -> dict[str, Any]:
    """Refuse, before anything runs, a model or setting the engine cannot train on ``queue``'s device, and a run
    whose planned peak memory exceeds the queue's GPU memory (``PREFSTACK_QUEUE_GPU_MEMORY_GB``).

    Returns
    -------
    dict
        The planner's estimate per GPU in GiB (weights, gradients, optimizer, activations, overhead, total),
        ``strategy``, ``precision``, ``parameters`` and, when the queue has a limit, ``limit_gib``.

    Raises
    ------
    ValidationFailed
        With the reason, and for memory the estimate and what would make it fit in ``extra``.
    """
    device_type: DeviceType = "cuda" if queue == Queue.GPU else "cpu"
    try:
        model_config = preflight(config, device_type=device_type)
    except ModelInputError as error:
        if "QLoRA" in str(error):  # qlora on a queue without CUDA GPUs
            raise InvalidCombination(
                str(error), extra={"fields": {"qlora": str(error), "queue": str(error)}}
            ) from error
        raise ValidationFailed(str(error), extra={"fields": {"base_model": str(error)}}) from error
    try:
        shape = ModelShape.from_config(model_config)
    except (KeyError, TypeError, ValueError):
        return {}  # a config without the planner's fields: no estimate, nothing to refuse on
    precision = config.precision if config.precision != "auto" else ("bf16" if device_type == "cuda" else "bf16-mixed")
    options: dict[str, Any] = {
        "strategy": _strategy(config),
        "gpus": gpus,
        "precision": precision,
        "activation_checkpointing": config.gradient_checkpointing,
        "batch_size": config.batch_size,
        "max_length": config.max_length,
        "pairwise": pairwise,
        "lora_rank": config.lora_r or DEFAULT_LORA_RANK,
        "num_labels": 1 if config.is_pairwise else len(config.attributes),
        "device_overhead": device_type == "cuda",
    }
    plan = plan_memory(shape, **options)
    estimate: dict[str, Any] = {
        **plan.as_gib(),
        "strategy": plan.strategy,
        "precision": plan.precision,
        "parameters": plan.parameters,
        "trainable_parameters": plan.trainable_parameters,
    }
    limit_gb = dict(settings.PREFSTACK_QUEUE_GPU_MEMORY_GB).get(queue)
    if limit_gb:
        estimate["limit_gib"] = round(limit_gb * 1e9 / GIB, 2)
        if plan.total > limit_gb * 1e9:
            tips = suggestions(shape, limit_gb * 1e9, **options)
            message = (
                f"This run needs about {estimate['total']} GiB per GPU ({estimate['weights']} weights, "
                f"{estimate['gradients']} gradients, {estimate['optimizer']} optimizer states, "
                f"{estimate['activations']} activations), more than the {limit_gb} GB of the '{queue}' queue's GPUs. "
                + ("It would fit with: " + "; or ".join(tips) + "." if tips else "Use a smaller base model.")
            )
            raise ValidationFailed(
                message, code=ErrorCode.DOES_NOT_FIT, extra={"estimate": estimate, "suggestions": tips, "fields": {}}
            )
    return estimate


def training_job_enqueue(job: TrainingJob) -> None:
    """Send the job's task to its queue once the surrounding transaction commits."""
    from rm_jobs.tasks import training_job_run_task  # the task module imports the services

    job_id, queue = job.id, job.queue
    transaction.on_commit(lambda: training_job_run_task.apply_async(args=[job_id], queue=queue))


# ---------------------------------------------------------------------------------------------------------------
# Transitions
# ---------------------------------------------------------------------------------------------------------------


def _log(job_id: int, line: str) -> None:
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    TrainingJob.objects.filter(id=job_id).update(log=Concat("log", Value(f"{stamp} {line}\n")))


def training_job_log(*, job_id: int, line: str) -> None:
    """Append one line to the job's log (shown on its page)."""
    _log(job_id, line)


def training_job_start(*, job_id: int, worker: str) -> TrainingJob | None:
    """queued → running, for ``worker``; None when the job is not queued (a repeated delivery, a cancelled job)."""
    now = timezone.now()
    claimed = TrainingJob.objects.filter(id=job_id, status=JobStatus.QUEUED, cancel_requested=False).update(
        status=JobStatus.RUNNING, worker=worker, heartbeat_at=now, started_at=now, error="", attempt=F("attempt") + 1
    )
    if not claimed:
        return None
    job = TrainingJob.objects.select_related("snapshot", "project").get(id=job_id)
    _log(
        job_id,
        f"attempt {job.attempt} started on {worker}" + (f", resuming {job.resume_from}" if job.resume_from else ""),
    )
    return job


def _owned(job_id: int, attempt: int) -> Q:
    return Q(id=job_id, attempt=attempt, status=JobStatus.RUNNING)


def training_job_heartbeat(*, job_id: int, attempt: int) -> bool:
    """Refresh the heartbeat of a running attempt; False when the attempt no longer owns the job."""
    return bool(TrainingJob.objects.filter(_owned(job_id, attempt)).update(heartbeat_at=timezone.now()))


@dataclass(frozen=True)
class StepReport:
    """What a worker learns back after recording a step."""

    owned: bool  # False: the job was given up on (sweeper) or cancelled-and-finished meanwhile; stop
    cancel_requested: bool


def training_job_progress(
    *, job_id: int, attempt: int, stage: int, step: int, total_steps: int, points: list[dict[str, Any]]
) -> StepReport:
    """Record one step's metric points (train and, on evaluation steps, validation) and refresh the heartbeat."""
    from rm_jobs.models import JobMetric

    owned = TrainingJob.objects.filter(_owned(job_id, attempt)).update(
        heartbeat_at=timezone.now(), stage=stage, step=step, total_steps=total_steps
    )
    if not owned:
        return StepReport(owned=False, cancel_requested=False)
    for point in points:
        JobMetric.objects.update_or_create(
            job_id=job_id, stage=stage, step=step, split=point.pop("split", "train"), defaults=point
        )
    cancel = TrainingJob.objects.filter(id=job_id).values_list("cancel_requested", flat=True).first()
    return StepReport(owned=True, cancel_requested=bool(cancel))


def training_job_stage_done(*, job_id: int, attempt: int, next_stage: int, summary: dict[str, Any]) -> bool:
    """Move a multi-stage job to its next stage (the previous stage's resume point no longer applies)."""
    return bool(
        TrainingJob.objects.filter(_owned(job_id, attempt)).update(
            stage=next_stage, step=0, total_steps=0, resume_from="", summary=summary
        )
    )


def training_job_finish(
    *,
    job_id: int,
    attempt: int,
    status: str,
    checkpoint_path: str = "",
    summary: dict[str, Any] | None = None,
    error: str = "",
) -> bool:
    """running → succeeded | failed | cancelled, only for the attempt that runs it. False when it no longer does."""
    if status not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        raise ValueError(f"not a final status: {status}")
    changes: dict[str, Any] = {
        "status": status,
        "finished_at": timezone.now(),
        "error": error,
        "checkpoint_path": checkpoint_path,
        "resume_from": "",
    }
    if summary is not None:
        changes["summary"] = summary
    done = TrainingJob.objects.filter(_owned(job_id, attempt)).update(**changes)
    if done:
        _log(job_id, f"{status}" + (f": {error.splitlines()[0]}" if error else ""))
        training_job_finished_emit(job_id=job_id)
    return bool(done)


@transaction.atomic
def training_job_cancel(*, job: TrainingJob, user: User | None = None) -> TrainingJob:
    """Cancel a job: a queued one at once, a running one at its next step (its last checkpoint is kept).

    Raises Conflict for a job that already finished.
    """
    now = timezone.now()
    if TrainingJob.objects.filter(id=job.id, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, cancel_requested=True, finished_at=now
    ):
        _log(job.id, f"cancelled before it started{_by(user)}")
    elif TrainingJob.objects.filter(id=job.id, status=JobStatus.RUNNING, cancel_requested=False).update(
        cancel_requested=True
    ):
        _log(job.id, f"cancel requested{_by(user)}; the loop stops at its next step")
    else:
        current = TrainingJob.objects.filter(id=job.id).values_list("status", "cancel_requested").first()
        if current is None:
            raise NotFound("No such training job.")
        if current[0] != JobStatus.RUNNING:
            raise Conflict(f"Job {job.id} is {current[0]}; only queued or running jobs can be cancelled.")
    job.refresh_from_db()
    return job


def _by(user: User | None) -> str:
    return f" by {user.get_username()}" if user is not None else ""


# ---------------------------------------------------------------------------------------------------------------
# Dead workers
# ---------------------------------------------------------------------------------------------------------------


def job_output_dir(job: TrainingJob) -> Path:
    return Path(settings.MEDIA_ROOT) / job.output_folder


def stage_output_dir(job: TrainingJob, stage: int) -> Path:
    return job_output_dir(job) / f"stage-{stage}"


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete, resumable ``checkpoint-<step>`` directory in ``folder`` (written atomically by the
    engine: a directory without its state file is not one)."""
    best: tuple[int, Path] | None = None
    if not folder.is_dir():
        return None
    for child in folder.iterdir():
        name = child.name
        if not (child.is_dir() and name.startswith("checkpoint-") and name.removeprefix("checkpoint-").isdigit()):
            continue
        if not (child / RESUME_STATE_FILE).exists():
            continue
        step = int(name.removeprefix("checkpoint-"))
        if best is None or step > best[0]:
            best = (step, child)
    return best[1] if best else None


def training_jobs_sweep_stale(
    *, stale_seconds: int | None = None, dead_worker: str | None = None, project_id: int | None = None
) -> SweepResult:
    """Give up on running jobs whose worker stopped beating; re-queue them from their last checkpoint while they
    have attempts left, else mark them failed. A cancel requested meanwhile ends them cancelled.

    Run every minute by beat (``training_jobs_sweep_stale_task``) and at every worker start; never from a read.
    ``dead_worker``: a worker hostname known to be gone (a worker that just started under the same name): its
    running jobs are taken at once, whatever their heartbeat.
    """
    condition = heartbeat_stale(stale_seconds=stale_seconds)
    if dead_worker:
        condition |= Q(worker=dead_worker)
    candidates = TrainingJob.objects.filter(condition, status=JobStatus.RUNNING)
    if project_id is not None:
        candidates = candidates.filter(project_id=project_id)
    result = SweepResult([], [], [])
    for job in candidates.only("id", "attempt", "worker", "heartbeat_at", "cancel_requested", "stage", "output_folder"):
        outcome = training_job_give_up(job=job, enqueue=True)
        if outcome is not None:
            getattr(result, outcome).append(job.id)
    return result


def training_job_give_up(*, job: TrainingJob, enqueue: bool, reason: str = "") -> str | None:
    """The worker running ``job`` (as loaded: its ``attempt`` and ``heartbeat_at``) is gone: re-queue the job from
    its stage's last checkpoint while it has attempts left, else mark it failed; cancelled if a cancel was asked.

    One conditional update on (status running, that attempt), so two sweepers, or a sweeper and a redelivered task,
    never both act. ``enqueue`` False: the caller (a redelivered task) runs the job itself. ``reason`` goes to the
    log (default: the stopped heartbeat). Returns "requeued", "failed", "cancelled", or None when the attempt no
    longer owned the job.
    """
    still = Q(id=job.id, status=JobStatus.RUNNING, attempt=job.attempt)
    why = reason or heartbeat_stale_reason(heartbeat_at=job.heartbeat_at, worker=job.worker)
    now = timezone.now()
    if job.cancel_requested:
        checkpoint = latest_checkpoint(stage_output_dir(job, job.stage))
        if TrainingJob.objects.filter(still).update(
            status=JobStatus.CANCELLED, finished_at=now, checkpoint_path=_relative(checkpoint)
        ):
            _log(job.id, f"cancelled: {why}")
            return "cancelled"
        return None
    if heartbeat_attempts_left(attempt=job.attempt):
        checkpoint = latest_checkpoint(stage_output_dir(job, job.stage))
        with transaction.atomic():
            moved = TrainingJob.objects.filter(still).update(
                status=JobStatus.QUEUED, worker="", heartbeat_at=None, resume_from=_relative(checkpoint)
            )
            if moved and enqueue:
                training_job_enqueue(TrainingJob.objects.get(id=job.id))
        if not moved:
            return None
        where = f"from {_relative(checkpoint)}" if checkpoint else "from the start of its stage"
        _log(job.id, f"{why}; re-queued to resume {where}")
        return "requeued"
    if TrainingJob.objects.filter(still).update(
        status=JobStatus.FAILED, finished_at=now, error=f"{why}; no attempts left."
    ):
        _log(job.id, f"failed: {why}")
        training_job_finished_emit(job_id=job.id)
        return "failed"
    return None


def _relative(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return str(path.relative_to(Path(settings.MEDIA_ROOT)))
    except ValueError:
        return str(path)


def media_path(relative: str) -> Path:
    """A key stored on a job (MEDIA_ROOT-relative), as the path of this process's local copy (which may not exist:
    :func:`annotator.storage.download_to_scratch` brings it)."""
    return Path(settings.MEDIA_ROOT) / relative


# ---------------------------------------------------------------------------------------------------------------
# Artefacts
# ---------------------------------------------------------------------------------------------------------------


def _zip_key(job: TrainingJob, checkpoint_path: str) -> str:
    name = f"{Path(checkpoint_path).name}-{CHECKPOINT_ZIP}"
    return f"{job.output_folder}/{name}" if job.output_folder else name


def _resume_state(file: Path, model_dir: Path) -> bool:
    """Optimizer state and shards, which only a resume reads: kept out of the stored model and its zip."""
    return file.name == RESUME_STATE_FILE or SHARDS_FOLDER in file.relative_to(model_dir).parts[:-1]


def _write_checkpoint_zip(source: Path, key: str) -> None:
    """Zip a local model directory (no optimizer state) into a private temporary file, store it under ``key``
    and move it to the key's scratch path. Simultaneous builds give the same bytes; each rename is atomic."""
    target = scratch_path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    partial = Path(name)
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(source.rglob("*")):
                if file.is_file() and not _resume_state(file, source):
                    archive.write(file, file.relative_to(source))
        os.chmod(partial, 0o644)  # mkstemp makes it private to the worker's user
        if not is_scratch_the_store():
            upload_file(partial, key)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def training_job_checkpoint_store(*, job: TrainingJob, model_dir: Path) -> str:
    """Store a finished model directory from this worker's scratch: its files (no optimizer state; scoring and
    evaluations download them) and their zip (the download). Returns the directory's key, which the caller records
    on the job only now that the uploads completed. A no-op upload with the filesystem storage."""
    key = key_of(model_dir)
    if not is_scratch_the_store():
        upload_dir(model_dir, key, skip=lambda file: _resume_state(file, model_dir))
    _write_checkpoint_zip(model_dir, _zip_key(job, key))
    return key


def training_job_checkpoint_zip(*, job: TrainingJob) -> str:
    """The storage key of a zip of the job's model directory (weights, config, tokenizer, training config; no
    optimizer state). Unzipped, the folder loads with ``AutoModelForSequenceClassification.from_pretrained``.

    The worker stores it when the job ends (:func:`training_job_checkpoint_store`); a job trained before that is
    zipped on first request from the model directory where it still lies in this process's scratch.
    """
    if not job.checkpoint_path:
        raise Conflict(f"Job {job.id} has no checkpoint yet.", code=ErrorCode.NO_CHECKPOINT)
    key = _zip_key(job, job.checkpoint_path)
    if scratch_path(key).is_file() or exists(key):
        return key
    source = media_path(job.checkpoint_path)
    if not source.is_dir():
        raise NotFound(f"The checkpoint of job {job.id} is gone from the file store.")
    _write_checkpoint_zip(source, key)
    return key


def training_job_checkpoint_file(*, job: TrainingJob) -> Path:
    """The local copy of the checkpoint zip (see :func:`training_job_checkpoint_zip`)."""
    return download_to_scratch(training_job_checkpoint_zip(job=job))


def training_job_files_remove(*, job: TrainingJob) -> None:  # pragma: no cover - used by admin clean-up only
    """The job's files in this process's scratch and in the store."""
    shutil.rmtree(job_output_dir(job), ignore_errors=True)
    if job.output_folder and not is_scratch_the_store():
        delete_tree(job.output_folder)
