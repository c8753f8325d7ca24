"""Annotation.not_ratable: no strength beside it, and migration 0004 turns earlier imports' not-ratable skips into
annotations."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction

from annotator.models import Annotation, Assignment, AssignmentStatus, SkipReason
from tests.factories import ComparisonFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("annotator.migrations.0004_conform_annotation_not_ratable")


def test_a_not_ratable_annotation_has_no_strength() -> None:
    comparison = ComparisonFactory(project=ProjectFactory())
    user = UserFactory()
    assignment = Assignment.objects.create(comparison=comparison, annotator=user, status=AssignmentStatus.SKIPPED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(
            assignment=assignment, comparison=comparison, annotator=user, ratings={}, preference_strength=1,
            not_ratable=True,
        )  # fmt: skip


def test_the_migration_turns_an_earlier_imports_not_ratable_skips_into_annotations() -> None:
    comparison = ComparisonFactory(project=ProjectFactory(), source="helpsteer2-preference")
    source, person = UserFactory(username="source.helpsteer2-preference.2"), UserFactory()
    for user in (source, person):  # a person's own skip stays a skip
        Assignment.objects.create(
            comparison=comparison, annotator=user, status=AssignmentStatus.SKIPPED,
            skip_reason=SkipReason.NOT_RATABLE, skip_note="Neither is in English.",
        )  # fmt: skip
    backfill.backfill_imported_not_ratable(apps, None)
    backfill.backfill_imported_not_ratable(apps, None)  # nothing twice
    (annotation,) = Annotation.objects.all()
    assert (annotation.annotator, annotation.not_ratable, annotation.preference_strength) == (source, True, None)
    assert (annotation.justification, annotation.source, annotation.ratings) == (
        "Neither is in English.",
        "helpsteer2-preference",
        {},
    )
