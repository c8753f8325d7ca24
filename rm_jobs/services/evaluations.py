"""Evaluations of trained reward models, and sending the comparisons a model disagrees with to the leads.

An evaluation scores a snapshot's validation split (pairwise accuracy for every model; per-attribute RMSE and
Pearson r for models with regression outputs) or an uploaded benchmark file as released: RewardBench (accuracy per
``subset``, ties counted wrong as in allenai/reward-bench ``scripts/run_rm.py``), RewardBench 2, RM-Bench or
JudgeBench-style pairs (:mod:`rm_jobs.training.benchmarks`), scored on the job's device; their results JSON, as the
benchmark's own scripts write it, is kept beside the job and served by ``evaluation_results_key``. On a validation split it also lists the comparisons
whose aggregated human preference the model contradicts most confidently: r(chosen) - r(rejected) most negative.

A running evaluation beats (``heartbeat_at``) from its scoring loop, every
:func:`~annotator.services.heartbeats.heartbeat_interval` seconds at most. When its worker dies,
:func:`evaluations_sweep_stale` (beat, every minute) queues it again on the job's queue while it has attempts left,
else fails it with the reason; the new attempt scores from the start (results are written only at the end). The
final write names its attempt, so an attempt the sweep gave up on cannot finish the evaluation.

Review queue — the choice made: the annotator app has no comparison-level review queue (its reviews are per
annotation), and ``annotator`` must not import ``rm_jobs``. So a :class:`ReviewRequest` row records who sent what and
why, and the comparison's ``metadata["needs_review"]`` carries the reason where the lead's pages can read it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, NotFound, UnprocessableFile, ValidationFailed
from annotator.imports import ImportFormatError
from annotator.imports.containers import iter_jsonl
from annotator.models import Comparison, Snapshot, SnapshotStatus
from annotator.services.heartbeats import (
    AttemptLost,
    ModelRunBeat,
    ModelRunKind,
    SweepResult,
    model_run_claim,
    model_run_owned,
    model_runs_sweep_stale,
)
from annotator.storage import (
    StorageUnavailable,
    download_dir_to_scratch,
    download_to_scratch,
    exists,
    key_of,
    upload_file,
)
from rm_jobs.models import (
    Evaluation,
    EvaluationKind,
    EvaluationStatus,
    JobStatus,
    Queue,
    ReviewRequest,
    TrainingJob,
)
from rm_jobs.services.jobs import job_output_dir
from rm_jobs.services.runs import _finite, snapshot_trainer_rows, validation_summary
from rm_jobs.services.webhook_events import evaluation_finished_emit
from rm_jobs.training import TrainConfig
from rm_jobs.training.benchmarks import (
    BENCHMARKS,
    BenchmarkLayoutError,
    BenchmarkName,
    check_rows,
    detect_benchmark,
    read_benchmark_file,
)

logger = logging.getLogger(__name__)

DISAGREEMENTS_KEPT = 50
BENCHMARK_FILE_SUFFIXES = (".jsonl", ".json", ".parquet")
BENCHMARK_KINDS: dict[str, str] = {
    "reward-bench": EvaluationKind.REWARD_BENCH,
    "rewardbench2": EvaluationKind.REWARD_BENCH_2,
    "rm-bench": EvaluationKind.RM_BENCH,
    "judgebench": EvaluationKind.JUDGEBENCH,
}
REASON_MAX_LENGTH = 2000


def _enqueue(evaluation_id: int) -> None:
    """Send the evaluation's task to its job's queue (a GPU job's model is scored on a GPU worker) once the
    transaction commits."""
    from rm_jobs.tasks import evaluation_run_task  # the task module imports the services

    queue = Evaluation.objects.filter(pk=evaluation_id).values_list("job__queue", flat=True).get()
    transaction.on_commit(lambda: evaluation_run_task.apply_async(args=[evaluation_id], queue=queue))


EVALUATIONS = ModelRunKind(
    model=Evaluation,
    label="evaluation",
    running=EvaluationStatus.RUNNING,
    waiting=EvaluationStatus.QUEUED,
    failed=EvaluationStatus.FAILED,
    enqueue=_enqueue,
    failed_emit=lambda evaluation_id: evaluation_finished_emit(evaluation_id=evaluation_id),
)


# ---------------------------------------------------------------------------------------------------------------
# Create (on demand)
# ---------------------------------------------------------------------------------------------------------------


def _check_json_lines(path: Path) -> None:
    """A JSON-lines upload read as imports read JSONL (``annotator.imports.containers.iter_jsonl``) before it is
    parsed whole: a line over ``PREFSTACK_IMPORT_MAX_LINE_BYTES`` is refused as soon as it is, blank lines are passed
    over quickly, and JSON Python cannot read (huge integers, deep nesting) is refused like any other bad line."""
    with path.open("rb") as handle:
        try:
            for _ in iter_jsonl(handle, settings.PREFSTACK_IMPORT_MAX_LINE_BYTES):
                pass
        except ImportFormatError as error:
            where = f"line {error.line}" if error.line is not None else "Unreadable."
            raise UnprocessableFile(
                f"The file cannot be read: {error}.", code=ErrorCode.BENCHMARK_LAYOUT, extra={"fields": {"file": where}}
            ) from error


def _check_benchmark_file(path: Path, benchmark: str) -> BenchmarkName:
    """The benchmark whose released layout the file has (``benchmark`` "auto": told by its rows); UnprocessableFile
    (422) with code ``benchmark_layout`` naming the first row that does not fit."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        _check_json_lines(path)
    try:
        rows = read_benchmark_file(path)
        name: BenchmarkName = detect_benchmark(rows) if benchmark == "auto" else benchmark  # type: ignore[assignment]
        check_rows(name, rows)
    except BenchmarkLayoutError as error:
        # the whole message on the field: the page shows it there, and the API's extra says which row
        extra = {"fields": {"file": error.message}, "where": error.where}
        raise UnprocessableFile(error.message, code=ErrorCode.BENCHMARK_LAYOUT, extra=extra) from error
    except UnicodeDecodeError as error:
        raise UnprocessableFile(
            "The file is not UTF-8 text.", code=ErrorCode.BENCHMARK_LAYOUT, extra={"fields": {"file": "Not UTF-8."}}
        ) from error
    if name == "reward-bench" and path.suffix == ".json":
        raise UnprocessableFile(
            "Upload a RewardBench file as JSON lines (.jsonl) or Parquet.",
            code=ErrorCode.BENCHMARK_LAYOUT,
            extra={"fields": {"file": "Use .jsonl or .parquet."}},
        )
    return name


@transaction.atomic
def evaluation_create(
    *,
    job: TrainingJob,
    user: User | None,
    snapshot: Snapshot | None = None,
    reward_bench_file: UploadedFile | None = None,
    benchmark: str = "auto",
) -> Evaluation:
    """Queue an evaluation of a succeeded job: on ``snapshot``'s validation split (same project, ready), or on an
    uploaded benchmark file as released (``benchmark``: "auto" = told by its layout, or one of
    :data:`~rm_jobs.training.benchmarks.BENCHMARKS`). Runs on the job's queue after commit.

    Raises
    ------
    UnprocessableFile : (422) code ``benchmark_layout`` for a file not in the benchmark's layout (nothing is kept).
    ValidationFailed : code ``unknown_benchmark`` for a benchmark name not offered.
    """
    if job.status != JobStatus.SUCCEEDED or not job.checkpoint_path:
        raise Conflict(
            f"Job {job.id} is {job.status}; evaluate a job that succeeded.", code=ErrorCode.JOB_NOT_SUCCEEDED
        )
    if (snapshot is None) == (reward_bench_file is None):
        raise ValidationFailed(
            "Choose a snapshot or upload a benchmark file (one of the two).",
            extra={"fields": {"snapshot": "One of snapshot or file.", "file": "One of snapshot or file."}},
        )
    evaluation = Evaluation(job=job, created_by=user)
    if snapshot is not None:
        if snapshot.project_id != job.project_id:
            raise ValidationFailed(
                "That snapshot belongs to another project.", extra={"fields": {"snapshot": "Not in this project."}}
            )
        if snapshot.status != SnapshotStatus.READY:
            raise Conflict(f"Snapshot {snapshot.number} is {snapshot.status}.", code=ErrorCode.SNAPSHOT_NOT_READY)
        evaluation.kind, evaluation.snapshot = EvaluationKind.VALIDATION, snapshot
    else:
        assert reward_bench_file is not None
        if reward_bench_file.size and reward_bench_file.size > settings.PREFSTACK_EVAL_UPLOAD_MAX_BYTES:
            raise ValidationFailed(
                f"The file is larger than {settings.PREFSTACK_EVAL_UPLOAD_MAX_BYTES // (1024 * 1024)} MiB.",
                extra={"fields": {"file": "Too large."}},
            )
        if benchmark != "auto" and benchmark not in BENCHMARKS:
            raise ValidationFailed(
                f"Unknown benchmark {benchmark!r}.",
                code=ErrorCode.UNKNOWN_BENCHMARK,
                extra={"fields": {"benchmark": f"auto or one of {', '.join(BENCHMARKS)}."}},
            )
        suffix = Path(reward_bench_file.name or "").suffix.lower() or ".jsonl"
        if suffix not in BENCHMARK_FILE_SUFFIXES:
            raise UnprocessableFile(
                f"Unsupported file type {suffix}: upload .jsonl, .json or .parquet as the benchmark released it.",
                code=ErrorCode.BENCHMARK_LAYOUT,
                extra={"fields": {"file": "Use .jsonl, .json or .parquet."}},
            )
        folder = job_output_dir(job) / "evaluation-files"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{uuid.uuid4().hex[:12]}{suffix}"
        with target.open("wb") as out:
            for chunk in reward_bench_file.chunks():
                out.write(chunk)
        try:
            name = _check_benchmark_file(target, benchmark)
            # The worker that runs the evaluation reads it from the store; recorded only once stored.
            data_file = upload_file(target, key_of(target))
        except (UnprocessableFile, StorageUnavailable):
            target.unlink(missing_ok=True)
            raise
        evaluation.kind, evaluation.data_file = BENCHMARK_KINDS[name], data_file
    evaluation.save()
    _enqueue(evaluation.id)
    return evaluation


# ---------------------------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------------------------


def evaluation_run(*, evaluation_id: int) -> Evaluation | None:
    """queued → running (its next attempt) → succeeded | failed; None when it was not queued (a repeated delivery).
    A delivery that finds it running after its pool process died takes it over (``model_run_take_over``).
    The job's stored model is scored; a job without one (its worker died during the end-of-training evaluation, and
    it has not succeeded since) fails the evaluation with the reason."""
    if not model_run_claim(EVALUATIONS, run_id=evaluation_id):  # or taken over, when its pool process died
        return None  # not queued, or its attempt lives: a repeated delivery
    evaluation = Evaluation.objects.select_related("job", "snapshot", "job__project").get(id=evaluation_id)
    _compute(evaluation, None)
    return Evaluation.objects.get(id=evaluation_id)


def evaluation_run_for_job(*, job: TrainingJob, model_dir: Path) -> Evaluation:
    """The end-of-training evaluation on the job's own snapshot, run inline by the training task (its first
    attempt; should the worker die, the sweep queues it again, to score the job's stored model)."""
    evaluation = Evaluation.objects.create(
        job=job,
        kind=EvaluationKind.VALIDATION,
        snapshot=job.snapshot,
        status=EvaluationStatus.RUNNING,
        attempt=1,
        heartbeat_at=timezone.now(),
    )
    _compute(evaluation, model_dir)
    evaluation.refresh_from_db()
    return evaluation


def _stored_model(job: TrainingJob) -> Path:
    if job.status != JobStatus.SUCCEEDED or not job.checkpoint_path:
        raise Conflict(
            f"Job {job.id} is {job.status}: it has no stored model to evaluate.", code=ErrorCode.NO_CHECKPOINT
        )
    return download_dir_to_scratch(job.checkpoint_path)


def _compute(evaluation: Evaluation, model_dir: Path | None) -> None:
    """Score ``evaluation`` with the model in ``model_dir`` (None: the job's stored model) and record the outcome,
    by its attempt: nothing is written once the sweep gave that attempt up."""
    owned = model_run_owned(EVALUATIONS, run_id=evaluation.pk, attempt=evaluation.attempt)
    beat = ModelRunBeat(EVALUATIONS, run_id=evaluation.pk, attempt=evaluation.attempt)
    disagreements: list[dict[str, Any]] = []
    export: Any = None
    try:
        with beat:  # beats from a thread too, while the model downloads and loads
            model_dir = _stored_model(evaluation.job) if model_dir is None else model_dir
            beat()
            if evaluation.kind == EvaluationKind.REWARD_BENCH:
                metrics, export = _reward_bench(
                    model_dir, download_to_scratch(evaluation.data_file), evaluation.job, beat
                )
            elif evaluation.kind in BENCHMARK_KINDS.values():
                metrics, export = _benchmark(model_dir, download_to_scratch(evaluation.data_file), evaluation, beat)
            else:
                assert evaluation.snapshot is not None
                metrics, disagreements = _validation(model_dir, evaluation.snapshot, beat)
            beat()
            results_file = _write_results(evaluation, export) if export is not None else ""
    except AttemptLost:
        logger.warning("evaluation %s: attempt %s was given up by the sweep; nothing written", evaluation.pk,
                       evaluation.attempt)  # fmt: skip
        return
    except Exception as error:
        logger.exception("evaluation %s failed", evaluation.id)
        failed = owned.update(
            status=EvaluationStatus.FAILED,
            error=f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=8)}",
            finished_at=timezone.now(),
            heartbeat_at=None,
        )
        if failed:
            evaluation_finished_emit(evaluation_id=evaluation.id)
        return
    succeeded = owned.update(
        status=EvaluationStatus.SUCCEEDED,
        metrics=metrics,
        disagreements=disagreements,
        results_file=results_file,
        finished_at=timezone.now(),
        heartbeat_at=None,
    )
    if succeeded:
        evaluation_finished_emit(evaluation_id=evaluation.id)


