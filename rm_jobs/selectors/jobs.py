"""Reads about training jobs: who may see them, their metric series, and the side-by-side table of objectives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from annotator.errors import NotFound
from annotator.models import Project, Snapshot, SnapshotStatus
from annotator.selectors.projects import project_get_for_role
from annotator.selectors.snapshots import SNAPSHOT_ROLES
from rm_jobs.models import Evaluation, EvaluationKind, EvaluationStatus, JobMetric, JobStatus, TrainingJob

# Who sees, launches and cancels jobs: as for snapshots, researchers and leads (annotators get 403).
JOB_ROLES: frozenset[str] = SNAPSHOT_ROLES


def training_job_list(*, project: Project, status: str | None = None) -> QuerySet[TrainingJob]:
    """The project's jobs, newest first, with snapshot and author in the same query."""
    qs = TrainingJob.objects.filter(project=project).select_related("snapshot", "created_by").defer("log", "config")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def training_job_get_for_role(
    *, job_id: int, user: User | AnonymousUser, roles: frozenset[str] = JOB_ROLES
) -> TrainingJob:
    """The job ``job_id`` if ``user`` holds one of ``roles`` in its project (non-member: NotFound; other role:
    PermissionDenied)."""
    job = TrainingJob.objects.select_related("project", "snapshot", "created_by").filter(id=job_id).first()
    if job is None:
        raise NotFound("No such training job.")
    project_get_for_role(slug=job.project.slug, user=user, roles=set(roles))
    return job


def training_job_in_project(*, project: Project, job_id: int) -> TrainingJob:
    job = (
        TrainingJob.objects.select_related("project", "snapshot", "created_by")
        .filter(project=project, id=job_id)
        .first()
    )
    if job is None:
        raise NotFound(f"Project {project.slug} has no training job {job_id}.")
    return job


class MetricPoint(TypedDict):
    """One row of a job's metric series, as ``training_job_metrics`` gives it (a ``JobMetric``'s values)."""

    id: int
    stage: int
    step: int
    split: str  # "train" or "validation"
    epoch: float | None
    loss: float | None
    accuracy: float | None
    tokens_per_s: float | None
    learning_rate: float | None


METRIC_FIELDS = ("id", "stage", "step", "split", "epoch", "loss", "accuracy", "tokens_per_s", "learning_rate")


def training_job_metrics(*, job: TrainingJob, after_id: int = 0) -> list[MetricPoint]:
    """The job's metric points in order (``after_id``: only newer ones, for live polling)."""
    rows = JobMetric.objects.filter(job=job, id__gt=after_id).order_by("stage", "step", "id")
    return list(rows.values(*METRIC_FIELDS))


