"""manage.py agreement_counts: the check fails on counts a bypassing write made stale, --rebuild repairs them."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotator.models import AgreementCounts
from annotator.services.agreement_counts import agreement_counts_rebuild
from tests.annotator.selectors.quality_data import annotate
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


def test_check_then_rebuild(capsys) -> None:
    project = ProjectFactory(overlap=2)
    comparison = ComparisonFactory(project=project)
    for value in (1, 3):
        annotate(comparison, member(project), r1=value, r2=value)
    agreement_counts_rebuild(project=project)
    call_command("agreement_counts", project=[project.slug])
    assert "agree with the annotations" in capsys.readouterr().out

    annotate(comparison, member(project), r1=4, r2=0)  # straight into the tables
    with pytest.raises(CommandError, match="differ"):
        call_command("agreement_counts")
    assert f"comparison {comparison.pk}: kept counts differ" in capsys.readouterr().err

    call_command("agreement_counts", rebuild=True)
    assert "counted 3 annotations" in capsys.readouterr().out
    assert AgreementCounts.objects.get(project=project).n_counted == 3
    call_command("agreement_counts")


def test_an_unknown_project_is_named() -> None:
    with pytest.raises(CommandError, match="'nope'"):
        call_command("agreement_counts", project=["nope"])