def evaluations_sweep_stale(*, stale_seconds: int | None = None) -> SweepResult:
    """Give up on running evaluations whose worker stopped beating (:mod:`annotator.services.heartbeats`): queued
    again on the job's queue while they have attempts left, else failed with the reason (and ``evaluation.finished``
    sent). Run every minute by beat."""
    return model_runs_sweep_stale(EVALUATIONS, stale_seconds=stale_seconds)


def _job_device(job: TrainingJob) -> str:
    """Score where the job trained: a GPU-queue job on this worker's GPU, any other job on the CPU."""
    import torch  # the worker only

    return "cuda" if job.queue == Queue.GPU and torch.cuda.is_available() else "cpu"


def _model_name(job: TrainingJob) -> str:
    return f"prefstack/{job.project.slug}/job-{job.id}"


def _json_safe(value: Any) -> Any:
    """NaN and infinities → null, recursively (JSON and PostgreSQL's jsonb have no NaN)."""
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _write_results(evaluation: Evaluation, export: Any) -> str:
    """The benchmark's results JSON under the job's folder, written to a temporary name and then moved into place,
    so a reader never sees half a file, and stored. Returns its key."""
    folder = job_output_dir(evaluation.job) / "evaluation-results"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"evaluation-{evaluation.id}-{uuid.uuid4().hex[:12]}.json"
    partial = target.with_suffix(".json.partial")
    with partial.open("w", encoding="utf-8") as out:
        json.dump(_json_safe(export), out, indent=2, ensure_ascii=False, allow_nan=False)
    os.replace(partial, target)
    return upload_file(target, key_of(target))


