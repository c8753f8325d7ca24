"""evaluation_create / evaluation_run on RewardBench 2, RM-Bench and JudgeBench files: the kind told by the layout
(or chosen), a wrong layout refused with nothing kept, and a run (scored by a stub, no model) that stores the
hand-computed figures and writes the benchmark's own results JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.errors import ValidationFailed
from rm_jobs.models import Evaluation, EvaluationKind, TrainingJob
from rm_jobs.services.evaluations import evaluation_create, evaluation_results_path, evaluation_run
from rm_jobs.services.jobs import job_output_dir, media_path
from tests.rm_jobs.conftest import succeeded_job
from tests.rm_jobs.training.test_benchmarks import FIXTURES, StubScorer

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(snapshot: Any, tmp_path: Path) -> TrainingJob:
    return succeeded_job(snapshot, tmp_path)  # runs here score with a stub: no model is loaded


def upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (FIXTURES / name).read_bytes())


@pytest.fixture
def stub_scorer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rm_jobs.training.evaluation.scorer", lambda *args, **kwargs: StubScorer())


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("rewardbench2.parquet", EvaluationKind.REWARD_BENCH_2),
        ("rm_bench.json", EvaluationKind.RM_BENCH),
        ("judgebench.jsonl", EvaluationKind.JUDGEBENCH),
    ],
)
def test_the_kind_is_told_by_the_files_layout(done, researcher, name, kind, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        evaluation = evaluation_create(job=done, user=researcher, reward_bench_file=upload(name))
    assert evaluation.kind == kind
    assert evaluation.data_file.endswith(Path(name).suffix)  # kept as released, so Parquet stays Parquet
    assert media_path(evaluation.data_file).read_bytes() == (FIXTURES / name).read_bytes()
    assert len(callbacks) == 1


def test_a_wrong_layout_is_refused_and_nothing_is_kept(done, researcher):
    before = Evaluation.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        evaluation_create(job=done, user=researcher, reward_bench_file=upload("rm_bench_two_styles.json"))
    assert caught.value.code == "benchmark_layout"
    assert "Row 1" in caught.value.message and "3 responses" in caught.value.message
    assert caught.value.extra == {"fields": {"file": caught.value.message}, "where": "row 1"}
    assert Evaluation.objects.count() == before
    assert list((job_output_dir(done) / "evaluation-files").iterdir()) == []


def test_a_file_chosen_as_another_benchmark_is_refused(done, researcher):
    with pytest.raises(ValidationFailed) as caught:
        evaluation_create(
            job=done, user=researcher, reward_bench_file=upload("judgebench.jsonl"), benchmark="rewardbench2"
        )
    assert caught.value.code == "benchmark_layout"
    assert "lacks id, prompt, chosen, rejected, subset" in caught.value.message


def test_an_unknown_benchmark_or_file_type_is_refused(done, researcher):
    with pytest.raises(ValidationFailed) as caught:
        evaluation_create(job=done, user=researcher, reward_bench_file=upload("judgebench.jsonl"), benchmark="mmlu")
    assert caught.value.code == "unknown_benchmark"
    with pytest.raises(ValidationFailed) as caught:
        evaluation_create(job=done, user=researcher, reward_bench_file=SimpleUploadedFile("b.csv", b"a,b\n"))
    assert caught.value.code == "benchmark_layout"


def test_an_rm_bench_run_stores_the_figures_and_the_scored_rows(done, researcher, stub_scorer):
    evaluation = evaluation_create(job=done, user=researcher, reward_bench_file=upload("rm_bench.json"))
    evaluation = evaluation_run(evaluation_id=evaluation.id)
    assert evaluation is not None and evaluation.status == "succeeded", evaluation and evaluation.error
    metrics = evaluation.metrics
    assert metrics["benchmark"] == "rm-bench"
    assert metrics["overall"] == pytest.approx(0.5)
    assert metrics["per_subset"] == pytest.approx({"chat": 2 / 3, "safety": 1 / 3})
    assert metrics["details"]["per_domain"]["chat"] == pytest.approx({"easy": 5 / 6, "normal": 2 / 3, "hard": 0.5})
    assert metrics["num_rows"] == 4
    exported = json.loads(evaluation_results_path(evaluation=evaluation).read_text())
    assert [row["score_rejected"] for row in exported][3] == [1.0, 1.0, 1.0]
    assert not list(evaluation_results_path(evaluation=evaluation).parent.glob("*.partial"))


def test_a_rewardbench2_run_exports_run_v2s_results_file(done, researcher, stub_scorer):
    evaluation = evaluation_create(job=done, user=researcher, reward_bench_file=upload("rewardbench2.parquet"))
    evaluation = evaluation_run(evaluation_id=evaluation.id)
    assert evaluation is not None and evaluation.status == "succeeded", evaluation and evaluation.error
    assert evaluation.metrics["per_subset"]["Factuality"] == 0.75
    assert evaluation.metrics["per_subset"]["Ties"] == pytest.approx(0.4992822)
    exported = json.loads(evaluation_results_path(evaluation=evaluation).read_text())
    assert exported["model"] == f"prefstack/{done.project.slug}/job-{done.id}"
    assert exported["Precise IF"] == 1.0
    assert len(exported["per_prompt"]) == 10


def test_a_validation_evaluation_has_no_results_file(done):
    from annotator.errors import NotFound

    with pytest.raises(NotFound):
        evaluation_results_path(evaluation=done.evaluations.get())
