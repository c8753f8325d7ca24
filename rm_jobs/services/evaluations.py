"""Evaluations of trained reward models, and sending the comparisons a model disagrees with to the leads.

An evaluation scores a snapshot's validation split (pairwise accuracy for every model; per-attribute RMSE and
Pearson r for models with regression outputs) or an uploaded RewardBench-format file (accuracy per ``subset``, ties
counted wrong as in allenai/reward-bench ``scripts/run_rm.py``). On a validation split it also lists the comparisons
whose aggregated human preference the model contradicts most confidently: r(chosen) - r(rejected) most negative.

Review queue — the choice made: the annotator app has no comparison-level review queue (its reviews are per
annotation), and ``annotator`` must not import ``rm_jobs``. So a :class:`ReviewRequest` row records who sent what and
why, and the comparison's ``metadata["needs_review"]`` carries the reason where the lead's pages can read it.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from annotator.errors import Conflict, UnprocessableFile, ValidationFailed
from annotator.models import Comparison, Snapshot, SnapshotStatus
from rm_jobs.models import (
    Evaluation,
    EvaluationKind,
    EvaluationStatus,
    JobStatus,
    ReviewRequest,
    TrainingJob,
)
from rm_jobs.services.jobs import _relative, job_output_dir, media_path
from rm_jobs.services.runs import _finite, snapshot_trainer_rows, validation_summary
from rm_jobs.training import TrainConfig

logger = logging.getLogger(__name__)

DISAGREEMENTS_KEPT = 50
REASON_MAX_LENGTH = 2000


# ---------------------------------------------------------------------------------------------------------------
# Create (on demand)
# ---------------------------------------------------------------------------------------------------------------


def _check_reward_bench_file(path: Path) -> int:
    """Rows in a RewardBench-format JSONL file (prompt, chosen, rejected, optional subset); UnprocessableFile else."""
    count = 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError) as error:  # also integers past 4,300 digits, nesting past the stack
                reason = error.msg if isinstance(error, json.JSONDecodeError) else type(error).__name__
                raise UnprocessableFile(
                    f"Line {number} is not JSON: {reason}.", extra={"fields": {"file": f"line {number}"}}
                ) from error
            missing = [key for key in ("prompt", "chosen", "rejected") if not isinstance(row, dict) or key not in row]
            if missing:
                raise UnprocessableFile(
                    f"Line {number} lacks {', '.join(missing)}: a RewardBench file has prompt, chosen, rejected "
                    "and subset.",
                    extra={"fields": {"file": f"line {number}"}},
                )
            count += 1
    if not count:
        raise UnprocessableFile("The file holds no rows.", extra={"fields": {"file": "Empty."}})
    return count


@transaction.atomic
def evaluation_create(
    *,
    job: TrainingJob,
    user: User | None,
    snapshot: Snapshot | None = None,
    reward_bench_file: UploadedFile | None = None,
) -> Evaluation:
    """Queue an evaluation of a succeeded job: on ``snapshot``'s validation split (same project, ready), or on an
    uploaded RewardBench-format JSONL file. Runs on the job's queue after commit."""
    if job.status != JobStatus.SUCCEEDED or not job.checkpoint_path:
        raise Conflict(f"Job {job.id} is {job.status}; evaluate a job that succeeded.", code="job_not_succeeded")
    if (snapshot is None) == (reward_bench_file is None):
        raise ValidationFailed(
            "Choose a snapshot or upload a RewardBench file (one of the two).",
            extra={"fields": {"snapshot": "One of snapshot or file.", "file": "One of snapshot or file."}},
        )
    evaluation = Evaluation(job=job, created_by=user)
    if snapshot is not None:
        if snapshot.project_id != job.project_id:
            raise ValidationFailed(
                "That snapshot belongs to another project.", extra={"fields": {"snapshot": "Not in this project."}}
            )
        if snapshot.status != SnapshotStatus.READY:
            raise Conflict(f"Snapshot {snapshot.number} is {snapshot.status}.", code="snapshot_not_ready")
        evaluation.kind, evaluation.snapshot = EvaluationKind.VALIDATION, snapshot
    else:
        assert reward_bench_file is not None
        if reward_bench_file.size and reward_bench_file.size > settings.PREFSTACK_EVAL_UPLOAD_MAX_BYTES:
            raise ValidationFailed(
                f"The file is larger than {settings.PREFSTACK_EVAL_UPLOAD_MAX_BYTES // (1024 * 1024)} MiB.",
                extra={"fields": {"file": "Too large."}},
            )
        folder = job_output_dir(job) / "evaluation-files"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{uuid.uuid4().hex[:12]}.jsonl"
        with target.open("wb") as out:
            for chunk in reward_bench_file.chunks():
                out.write(chunk)
        try:
            _check_reward_bench_file(target)
        except (UnprocessableFile, UnicodeDecodeError) as error:
            target.unlink(missing_ok=True)
            if isinstance(error, UnicodeDecodeError):
                raise UnprocessableFile(
                    "The file is not UTF-8 text.", extra={"fields": {"file": "Not UTF-8."}}
                ) from error
            raise
        evaluation.kind, evaluation.data_file = EvaluationKind.REWARD_BENCH, _relative(target)
    evaluation.save()
    from rm_jobs.tasks import evaluation_run_task  # the task module imports the services

    evaluation_id, queue = evaluation.id, job.queue
    transaction.on_commit(lambda: evaluation_run_task.apply_async(args=[evaluation_id], queue=queue))
    return evaluation