def _reward_bench(
    model_dir: Path, path: Path, job: TrainingJob, beat: Callable[[], None]
) -> tuple[dict[str, Any], dict[str, Any]]:
    from rm_jobs.training import reward_bench  # torch: imported in the worker only

    result = reward_bench(model_dir, path, device=_job_device(job), on_batch=beat)
    metrics: dict[str, Any] = {
        "rewardbench_overall": None if result.overall is None else _finite(result.overall),
        "sections": {name: _finite(v) for name, v in result.sections.items()},
        "pooled_accuracy": _finite(result.pooled_accuracy),
        "per_subset": {name: _finite(v) for name, v in result.per_subset.items()},
        "num_pairs": len(result.chosen_rewards),
    }
    # scripts/run_rm.py's results file: model, model_type, chat_template and the accuracy of each subset.
    export: dict[str, Any] = {"model": _model_name(job), "model_type": "Seq. Classifier", "chat_template": "tokenizer"}
    export.update(metrics["per_subset"])
    return metrics, export


def _benchmark(
    model_dir: Path, path: Path, evaluation: Evaluation, beat: Callable[[], None]
) -> tuple[dict[str, Any], Any]:
    from rm_jobs.training import run_benchmark  # torch: imported in the worker only

    name: BenchmarkName = evaluation.kind  # type: ignore[assignment]  # the kinds are the benchmarks' names
    result = run_benchmark(model_dir, path, benchmark=name, device=_job_device(evaluation.job), on_batch=beat)
    metrics = _json_safe(
        {
            "benchmark": result.benchmark,
            "overall": result.overall,
            "per_subset": result.per_subset,
            "details": result.details,
            "num_rows": result.num_rows,
        }
    )
    export = result.export
    if isinstance(export, dict):
        export = {"model": _model_name(evaluation.job), **export}
    return metrics, export


