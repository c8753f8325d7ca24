"""The Python client against a live Prefstack server (pytest-django's ``live_server``, Celery eager in its thread):
token login, projects and snapshots, a snapshot created and waited for, exports as a DataFrame and a Dataset, an
import, an evaluation, scoring, the webhook endpoints, and errors as exceptions with message, code and extra."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefstack import Client, PrefstackError

from annotator.models import Comparison, Role, Webhook
from config.celery import app as celery_app
from tests.annotator.services.test_snapshots import annotate
from tests.factories import ComparisonFactory, ProjectFactory, member
from tests.rm_jobs.conftest import build_tiny_model, ready_snapshot, succeeded_job

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "formats"
PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's


@pytest.fixture(autouse=True)
def eager_celery(settings: Any) -> Iterator[None]:
    """Tasks run in the server's thread as they are sent (after the request's transaction commits)."""
    settings.PREFSTACK_JOB_HEARTBEAT_SECONDS = 0
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


@pytest.fixture
def project() -> Any:
    project = ProjectFactory(slug="reviews")
    annotators = [member(project, Role.ANNOTATOR) for _ in range(3)]
    for strength in (-2, 1, 3):
        comparison = ComparisonFactory(project=project)
        for user, value in zip(annotators, (2, 3, 3), strict=True):
            annotate(comparison, user, value, 3, strength)
    return project


@pytest.fixture
def lead(project: Any, live_server: Any) -> Iterator[Client]:
    user = member(project, Role.LEAD, username="lea")
    member(project, Role.RESEARCHER, username="lea")  # leads who train hold both roles
    assert user.check_password(PASSWORD)
    with Client.login(live_server.url, "lea", PASSWORD) as client:
        yield client


def test_login_with_a_password_then_the_token_works(project: Any, live_server: Any) -> None:
    member(project, Role.RESEARCHER, username="rhea")
    with Client.login(live_server.url, "rhea", PASSWORD) as client:
        (listed,) = client.projects()
    assert (listed.slug, listed.roles, listed.comparisons) == ("reviews", ["researcher"], 3)
    with pytest.raises(PrefstackError) as caught:
        Client.login(live_server.url, "rhea", "wrong")
    assert (caught.value.status_code, caught.value.code) == (401, "invalid_credentials")
    with Client(live_server.url, token="not-a-token") as stranger, pytest.raises(PrefstackError) as caught:
        stranger.projects()
    assert (caught.value.status_code, caught.value.code) == (401, "authentication_failed")


def test_create_a_snapshot_wait_and_read_its_exports(lead: Client, tmp_path: Path) -> None:
    snapshot = lead.create_snapshot("reviews", name="first", validation_fraction=0.0, wait=True, timeout=120)
    assert (snapshot.status, snapshot.number, snapshot.name, snapshot.rule.name) == ("ready", 1, "first", "helpsteer2")
    assert len(snapshot.content_hash) == 64
    assert snapshot.finished_at is not None and snapshot.finished_at >= snapshot.created_at
    assert [s.id for s in lead.snapshots("reviews", status="ready")] == [snapshot.id]

    frame = lead.to_pandas(snapshot.id, export="helpsteer2-preference")
    assert sorted(frame["preference_strength"].tolist()) == [-2, 1, 3]
    dataset = lead.to_dataset(snapshot.id, export="trl-preference", split="train")
    assert dataset.num_rows == 3
    assert {"prompt", "chosen", "rejected"} <= set(dataset.column_names)

    lead.download(snapshot.id, to=tmp_path / "bundle.zip")
    assert "README.md" in zipfile.ZipFile(tmp_path / "bundle.zip").namelist()


def test_import_a_file(lead: Client) -> None:
    result = lead.import_file("reviews", FIXTURES / "prefstack.jsonl", format="prefstack", split="train")
    assert (result.comparisons, result.annotations, result.skipped_as_not_ratable) == (2, 0, 0)
    assert Comparison.objects.filter(project__slug="reviews").count() == 5


def test_errors_carry_message_code_and_extra(lead: Client, tmp_path: Path) -> None:
    with pytest.raises(PrefstackError) as caught:
        lead.snapshot(999_999)
    assert (caught.value.status_code, caught.value.code) == (404, "not_found")

    with pytest.raises(PrefstackError) as caught:
        lead.create_snapshot("reviews", validation_fraction=1.5)
    assert (caught.value.status_code, caught.value.code) == (400, "validation_failed")
    assert "validation_fraction" in caught.value.extra["fields"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "Hi", "response_1": "a"}\n')
    with pytest.raises(PrefstackError) as caught:
        lead.import_file("reviews", bad, format="prefstack")
    assert caught.value.code == "import_failed"
    assert caught.value.extra  # the line and what was expected

    with Client(lead.base_url, token=None) as anonymous, pytest.raises(PrefstackError) as caught:
        anonymous.projects()
    assert caught.value.status_code == 401


def test_webhooks(lead: Client, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from annotator import tasks

    settings.PREFSTACK_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    sent: list[int] = []
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", sent.append)

    hook = lead.create_webhook("reviews", url="http://127.0.0.1:9/hook", events=["snapshot.ready"])
    assert hook.secret == Webhook.objects.get().secret
    assert [(w.id, w.url) for w in lead.webhooks("reviews")] == [(hook.id, hook.url)]
    paused = lead.update_webhook("reviews", hook.id, is_active=False, events=["snapshot.ready", "import.finished"])
    assert (paused.is_active, paused.events) == (False, ["snapshot.ready", "import.finished"])
    assert lead.rotate_webhook_secret("reviews", hook.id).secret != hook.secret

    test = lead.send_webhook_test("reviews", hook.id)
    assert (test.event, test.status) == ("webhook.test", "pending")
    again = lead.redeliver("reviews", test.id)
    assert again.redelivery_of == test.id
    assert [d.id for d in lead.webhook_deliveries("reviews", webhook=hook.id)] == [again.id, test.id]
    assert sent == [test.id, again.id]

    with pytest.raises(PrefstackError) as caught:
        lead.create_webhook("reviews", url="http://10.1.2.3/hook", events=["snapshot.ready"])
    assert (caught.value.code, list(caught.value.extra["fields"])) == ("webhook_url_not_allowed", ["url"])
    with pytest.raises(PrefstackError) as caught:
        lead.create_webhook("reviews", url="http://127.0.0.1:9/hook", events=["snapshot.eaten"])
    assert caught.value.code == "webhook_event_unknown"

    lead.delete_webhook("reviews", hook.id)
    assert lead.webhooks("reviews") == []


def test_evaluate_a_job_and_score_pairs(
    lead: Client, project: Any, settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from rm_jobs.training import TrainConfig, train

    model = build_tiny_model(tmp_path_factory.mktemp("tiny"))
    rows = [{"prompt": "Q?", "chosen": "clear helpful answer", "rejected": "vague rude", "margin": 1.0}] * 8
    config = TrainConfig(model_path=str(model), objective="bt", batch_size=4, max_steps=2, max_length=32)
    trained = train(config, rows, output_dir=tmp_path_factory.mktemp("trained")).model_dir
    snapshot = ready_snapshot(project, comparisons=10)
    job = succeeded_job(snapshot, trained)

    evaluation = lead.evaluate(job.id, snapshot=snapshot.id, wait=True, timeout=120)
    assert evaluation.status == "succeeded", evaluation.error
    assert evaluation.metrics["num_pairs"] == 2  # every fifth comparison is validation

    scores = lead.score(job.id, "How do I do it?", ["a clear helpful answer", "vague"])
    assert len(scores.rewards) == 2 and scores.max_length > 0
    pairs = [("How do I do it?", "clear"), ([{"role": "user", "content": "Other?"}], "vague"), ("How do I do it?", "x")]
    rewards = lead.score_pairs(job.id, pairs)
    assert len(rewards) == 3
    assert rewards[0] == pytest.approx(lead.score(job.id, "How do I do it?", ["clear"]).rewards[0], abs=1e-5)

    with pytest.raises(PrefstackError) as caught:
        lead.score(job.id, "Q", [])
    assert caught.value.code == "validation_failed"
    with pytest.raises(PrefstackError) as caught:
        lead.evaluate(job.id, snapshot=999_999)
    assert caught.value.status_code == 404