# ---------------------------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------------------------


def evaluation_run(*, evaluation_id: int) -> Evaluation | None:
    """queued → running → succeeded | failed; None when it was not queued (a repeated delivery)."""
    claimed = Evaluation.objects.filter(id=evaluation_id, status=EvaluationStatus.QUEUED).update(
        status=EvaluationStatus.RUNNING
    )
    if not claimed:
        return None
    evaluation = Evaluation.objects.select_related("job", "snapshot", "job__project").get(id=evaluation_id)
    _compute(evaluation, media_path(evaluation.job.checkpoint_path))
    return Evaluation.objects.get(id=evaluation_id)


def evaluation_run_for_job(*, job: TrainingJob, model_dir: Path) -> Evaluation:
    """The end-of-training evaluation on the job's own snapshot, run inline by the training task."""
    evaluation = Evaluation.objects.create(
        job=job, kind=EvaluationKind.VALIDATION, snapshot=job.snapshot, status=EvaluationStatus.RUNNING
    )
    _compute(evaluation, model_dir)
    evaluation.refresh_from_db()
    return evaluation


def _compute(evaluation: Evaluation, model_dir: Path) -> None:
    disagreements: list[dict[str, Any]] = []
    try:
        if evaluation.kind == EvaluationKind.REWARD_BENCH:
            metrics = _reward_bench(model_dir, media_path(evaluation.data_file))
        else:
            assert evaluation.snapshot is not None
            metrics, disagreements = _validation(model_dir, evaluation.snapshot)
    except Exception as error:
        logger.exception("evaluation %s failed", evaluation.id)
        Evaluation.objects.filter(id=evaluation.id, status=EvaluationStatus.RUNNING).update(
            status=EvaluationStatus.FAILED,
            error=f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=8)}",
            finished_at=timezone.now(),
        )
        return
    Evaluation.objects.filter(id=evaluation.id, status=EvaluationStatus.RUNNING).update(
        status=EvaluationStatus.SUCCEEDED, metrics=metrics, disagreements=disagreements, finished_at=timezone.now()
    )


def _reward_bench(model_dir: Path, path: Path) -> dict[str, Any]:
    from rm_jobs.training import reward_bench  # torch: imported in the worker only

    result = reward_bench(model_dir, path)
    return {
        "accuracy": _finite(result.accuracy),
        "per_subset": {name: _finite(v) for name, v in result.per_subset.items()},
        "num_pairs": len(result.chosen_rewards),
    }


def _validation(model_dir: Path, snapshot: Snapshot) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from rm_jobs.training import evaluate, score  # torch: imported in the worker only

    """Pairwise accuracy and disagreements on the snapshot's validation pairs; RMSE/Pearson for regression models."""
    metrics: dict[str, Any] = {}
    _, pairs = snapshot_trainer_rows(snapshot=snapshot, data="preference")
    disagreements: list[dict[str, Any]] = []
    if pairs:
        rewards = score(
            model_dir, [(row["prompt"], str(row["chosen"])) for row in pairs]
            + [(row["prompt"], str(row["rejected"])) for row in pairs],
        )  # fmt: skip
        chosen, rejected = rewards[: len(pairs)], rewards[len(pairs) :]
        margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
        metrics["accuracy"] = sum(m > 0 for m in margins) / len(margins)  # ties count as wrong (RewardBench)
        metrics["mean_margin"] = _finite(sum(margins) / len(margins))
        disagreements = _disagreements(pairs, margins)
    metrics["num_pairs"] = len(pairs)
    config = _training_config(model_dir)
    if config is not None and config.objective == "regression":
        _, rated = snapshot_trainer_rows(snapshot=snapshot, data="regression")
        if rated:
            regression = validation_summary(evaluate(model_dir, rated))
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
        raise Conflict(f"Evaluation {evaluation.id} is {evaluation.status}.", code="evaluation_not_ready")
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
