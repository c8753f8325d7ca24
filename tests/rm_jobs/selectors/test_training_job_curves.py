"""The comparison page's curves: each job's train loss per step and validation accuracy per evaluation, steps
counted across stages, in the jobs' order, in one query."""

from __future__ import annotations

import pytest

from rm_jobs.models import JobMetric, TrainingJob
from rm_jobs.selectors.jobs import training_job_curves

pytestmark = pytest.mark.django_db


def _job(snapshot, objective: str) -> TrainingJob:
    return TrainingJob.objects.create(
        project=snapshot.project, snapshot=snapshot, objective=objective, base_model="tiny", status="succeeded"
    )


def test_curves_follow_the_jobs_order_and_count_steps_across_stages(snapshot, django_assert_num_queries):
    bt, scaled = _job(snapshot, "bt"), _job(snapshot, "scaled_bt")
    JobMetric.objects.bulk_create(
        [
            JobMetric(job=bt, stage=0, step=1, loss=0.9, accuracy=0.5),
            JobMetric(job=bt, stage=0, step=2, loss=0.7),
            JobMetric(job=bt, stage=0, step=2, split="validation", loss=0.8, accuracy=0.6),
            JobMetric(job=bt, stage=1, step=1, loss=0.5),  # the second stage's step 1 is step 3 overall
            JobMetric(job=bt, stage=1, step=1, split="validation", accuracy=0.7),
            JobMetric(job=scaled, stage=0, step=1, loss=1.2),
        ]
    )
    with django_assert_num_queries(1):
        curves = training_job_curves(jobs=[scaled, bt])
    assert [c["job"] for c in curves] == [scaled.id, bt.id]
    assert curves[0] == {"job": scaled.id, "label": f"#{scaled.id} Scaled Bradley-Terry",
                         "loss": [{"x": 1, "y": 1.2}], "val_accuracy": []}  # fmt: skip
    assert curves[1]["loss"] == [{"x": 1, "y": 0.9}, {"x": 2, "y": 0.7}, {"x": 3, "y": 0.5}]
    assert curves[1]["val_accuracy"] == [{"x": 2, "y": 0.6}, {"x": 3, "y": 0.7}]


def test_a_job_without_metrics_has_empty_curves(snapshot):
    job = _job(snapshot, "bt")
    assert training_job_curves(jobs=[job]) == [
        {"job": job.id, "label": f"#{job.id} Bradley-Terry", "loss": [], "val_accuracy": []}
    ]
    assert training_job_curves(jobs=[]) == []
