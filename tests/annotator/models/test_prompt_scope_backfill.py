"""Migration 0007 copies the domain and language a HelpSteer3 import kept in the comparison's metadata to the
prompt's own columns."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from annotator.models import Prompt
from tests.factories import ComparisonFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("annotator.migrations.0007_hs3_pools")


def test_the_backfill_reads_the_metadata_and_leaves_other_prompts_alone() -> None:
    hs3 = ComparisonFactory(metadata={"domain": " code ", "language": "python", "kept": 1})
    only_domain = ComparisonFactory(metadata={"domain": "stem"})
    odd = ComparisonFactory(metadata={"domain": 7, "language": ["x"]})
    plain = ComparisonFactory(prompt__domain="general", prompt__language="english")

    migration.prompt_scope_backfill(apps, None)

    scopes = dict(Prompt.objects.values_list("id", "domain"))
    languages = dict(Prompt.objects.values_list("id", "language"))
    assert (scopes[hs3.prompt_id], languages[hs3.prompt_id]) == ("code", "python")
    assert (scopes[only_domain.prompt_id], languages[only_domain.prompt_id]) == ("stem", "")
    assert (scopes[odd.prompt_id], languages[odd.prompt_id]) == ("", "")
    assert (scopes[plain.prompt_id], languages[plain.prompt_id]) == ("general", "english")
    hs3.refresh_from_db()
    assert hs3.metadata == {"domain": " code ", "language": "python", "kept": 1}  # the metadata keeps its copy
