import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from annotator.models import Annotation, Assignment, Comparison, Membership, Project, Role
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def _call(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, verbosity=0)
    return out.getvalue()


def test_load_demo_creates_the_project_the_users_and_some_simulated_work_and_reuses_it() -> None:
    output = _call("load_demo")
    project = Project.objects.get(slug="demo")
    assert project.comparisons.count() >= 60
    assert {
        m.role
        for m in Membership.objects.filter(project=project, user__username__in=["annotator", "lead", "researcher"])
    } == set(Role.values)
    assert authenticate(username="annotator", password="prefstack-demo") is not None
    assert "annotator" in output and "prefstack-demo" in output
    annotations = Annotation.objects.filter(comparison__project=project).count()
    assert annotations > 50
    # The demo annotator still finds work: some comparisons have free slots.
    assert (
        Assignment.objects.filter(comparison__project=project).count() < project.comparisons.count() * project.overlap
    )

    again = _call("load_demo")
    assert "Reusing" in again
    assert Comparison.objects.filter(project=project).count() == project.comparisons.count()
    assert Annotation.objects.filter(comparison__project=project).count() == annotations


def test_simulate_annotators_works_through_the_services_until_nothing_is_left() -> None:
    project = ProjectFactory(overlap=2)
    rows = [{"prompt": f"Question {i}?", "response_1": "Yes.", "response_2": "No.", "split": "train"} for i in range(5)]
    path = Path(project.slug + ".jsonl")
    try:
        path.write_text("\n".join(json.dumps(r) for r in rows))
        _call("import_comparisons", str(path), "--project", project.slug, "--format", "prefstack")
    finally:
        path.unlink()
    output = _call("simulate_annotators", "--project", project.slug, "--annotators", "3", "--seed", "1")
    assert "3 annotators" in output
    done = Assignment.objects.filter(comparison__project=project, status__in=["submitted", "skipped"]).count()
    submitted = Annotation.objects.filter(comparison__project=project).count()
    assert submitted >= 8 and done >= 10  # overlap 2 × 5 comparisons (adaptive overlap may ask for more)
    # Annotations are stored in response terms whatever side each annotator saw.
    assert all(set(a.ratings) == {"1", "2"} for a in Annotation.objects.filter(comparison__project=project))


def test_import_command_reports_the_line_and_imports_nothing_on_bad_input(tmp_path: Path) -> None:
    project = ProjectFactory()
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "p", "response_1": "a", "response_2": "b"}\n{not json\n')
    with pytest.raises(CommandError, match="line 2"):
        _call("import_comparisons", str(path), "--project", project.slug, "--format", "prefstack")
    assert not Comparison.objects.exists()
    with pytest.raises(CommandError, match="No project"):
        _call("import_comparisons", str(path), "--project", "nope", "--format", "prefstack")
