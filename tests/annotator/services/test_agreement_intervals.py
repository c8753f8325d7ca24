import pytest

from annotator.models import AgreementIntervals, IntervalsStatus
from annotator.selectors.agreement_cache import agreement_intervals_get
from annotator.services import agreement_intervals as service
from annotator.services.agreement_intervals import agreement_intervals_compute, agreement_intervals_request
from annotator.tasks import agreement_intervals_task
from tests.annotator.selectors.quality_data import annotate, simulated_project
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(agreement_intervals_task, "delay", lambda project_id: calls.append(project_id))
    return calls


def test_a_request_enqueues_once_after_commit_and_the_task_stores_intervals(
    queued, django_capture_on_commit_callbacks
) -> None:
    project = ProjectFactory()
    simulated_project(project, comparisons=60, profiles=["careful"] * 3, seed=1)
    with django_capture_on_commit_callbacks(execute=True):
        agreement_intervals_request(project=project, n_resamples=200)
        agreement_intervals_request(project=project, n_resamples=200)  # same data, already queued
    assert queued == [project.pk]
    assert agreement_intervals_get(project=project).busy

    assert agreement_intervals_task.apply(args=[project.pk]).get() == "ready"
    assert agreement_intervals_task.apply(args=[project.pk]).get() == "skipped"  # delivered twice: runs once
    state = agreement_intervals_get(project=project)
    assert state.current
    assert not state.busy
    assert state.n_resamples == 200
    helpfulness = state.results["helpfulness"]
    assert helpfulness["ci_low"] <= helpfulness["alpha"] <= helpfulness["ci_high"]
    assert helpfulness["n_units"] == 120

    with django_capture_on_commit_callbacks(execute=True):
        agreement_intervals_request(project=project, n_resamples=200)  # current: nothing to do
    assert queued == [project.pk]


def test_new_annotations_make_the_intervals_stale(queued, django_capture_on_commit_callbacks) -> None:
    project = ProjectFactory()
    simulated_project(project, comparisons=20, profiles=["careful"] * 3, seed=2)
    agreement_intervals_request(project=project, n_resamples=50)
    agreement_intervals_compute(project_id=project.pk)
    annotate(ComparisonFactory(project=project), member(project))
    state = agreement_intervals_get(project=project)
    assert state.known
    assert not state.current
    with django_capture_on_commit_callbacks(execute=True):
        agreement_intervals_request(project=project, n_resamples=50)
    assert queued == [project.pk]  # the first request's callback was never committed; this is the second


def test_a_failure_is_recorded_and_raised(queued, monkeypatch) -> None:
    project = ProjectFactory()
    agreement_intervals_request(project=project)

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(service, "annotation_frame", broken)
    with pytest.raises(RuntimeError):
        agreement_intervals_compute(project_id=project.pk)
    row = AgreementIntervals.objects.get(project=project)
    assert row.status == IntervalsStatus.FAILED
    assert "database went away" in row.error