def evaluation_results_key(*, evaluation: Evaluation) -> str:
    """The storage key of the evaluation's results JSON; NotFound when it has none (validation runs, unfinished
    ones, or a file gone from the store)."""
    if evaluation.status != EvaluationStatus.SUCCEEDED or not evaluation.results_file:
        raise NotFound(f"Evaluation {evaluation.id} has no results file.", code=ErrorCode.NO_RESULTS_FILE)
    if not exists(evaluation.results_file):
        raise NotFound(f"Evaluation {evaluation.id}'s results file is gone.", code=ErrorCode.NO_RESULTS_FILE)
    return evaluation.results_file


def evaluation_results_path(*, evaluation: Evaluation) -> Path:
    """The local copy of the evaluation's results JSON (see :func:`evaluation_results_key`)."""
    return download_to_scratch(evaluation_results_key(evaluation=evaluation))


def _validation(
    model_dir: Path, snapshot: Snapshot, beat: Callable[[], None]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from rm_jobs.training import evaluate, score  # torch: imported in the worker only
    from rm_jobs.training.evaluation import accuracy_bootstrap_interval

    """Pairwise accuracy and disagreements on the snapshot's validation pairs; RMSE/Pearson for regression models."""
    metrics: dict[str, Any] = {}
    _, pairs = snapshot_trainer_rows(snapshot=snapshot, data="preference")
    disagreements: list[dict[str, Any]] = []
    if pairs:
        rewards = score(
            model_dir, [(row["prompt"], str(row["chosen"])) for row in pairs]
            + [(row["prompt"], str(row["rejected"])) for row in pairs],
            on_batch=beat,
        )  # fmt: skip
        chosen, rejected = rewards[: len(pairs)], rewards[len(pairs) :]
        margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
        metrics["accuracy"] = sum(m > 0 for m in margins) / len(margins)  # ties count as wrong (RewardBench)
        interval = accuracy_bootstrap_interval([m > 0 for m in margins])
        metrics["accuracy_ci"] = list(interval) if interval else None
        metrics["accuracy_ci_level"] = 0.95
        metrics["mean_margin"] = _finite(sum(margins) / len(margins))
        disagreements = _disagreements(pairs, margins)
    metrics["num_pairs"] = len(pairs)
    config = _training_config(model_dir)
    if config is not None and config.objective == "regression":
        _, rated = snapshot_trainer_rows(snapshot=snapshot, data="regression")
        if rated:
            regression = validation_summary(evaluate(model_dir, rated, on_batch=beat))
            metrics["rmse"] = regression["rmse"]
            metrics["pearson"] = regression["pearson"]
            values = [v for v in regression["rmse"].values() if v is not None]
            metrics["rmse_mean"] = sum(values) / len(values) if values else None
            metrics["num_rows"] = regression["num_rows"]
    return metrics, disagreements


def _training_config(model_dir: Path) -> TrainConfig | None:
    try:
        return TrainConfig.load(model_dir)
    except (FileNotFoundError, ValueError):
        return None


def _disagreements(pairs: Sequence[Mapping[str, Any]], margins: list[float]) -> list[dict[str, Any]]:
    """Pairs the model gets wrong, most confident first; which response humans preferred is read back from the
    comparison (the TRL file names chosen/rejected texts, not positions)."""
    wrong = sorted((m, i) for i, m in enumerate(margins) if m <= 0 and math.isfinite(m))[:DISAGREEMENTS_KEPT]
    ids = {}
    for _, i in wrong:
        try:
            ids[i] = int(pairs[i]["id"])
        except (KeyError, TypeError, ValueError):
            continue
    texts = {
        cid: (r1, r2)
        for cid, r1, r2 in Comparison.objects.filter(id__in=ids.values()).values_list(
            "id", "response_1__text", "response_2__text"
        )
    }
    out = []
    for margin, i in wrong:
        cid = ids.get(i)
        if cid is None or cid not in texts:
            continue
        preferred = 1 if str(pairs[i]["chosen"]) == texts[cid][0] else 2
        out.append(
            {
                "comparison_id": cid,
                "human_preferred": preferred,
                "human_strength": _finite(float(pairs[i].get("margin") or 0.0)),
                "model_margin": round(margin, 4),
            }
        )
    return out


# ---------------------------------------------------------------------------------------------------------------
# Review
# ---------------------------------------------------------------------------------------------------------------


@transaction.atomic
def disagreements_send_to_review(
    *,
    evaluation: Evaluation,
    user: User | None,
    comparison_ids: list[int] | None = None,
    reason: str = "",
) -> list[ReviewRequest]:
    """Send comparisons of ``evaluation.disagreements`` (all listed when ``comparison_ids`` is None) to the leads.

    Idempotent per (comparison, evaluation): sending one twice creates nothing new. Returns the new requests.

    Raises
    ------
    Conflict : the evaluation has not succeeded.
    ValidationFailed : a comparison id that is not among the evaluation's disagreements; an over-long reason.
    """
    if evaluation.status != EvaluationStatus.SUCCEEDED:
        raise Conflict(f"Evaluation {evaluation.id} is {evaluation.status}.", code=ErrorCode.EVALUATION_NOT_READY)
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationFailed(
            f"Keep the reason under {REASON_MAX_LENGTH} characters.", extra={"fields": {"reason": "Too long."}}
        )
    listed = {int(d["comparison_id"]): d for d in evaluation.disagreements}
    wanted = list(listed) if comparison_ids is None else [int(c) for c in comparison_ids]
    unknown = [c for c in wanted if c not in listed]
    if unknown:
        raise ValidationFailed(
            f"Comparison {unknown[0]} is not among this evaluation's disagreements.",
            extra={"fields": {"comparison_ids": unknown}},
        )
    existing = set(
        ReviewRequest.objects.filter(evaluation=evaluation, comparison_id__in=wanted).values_list(
            "comparison_id", flat=True
        )
    )
    created: list[ReviewRequest] = []
    comparisons = Comparison.objects.select_for_update().filter(id__in=wanted).order_by("id")
    for comparison in comparisons:
        if comparison.id in existing:
            continue
        item = listed[comparison.id]
        text = reason or (
            f"Reward model of job {evaluation.job_id} prefers the other response "
            f"(margin {item['model_margin']:+.3f}) against the aggregated preference for response "
            f"{item['human_preferred']} (strength {item['human_strength']})."
        )
        created.append(
            ReviewRequest.objects.create(
                comparison=comparison,
                evaluation=evaluation,
                reason=text,
                model_margin=item["model_margin"],
                requested_by=user,
            )
        )
        metadata = dict(comparison.metadata or {})
        metadata["needs_review"] = {
            "reason": text,
            "source": "reward_model",
            "job": evaluation.job_id,
            "evaluation": evaluation.id,
            "at": timezone.now().isoformat(timespec="seconds"),
        }
        comparison.metadata = metadata
        comparison.save(update_fields=["metadata"])
    return created