def _metric_series(points: list[MetricPoint]) -> dict[str, list[dict[str, float | None]]]:
    """Train loss/accuracy and validation points on one global x: steps counted across stages (a second stage's
    step 1 follows the first stage's last step)."""
    last_by_stage: dict[int, int] = {}
    for p in points:
        last_by_stage[p["stage"]] = max(last_by_stage.get(p["stage"], 0), p["step"])
    offsets: dict[int, int] = {}
    running = 0
    for stage in sorted(last_by_stage):
        offsets[stage] = running
        running += last_by_stage[stage]
    series: dict[str, list[dict[str, float | None]]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for p in points:
        x = offsets[p["stage"]] + p["step"]
        prefix = "" if p["split"] == "train" else "val_"
        if p["loss"] is not None:
            series[f"{prefix}loss"].append({"x": x, "y": p["loss"]})
        if p["accuracy"] is not None:
            series[f"{prefix}accuracy"].append({"x": x, "y": p["accuracy"]})
    return series


def training_job_series(*, job: TrainingJob) -> dict[str, Any]:
    """The chart's data: one global x (steps across stages) with train loss/accuracy and validation points."""
    points = training_job_metrics(job=job)
    return {
        "job": job.id,
        "status": job.status,
        "step": job.step,
        "total_steps": job.total_steps,
        "stage": job.stage,
        "stages": len(job.config.get("stages", [])) or 1,
        "series": _metric_series(points),
        "last_id": points[-1]["id"] if points else 0,
    }


class JobCurves(TypedDict):
    """One job's curves on the comparison page: train loss per step and validation accuracy per evaluation."""

    job: int
    label: str
    loss: list[dict[str, float | None]]
    val_accuracy: list[dict[str, float | None]]


def training_job_curves(*, jobs: list[TrainingJob]) -> list[JobCurves]:
    """The loss and validation-accuracy curves of ``jobs``, in their order, for overlaying (one query)."""
    points: dict[int, list[MetricPoint]] = {job.id: [] for job in jobs}
    rows = JobMetric.objects.filter(job__in=list(points)).order_by("job_id", "stage", "step", "id")
    for row in rows.values("job_id", *METRIC_FIELDS):
        job_id = row.pop("job_id")
        points[job_id].append(row)  # type: ignore[arg-type]  # the same keys as MetricPoint
    curves: list[JobCurves] = []
    for job in jobs:
        series = _metric_series(points[job.id])
        label = f"#{job.id} {job.get_objective_display()}"
        curves.append(JobCurves(job=job.id, label=label, loss=series["loss"], val_accuracy=series["val_accuracy"]))
    return curves


def job_evaluations(*, job: TrainingJob) -> QuerySet[Evaluation]:
    return Evaluation.objects.filter(job=job).select_related("snapshot").order_by("-created_at", "-id")


def evaluation_get(*, evaluation_id: int, job: TrainingJob | None = None) -> Evaluation:
    """Evaluation ``evaluation_id`` (of ``job`` when given), with its job; NotFound otherwise.

    It checks no role: the caller has checked ``job``, or checks the returned evaluation's job.
    """
    found = Evaluation.objects.select_related("job", "snapshot").filter(id=evaluation_id)
    evaluation = (found if job is None else found.filter(job=job)).first()
    if evaluation is None:
        raise NotFound("No such evaluation.")
    return evaluation


def ready_snapshots(*, project: Project) -> QuerySet[Snapshot]:
    return Snapshot.objects.filter(project=project, status=SnapshotStatus.READY).order_by("-number")


@dataclass(frozen=True)
class ComparisonRow:
    """One finished job measured on the chosen validation data (one row of the table of objectives)."""

    job: TrainingJob
    evaluation: Evaluation
    accuracy: float | None
    rmse: float | None
    wall_s: float | None
    tokens_per_s: float | None


@dataclass(frozen=True)
class ComparisonTable:
    snapshot: Snapshot | None
    snapshots: list[Snapshot]
    rows: list[ComparisonRow]


def training_job_comparison(*, project: Project, snapshot_id: int | None = None) -> ComparisonTable:
    """Succeeded jobs side by side on the same validation data: every succeeded evaluation on ``snapshot``'s
    validation split (default: the newest snapshot that has one), best accuracy first. Two queries."""
    evaluations = list(
        Evaluation.objects.filter(
            job__project=project,
            job__status=JobStatus.SUCCEEDED,
            kind=EvaluationKind.VALIDATION,
            status=EvaluationStatus.SUCCEEDED,
        )
        .select_related("job", "job__snapshot", "snapshot")
        .defer("job__log", "job__config")
        .order_by("-created_at", "-id")
    )
    snapshots = sorted({e.snapshot_id: e.snapshot for e in evaluations if e.snapshot}.values(), key=lambda s: -s.number)
    chosen = next((s for s in snapshots if s.id == snapshot_id), None) if snapshot_id else None
    if chosen is None and snapshots:
        if snapshot_id:
            raise NotFound(f"No finished job was evaluated on snapshot id {snapshot_id}.")
        chosen = snapshots[0]
    latest: dict[int, Evaluation] = {}
    for e in evaluations:
        if chosen is not None and e.snapshot_id == chosen.id:
            latest.setdefault(e.job_id, e)  # newest evaluation of each job on that snapshot
    rows = [
        ComparisonRow(
            job=e.job,
            evaluation=e,
            accuracy=e.metrics.get("accuracy"),
            rmse=e.metrics.get("rmse_mean"),
            wall_s=(e.job.summary or {}).get("wall_s"),
            tokens_per_s=(e.job.summary or {}).get("tokens_per_s"),
        )
        for e in latest.values()
    ]
    rows.sort(key=lambda r: (-(r.accuracy if r.accuracy is not None else -1.0), r.job.id))
    return ComparisonTable(snapshot=chosen, snapshots=snapshots, rows=rows)
