"""The training-job API: permissions as for snapshots, create/list/detail/cancel, metrics, checkpoint zip,
evaluations and review requests, the comparison table, and the score endpoint's batching and limits."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from transformers import AutoModelForSequenceClassification

from annotator.models import Comparison, Role
from rm_jobs.models import Evaluation, JobStatus, ReviewRequest, TrainingJob
from rm_jobs.services.jobs import job_output_dir
from tests.factories import UserFactory, member
from tests.rm_jobs.conftest import ready_snapshot, succeeded_job

pytestmark = pytest.mark.django_db


def client_for(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api(researcher: Any) -> APIClient:
    return client_for(researcher)


@pytest.fixture
def done(snapshot: Any, trained_model: Path) -> TrainingJob:
    return succeeded_job(snapshot, trained_model)


@pytest.mark.parametrize(
    ("caller", "expected"), [("anonymous", 401), ("outsider", 404), (Role.ANNOTATOR, 403), (Role.LEAD, 200)]
)
def test_who_may_see_jobs(project, done, caller, expected):
    user = None if caller == "anonymous" else UserFactory() if caller == "outsider" else member(project, caller)
    client = client_for(user)
    for url in (
        f"/api/v1/projects/{project.slug}/training-jobs/",
        f"/api/v1/training-jobs/{done.id}/",
        f"/api/v1/training-jobs/{done.id}/metrics/",
        f"/api/v1/projects/{project.slug}/training-jobs/compare/",
    ):
        response = client.get(url)
        assert response.status_code == expected, url
        if expected != 200:
            assert set(response.json()) == {"message", "code", "extra"}
    score = client.post(f"/api/v1/reward-models/{done.id}/score", {"prompt": "Q", "response": "A"}, format="json")
    assert score.status_code == expected


def test_create_then_list_and_detail(api, project, snapshot, tiny_base_model, django_capture_on_commit_callbacks):
    with (
        mock.patch("rm_jobs.tasks.training_job_run_task.apply_async") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api.post(
            f"/api/v1/projects/{project.slug}/training-jobs/create/",
            {"snapshot": snapshot.id, "objective": "scaled_bt", "queue": "gpu", "hyperparameters": {"max_steps": 5}},
            format="json",
        )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["queue"], body["snapshot"], body["objective"]) == (
        "queued",
        "gpu",
        snapshot.id,
        "scaled_bt",
    )
    assert body["hyperparameters"]["max_steps"] == 5
    send.assert_called_once_with(args=[body["id"]], queue="gpu")
    listed = api.get(f"/api/v1/projects/{project.slug}/training-jobs/").json()
    assert [j["id"] for j in listed["results"]] == [body["id"]]
    detail = api.get(body["url"]).json()
    assert detail["config"]["stages"][0]["train"]["objective"] == "scaled_bt"
    assert "queued on 'gpu'" in detail["log"]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"objective": "scaled_bt"}, 400, "validation_failed"),
        ({"snapshot": 987_654, "objective": "bt"}, 404, "not_found"),
        ({"snapshot": 0, "objective": "bt"}, 400, "validation_failed"),  # ids start at 1, as the schema says
        ({"snapshot": 2**63, "objective": "bt"}, 400, "validation_failed"),
        ({"objective": "ppo"}, 400, "validation_failed"),
        ({"objective": "bt", "base_model": "nope"}, 400, "validation_failed"),
        ({"objective": "bt", "hyperparameters": {"batch_size": -1}}, 400, "validation_failed"),
        ({"objective": "bt", "hyperparameters": {"expo_alpha": False}}, 400, "validation_failed"),  # not a number
        ({"objective": "bt", "hyperparameters": {"learning_rate": 0}}, 400, "validation_failed"),  # exclusive minimum
        ({"objective": "bt", "hyperparameters": {"warmup_ratio": 1.0}}, 400, "validation_failed"),  # exclusive max
        ({"objective": "bt", "hyperparameters": {"seed": 2**64}}, 400, "validation_failed"),
        ({"objective": "bt", "base_model": 0}, 400, "validation_failed"),
    ],
)
def test_create_refuses_bad_input(api, project, snapshot, tiny_base_model, payload, status, code):
    payload = (
        {"snapshot": snapshot.id, **payload}
        if "snapshot" not in payload and payload != {"objective": "scaled_bt"}
        else payload
    )
    response = api.post(f"/api/v1/projects/{project.slug}/training-jobs/create/", payload, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not TrainingJob.objects.exists()


def test_a_snapshot_of_another_project_is_refused(api, project, researcher, tiny_base_model):
    from tests.factories import ProjectFactory

    other = ProjectFactory()
    member(other, Role.RESEARCHER, username=researcher.username)
    foreign = ready_snapshot(other, comparisons=5)
    response = api.post(
        f"/api/v1/projects/{project.slug}/training-jobs/create/",
        {"snapshot": foreign.id, "objective": "bt"},
        format="json",
    )
    assert response.status_code == 400


def test_cancel_and_conflict(api, snapshot, researcher, tiny_base_model, done, django_capture_on_commit_callbacks):
    from rm_jobs.services.jobs import training_job_create

    with django_capture_on_commit_callbacks(execute=False):
        job = training_job_create(snapshot=snapshot, user=researcher, objective="bt")
    response = api.post(f"/api/v1/training-jobs/{job.id}/cancel/")
    assert (response.status_code, response.json()["status"]) == (202, "cancelled")
    again = api.post(f"/api/v1/training-jobs/{done.id}/cancel/")
    assert (again.status_code, again.json()["code"]) == (409, "conflict")


def test_checkpoint_zip_loads_with_from_pretrained(api, done, tmp_path):
    response = api.get(f"/api/v1/training-jobs/{done.id}/checkpoint/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path)
    assert "config.json" in names
    assert "trainer_state.pt" not in names
    assert AutoModelForSequenceClassification.from_pretrained(tmp_path).config.num_labels == 1


def test_a_job_without_checkpoint_has_no_zip(api, done):
    TrainingJob.objects.filter(id=done.id).update(checkpoint_path="", status=JobStatus.FAILED)
    response = api.get(f"/api/v1/training-jobs/{done.id}/checkpoint/")
    assert (response.status_code, response.json()["code"]) == (409, "no_checkpoint")


def test_metrics_series(api, done):
    from rm_jobs.models import JobMetric

    JobMetric.objects.create(job=done, step=1, loss=0.7, accuracy=0.5)
    JobMetric.objects.create(job=done, step=2, loss=0.6, accuracy=0.75)
    JobMetric.objects.create(job=done, step=2, split="validation", loss=0.65, accuracy=0.6)
    body = api.get(f"/api/v1/training-jobs/{done.id}/metrics/").json()
    assert body["series"]["loss"] == [{"x": 1, "y": 0.7}, {"x": 2, "y": 0.6}]
    assert body["series"]["val_accuracy"] == [{"x": 2, "y": 0.6}]


# --- evaluations and review ---------------------------------------------------------------------------------------


def test_evaluate_on_a_rewardbench_file_then_list_it(api, done, django_capture_on_commit_callbacks):
    rows = [
        {"prompt": "Q?", "chosen": "clear correct helpful answer", "rejected": "wrong rude vague", "subset": "chat"},
        {"prompt": "Q2?", "chosen": "precise kind useful", "rejected": "broken false", "subset": "safety"},
    ]
    upload = SimpleUploadedFile("rb.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(
            f"/api/v1/training-jobs/{done.id}/evaluations/create/", {"file": upload}, format="multipart"
        )
    assert response.status_code == 202, response.json()
    from rm_jobs.services.evaluations import evaluation_run

    evaluation = evaluation_run(evaluation_id=response.json()["id"])  # what the queued task runs
    assert len(callbacks) == 1
    assert evaluation.status == "succeeded", evaluation.error
    assert set(evaluation.metrics["per_subset"]) == {"chat", "safety"}
    assert evaluation.metrics["rewardbench_overall"] is None  # neither is one of RewardBench's subsets
    assert "accuracy" not in evaluation.metrics  # the pooled figure goes by its own name
    assert evaluation.metrics["pooled_accuracy"] == pytest.approx(sum(evaluation.metrics["per_subset"].values()) / 2)
    listed = api.get(f"/api/v1/training-jobs/{done.id}/evaluations/").json()
    assert [e["kind"] for e in listed] == ["reward-bench", "validation"]
    results = json.loads(b"".join(api.get(listed[0]["results_url"]).streaming_content))  # run_rm.py's results file
    assert results["model_type"] == "Seq. Classifier"
    assert {k: results[k] for k in ("chat", "safety")} == evaluation.metrics["per_subset"]


def test_a_malformed_rewardbench_file_is_refused(api, done):
    upload = SimpleUploadedFile("rb.jsonl", b'{"prompt": "Q", "chosen": "A"}\n')
    response = api.post(f"/api/v1/training-jobs/{done.id}/evaluations/create/", {"file": upload}, format="multipart")
    assert response.status_code == 422  # a well-formed request whose file cannot be used
    assert "rejected" in response.json()["message"]


def test_evaluate_on_another_snapshots_validation_split(api, project, done, django_capture_on_commit_callbacks):
    other = ready_snapshot(project, comparisons=10, seed=3)
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post(
            f"/api/v1/training-jobs/{done.id}/evaluations/create/", {"snapshot": other.id}, format="json"
        )
    assert response.status_code == 202
    from rm_jobs.services.evaluations import evaluation_run

    evaluation = evaluation_run(evaluation_id=response.json()["id"])
    assert evaluation.status == "succeeded", evaluation.error
    assert evaluation.metrics["num_pairs"] == 2
    assert evaluation_run(evaluation_id=evaluation.id) is None  # a second delivery does nothing


def test_send_disagreements_to_review(api, done):
    evaluation = Evaluation.objects.get(job=done)
    comparison_id = evaluation.disagreements[0]["comparison_id"]
    url = f"/api/v1/evaluations/{evaluation.id}/review-requests/"
    response = api.post(url, {}, format="json")
    assert (response.status_code, response.json()) == (201, {"created": [comparison_id]})
    assert api.post(url, {}, format="json").json() == {"created": []}  # idempotent
    flagged = Comparison.objects.get(id=comparison_id).metadata["needs_review"]
    assert flagged["job"] == done.id
    assert "margin -1.250" in flagged["reason"]
    assert ReviewRequest.objects.get().requested_by is not None
    bad = api.post(url, {"comparison_ids": [999999]}, format="json")
    assert bad.status_code == 400
    for body in ({"reason": 0}, {"comparison_ids": ["1"]}, {"comparison_ids": [0]}):
        assert api.post(url, body, format="json").status_code == 400, body


def test_an_evaluation_takes_a_snapshot_as_json_or_a_file_as_multipart(api, done):
    url = f"/api/v1/training-jobs/{done.id}/evaluations/create/"
    before = Evaluation.objects.count()
    for body, fmt in (({}, "json"), ({"snapshot": "1"}, "json"), ({"snapshot": 0}, "json"), ({}, "multipart")):
        response = api.post(url, body, format=fmt)
        assert (response.status_code, response.json()["code"]) == (400, "validation_failed"), body
    assert api.post(url, "snapshot=1", content_type="application/x-www-form-urlencoded").status_code == 415
    assert Evaluation.objects.count() == before


# --- comparison table ---------------------------------------------------------------------------------------------


def test_compare_lists_finished_jobs_on_the_same_validation_data(api, project, snapshot, trained_model):
    bt = succeeded_job(snapshot, trained_model, objective="bt", accuracy=0.7)
    scaled = succeeded_job(snapshot, trained_model, objective="scaled_bt", accuracy=0.8)
    regression = succeeded_job(snapshot, trained_model, objective="regression", accuracy=0.6)
    TrainingJob.objects.create(
        project=project, snapshot=snapshot, objective="bt", base_model="tiny"
    )  # queued: not listed
    body = api.get(f"/api/v1/projects/{project.slug}/training-jobs/compare/").json()
    assert body["snapshot"] == snapshot.id
    assert [r["job"] for r in body["rows"]] == [scaled.id, bt.id, regression.id]
    assert [r["objective"] for r in body["rows"]] == ["scaled_bt", "bt", "regression"]
    assert body["rows"][2]["rmse"] == 0.9
    assert body["rows"][0]["rmse"] is None
    assert body["rows"][0]["tokens_per_s"] == 900.0
    assert api.get(f"/api/v1/projects/{project.slug}/training-jobs/compare/?snapshot=999").status_code == 404


# --- score --------------------------------------------------------------------------------------------------------


def test_score_one_and_many_responses(api, done):
    url = f"/api/v1/reward-models/{done.id}/score"
    one = api.post(url, {"prompt": "How?", "response": "clear correct helpful"}, format="json")
    assert one.status_code == 200, one.json()
    many = api.post(
        url,
        {"prompt": [{"role": "user", "content": "How?"}], "responses": ["clear correct helpful", "wrong rude", "ok"]},
        format="json",
    )
    assert many.status_code == 200
    body = many.json()
    assert len(body["rewards"]) == 3
    assert len(body["num_tokens"]) == 3
    assert body["max_length"] == 64
    assert body["outputs"] == []  # one output: the reward alone
    from rm_jobs.training import score

    expected = score(done.checkpoint_path, [("How?", "clear correct helpful")])[0]
    assert one.json()["rewards"][0] == pytest.approx(expected, abs=1e-5)
    assert api.post(f"{url}/", {"prompt": "How?", "response": "x"}, format="json").status_code == 200


def test_score_limits_and_errors(api, done, settings):
    url = f"/api/v1/reward-models/{done.id}/score"
    settings.PREFSTACK_SCORE_MAX_ITEMS = 2
    too_many = api.post(url, {"prompt": "Q", "responses": ["a", "b", "c"]}, format="json")
    assert (too_many.status_code, too_many.json()["code"]) == (400, "too_many_items")
    long_tokens = api.post(url, {"prompt": "Q", "response": "word " * 200}, format="json")
    assert (long_tokens.status_code, long_tokens.json()["code"]) == (413, "input_too_long")
    assert long_tokens.json()["extra"]["max_tokens"] == 64
    assert long_tokens.json()["extra"]["index"] == 0
    settings.PREFSTACK_SCORE_MAX_CHARS = 10
    long_chars = api.post(url, {"prompt": "Q", "response": "a" * 20}, format="json")
    assert (long_chars.status_code, long_chars.json()["code"]) == (413, "input_too_long")
    neither = api.post(url, {"prompt": "Q"}, format="json")
    assert neither.status_code == 400
    bad_prompt = api.post(url, {"prompt": {"x": 1}, "response": "a"}, format="json")
    assert bad_prompt.status_code == 400
    for body in (
        {"prompt": [], "response": "a"},  # the schema's turns list has at least one turn
        {"prompt": [{"role": "robot", "content": "hi"}], "response": "a"},
        {"prompt": "Q", "response": 0},
        {"prompt": "Q", "responses": []},
        {"prompt": "Q", "response": "a", "responses": ["b"]},  # one of the two, as the schema's oneOf says
    ):
        assert api.post(url, body, format="json").status_code == 400, body
    TrainingJob.objects.filter(id=done.id).update(status=JobStatus.RUNNING)
    assert api.post(url, {"prompt": "Q", "response": "a"}, format="json").status_code == 409


def test_every_endpoint_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/projects/{slug}/training-jobs/",
        "/api/v1/projects/{slug}/training-jobs/create/",
        "/api/v1/projects/{slug}/training-jobs/compare/",
        "/api/v1/training-jobs/{job_id}/",
        "/api/v1/training-jobs/{job_id}/cancel/",
        "/api/v1/training-jobs/{job_id}/metrics/",
        "/api/v1/training-jobs/{job_id}/checkpoint/",
        "/api/v1/training-jobs/{job_id}/evaluations/create/",
        "/api/v1/evaluations/{evaluation_id}/review-requests/",
        "/api/v1/reward-models/{job_id}/score",
    ):
        assert path in schema["paths"], path
    score = schema["paths"]["/api/v1/reward-models/{job_id}/score"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "413"} <= set(score["responses"])
    components = schema["components"]["schemas"]
    assert len(components["RewardScoreInputRequest"]["oneOf"]) == 2
    hyper = components["TrainingHyperParametersRequest"]["properties"]
    assert (hyper["learning_rate"]["minimum"], hyper["learning_rate"]["exclusiveMinimum"]) == (0.0, True)
    assert (hyper["batch_size"]["minimum"], hyper["batch_size"]["maximum"]) == (1, 1024)
    evaluation = schema["paths"]["/api/v1/training-jobs/{job_id}/evaluations/create/"]["post"]
    assert set(evaluation["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert "422" in evaluation["responses"]


def test_create_with_devices_and_a_refusal_for_too_many(api, project, snapshot, tiny_base_model, settings):
    settings.PREFSTACK_QUEUE_DEVICES = {"default": 2, "gpu": 4}
    url = f"/api/v1/projects/{project.slug}/training-jobs/create/"
    refused = api.post(url, {"snapshot": snapshot.id, "objective": "bt", "queue": "gpu", "gpus": 5}, format="json")
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "invalid_combination"
    assert "has 4: ask for 1 to 4" in body["message"]
    assert not TrainingJob.objects.exists()
    created = api.post(
        url, {"snapshot": snapshot.id, "objective": "bt", "queue": "gpu", "gpus": 4, "strategy": "fsdp"}, format="json"
    )
    assert created.status_code == 202, created.json()
    assert (created.json()["gpus"], created.json()["strategy"]) == (4, "fsdp")


def test_a_rewardbench_file_reports_rewardbench_overall_and_pooled_accuracy(
    api, done, django_capture_on_commit_callbacks
):
    rows = [
        {"prompt": "Q?", "chosen": "clear correct helpful answer", "rejected": "wrong rude vague", "subset": s}
        for s in ("alpacaeval-easy", "alpacaeval-easy", "alpacaeval-easy", "donotanswer")
    ]
    upload = SimpleUploadedFile("rb.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post(
            f"/api/v1/training-jobs/{done.id}/evaluations/create/", {"file": upload}, format="multipart"
        )
    from rm_jobs.services.evaluations import evaluation_run

    evaluation = evaluation_run(evaluation_id=response.json()["id"])
    assert evaluation.status == "succeeded", evaluation.error
    listed = api.get(f"/api/v1/training-jobs/{done.id}/evaluations/").json()
    metrics = next(e for e in listed if e["id"] == evaluation.id)["metrics"]
    chat, safety = metrics["per_subset"]["alpacaeval-easy"], metrics["per_subset"]["donotanswer"]
    assert metrics["sections"] == pytest.approx({"Chat": chat, "Safety": safety})
    assert metrics["rewardbench_overall"] == pytest.approx((chat + safety) / 2)  # sections weigh alike
    assert metrics["pooled_accuracy"] == pytest.approx((3 * chat + safety) / 4)  # rows weigh alike


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"prompt": "' + b"x" * 10_000 + b'", "chosen": "A", "rejected": "B"}\n', "longer than 8,192 bytes"),
        (b'{"prompt": ' + b"9" * 5000 + b', "chosen": "A", "rejected": "B"}\n', "a JSON value cannot be read"),
        (b"[" * 3_000 + b"]" * 3_000 + b"\n", "nested too deeply"),
    ],
    ids=["long-line", "huge-integer", "deep-nesting"],
)
def test_a_hostile_rewardbench_file_is_refused_with_the_reason(api, done, settings, body, reason):
    settings.PREFSTACK_IMPORT_MAX_LINE_BYTES = 8192
    upload = SimpleUploadedFile("rb.jsonl", b"\n" * 100_000 + body)
    response = api.post(f"/api/v1/training-jobs/{done.id}/evaluations/create/", {"file": upload}, format="multipart")
    assert response.status_code == 422
    assert reason in response.json()["message"] and "line 100001" in response.json()["message"]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_downloads_of_a_checkpoint_all_get_the_same_zip(researcher, snapshot, tmp_path):
    """Each first request builds the zip; none may trip over another's temporary file (they used to share one)."""
    import os
    import threading

    model = tmp_path / "final"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(os.urandom(6 * 1024 * 1024))  # slow enough to build that they overlap
    job = succeeded_job(snapshot, model)
    threads, barrier = 6, threading.Barrier(6)
    results: list[tuple[int, bytes]] = []

    def download() -> None:
        from django.db import connections

        client = client_for(researcher)
        barrier.wait()
        try:
            response = client.get(f"/api/v1/training-jobs/{job.id}/checkpoint/")
            body = b"".join(response.streaming_content) if response.status_code == 200 else response.content
            results.append((response.status_code, body))
        finally:
            connections.close_all()  # this thread's own connection, so that the test database can be dropped

    workers = [threading.Thread(target=download) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [status for status, _ in results] == [200] * threads
    assert len({body for _, body in results}) == 1
    with zipfile.ZipFile(io.BytesIO(results[0][1])) as archive:
        assert sorted(archive.namelist()) == ["config.json", "model.safetensors"]
    leftovers = [p.name for p in Path(job_output_dir(job)).iterdir() if "partial" in p.name or p.name.startswith(".")]
    assert leftovers == []


def test_reading_a_job_with_a_dead_worker_over_the_api_writes_nothing(api, project, snapshot):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    stale = timezone.now() - timedelta(hours=1)
    job = TrainingJob.objects.create(
        project=project, snapshot=snapshot, objective="bt", base_model="tiny", status=JobStatus.RUNNING, attempt=1,
        worker="gone@host", heartbeat_at=stale, started_at=stale, config={"hyperparameters": {}, "stages": [{}]},
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        for url in (f"/api/v1/projects/{project.slug}/training-jobs/", f"/api/v1/training-jobs/{job.id}/"):
            assert api.get(url).status_code == 200
    writes = [
        q["sql"]
        for q in queries
        if not q["sql"].lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE", "DECLARE", "CLOSE"))
    ]
    assert writes == []
    job.refresh_from_db()
    assert (job.status, job.heartbeat_at) == (JobStatus.RUNNING, stale)


def test_create_shows_the_memory_estimate_and_refuses_what_does_not_fit(
    api, project, snapshot, tiny_base_model, settings, django_capture_on_commit_callbacks
):
    url = f"/api/v1/projects/{project.slug}/training-jobs/create/"
    settings.PREFSTACK_QUEUE_GPU_MEMORY_GB = {"gpu": 1}
    refused = api.post(url, {"snapshot": snapshot.id, "objective": "bt", "queue": "gpu"}, format="json")
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "does_not_fit"
    assert body["extra"]["estimate"]["total"] > body["extra"]["estimate"]["limit_gib"]
    assert not TrainingJob.objects.exists()

    qlora = api.post(
        url,
        {"snapshot": snapshot.id, "objective": "bt", "hyperparameters": {"lora_r": 4, "qlora": True}},
        format="json",
    )
    assert (qlora.status_code, qlora.json()["code"]) == (400, "invalid_combination")
    assert set(qlora.json()["extra"]["fields"]) == {"qlora", "queue"}
    assert "needs a CUDA GPU" in qlora.json()["message"]

    with django_capture_on_commit_callbacks(execute=False):
        created = api.post(url, {"snapshot": snapshot.id, "objective": "bt"}, format="json")
    assert created.status_code == 202
    assert created.json()["memory_estimate"]["strategy"] == "full"
    assert created.json()["memory_estimate"]["total"] > 0
