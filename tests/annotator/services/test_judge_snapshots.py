"""Snapshots with the LLM judge's drafts: separate model-made columns, never mixed with the human labels."""

from __future__ import annotations

import io
import zipfile
from typing import Any
from unittest import mock

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from annotator.exports import EXPORT_FORMATS, FORMAT_SPECS
from annotator.exports.canonical import items_model_made_columns, judge_column_names
from annotator.exports.formats import judge_export_columns
from annotator.exports.judge_columns import JUDGE_COLUMN_PREFIX
from annotator.llm.judge import DEFAULT_TEMPLATE
from annotator.models import (
    AggregationKind,
    AggregationRule,
    Annotation,
    Assignment,
    AssignmentStatus,
    Comparison,
    JudgeDraft,
    JudgeDraftStatus,
    JudgeRun,
    JudgeRunStatus,
    Project,
    Role,
    Snapshot,
    SnapshotStatus,
)
from annotator.selectors.judge import judge_drafts_for_snapshot
from annotator.services.snapshots.files import (
    ITEMS_FILE,
    snapshot_bundle_file,
    snapshot_card,
    snapshot_export_file,
    snapshot_plain_file,
)
from annotator.services.snapshots.lifecycle import snapshot_build, snapshot_create
from annotator.tasks import snapshot_build_task
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

JUDGE_MODEL = "judge-model-7b"
SECRET_REASON = "The judge's own reason, which no annotator may read."


def _annotate(comparison: Comparison, user: Any, r1: int, r2: int, strength: int) -> None:
    names = list(comparison.project.attributes.values_list("name", flat=True))
    assignment = Assignment.objects.create(comparison=comparison, annotator=user, status=AssignmentStatus.SUBMITTED)
    Annotation.objects.create(
        assignment=assignment, comparison=comparison, annotator=user,
        ratings={"1": dict.fromkeys(names, r1), "2": dict.fromkeys(names, r2)},
        preference_strength=strength, justification=f"@Response 2 is better by {strength}. Because.",
    )  # fmt: skip


def _run(project: Project, status: str = JudgeRunStatus.SUCCEEDED, model_id: str = JUDGE_MODEL) -> JudgeRun:
    return JudgeRun.objects.create(project=project, template=DEFAULT_TEMPLATE, status=status, model_id=model_id)


def _draft(run: JudgeRun, comparison: Comparison, strength: int | None, status: str = JudgeDraftStatus.OK,
           confidence: float | None = 0.7, first: int = 1) -> JudgeDraft:  # fmt: skip
    names = list(comparison.project.attributes.values_list("name", flat=True))
    ratings = {"1": {n: (first + i) % 5 for i, n in enumerate(names)}, "2": dict.fromkeys(names, 4)}
    return JudgeDraft.objects.create(
        run=run, comparison=comparison, status=status, ratings=ratings if status == JudgeDraftStatus.OK else {},
        preference_strength=strength, confidence=confidence, reason=SECRET_REASON,
    )  # fmt: skip


@pytest.fixture
def world() -> dict[str, Any]:
    """Three comparisons: 0 annotated by three people and drafted by two runs (the newer one counts), 1 annotated
    with only a failed draft (and an ok one of a failed run), 2 drafted but unannotated (no item)."""
    project = ProjectFactory()
    annotators = [member(project, Role.ANNOTATOR) for _ in range(3)]
    comparisons = [ComparisonFactory(project=project) for _ in range(3)]
    for user, r1, strength in zip(annotators, (2, 3, 3), (1, 2, 2), strict=True):
        _annotate(comparisons[0], user, r1, 4, strength)
    _annotate(comparisons[1], annotators[0], 1, 1, 0)
    old, new = _run(project, model_id="older-model"), _run(project)
    _draft(old, comparisons[0], 3, first=0)
    newest = _draft(new, comparisons[0], -2, confidence=0.7, first=1)
    _draft(new, comparisons[1], None, status=JudgeDraftStatus.FAILED, confidence=None)
    _draft(_run(project, status=JudgeRunStatus.FAILED, model_id="broken"), comparisons[1], 3)
    _draft(new, comparisons[2], 1)
    return {"project": project, "comparisons": comparisons, "newest": newest, "annotators": annotators}


def _build(project: Project, **kwargs: Any) -> Snapshot:
    rule, _ = AggregationRule.objects.get_or_create(name="plain-mean", kind=AggregationKind.MEAN, params={})
    with mock.patch.object(snapshot_build_task, "delay"):
        snapshot = snapshot_create(project=project, user=None, rule=rule, **kwargs)
    built = snapshot_build(snapshot_id=snapshot.id)
    assert built.status == SnapshotStatus.READY, built.error
    return built


def test_drafts_are_separate_columns_and_the_human_data_is_unchanged(world: dict[str, Any]) -> None:
    project: Project = world["project"]
    names = list(project.attributes.values_list("name", flat=True))
    plain = _build(project)
    judged = _build(project, include_judge_drafts=True)
    assert judged.include_judge_drafts and not plain.include_judge_drafts

    plain_table = pq.read_table(snapshot_plain_file(snapshot=plain, name=ITEMS_FILE))
    judged_table = pq.read_table(snapshot_plain_file(snapshot=judged, name=ITEMS_FILE))
    judge_columns = judge_column_names(names)
    assert not [c for c in plain_table.column_names if c.startswith("judge")]
    assert items_model_made_columns(plain_table.schema) == ()
    assert judged_table.column_names == [*plain_table.column_names, *judge_columns]
    assert items_model_made_columns(judged_table.schema) == tuple(judge_columns)
    # Every human column, label and annotation is the same in both builds.
    assert judged_table.select(plain_table.column_names).equals(plain_table)

    rows = {row["comparison_id"]: row for row in judged_table.to_pylist()}
    first, second = world["comparisons"][:2]
    assert set(rows) == {str(first.id), str(second.id)}  # the unannotated, drafted comparison is no item
    newest: JudgeDraft = world["newest"]
    drafted = rows[str(first.id)]
    assert drafted["judge_model"] == JUDGE_MODEL
    assert drafted["judge_preference_strength"] == newest.preference_strength == -2
    assert drafted["judge_confidence"] == pytest.approx(0.7)
    for name in names:
        assert drafted[f"judge_{name}_1"] == newest.ratings["1"][name]
        assert drafted[f"judge_{name}_2"] == newest.ratings["2"][name]
    assert drafted["preference_strength"] == 2  # the people's label, not the judge's -2
    # Only a failed draft (and a failed run's): nothing drafted.
    assert all(rows[str(second.id)][c] is None for c in judge_columns)
    assert judged.counts["judge_drafts"] == 1 and judged.counts["judge_models"] == [JUDGE_MODEL]
    assert "judge_drafts" not in plain.counts


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_released_formats_stay_as_released_and_trainer_ready_ones_add_prefixed_judge_columns(
    world: dict[str, Any], fmt: str
) -> None:
    plain = _build(world["project"])
    judged = _build(world["project"], include_judge_drafts=True)
    before = pq.read_table(snapshot_export_file(snapshot=plain, fmt=fmt))
    after = pq.read_table(snapshot_export_file(snapshot=judged, fmt=fmt))
    if fmt not in judge_export_columns(["helpfulness"]):
        assert after.equals(before, check_metadata=True)
        return
    added = [name for name in after.column_names if name not in before.column_names]
    assert added and all(name.startswith(JUDGE_COLUMN_PREFIX) for name in added)
    if not FORMAT_SPECS[fmt].native_split:
        assert after.column_names[-1] == before.column_names[-1] == "split"  # an added split column stays last
    assert after.select(before.column_names).equals(before)  # the human columns, unchanged


def test_trainer_ready_exports_carry_the_newest_draft(world: dict[str, Any]) -> None:
    project: Project = world["project"]
    names = list(project.attributes.values_list("name", flat=True))
    newest: JudgeDraft = world["newest"]
    judged = _build(project, include_judge_drafts=True)
    (pair,) = pq.read_table(snapshot_export_file(snapshot=judged, fmt="trl-preference")).to_pylist()
    # The people chose response 2 (+2); the newest draft prefers response 1 (−2): it disagrees.
    assert (pair["margin"], pair["judge_model"], pair["judge_margin"]) == (2.0, JUDGE_MODEL, -2.0)
    for name in names:
        assert pair[f"judge_{name}_chosen"] == newest.ratings["2"][name]
        assert pair[f"judge_{name}_rejected"] == newest.ratings["1"][name]
    rows = pq.read_table(snapshot_export_file(snapshot=judged, fmt="regression")).to_pylist()
    drafted = [r for r in rows if r["id"] == str(world["comparisons"][0].id)]
    assert [r[f"judge_{names[0]}"] for r in drafted] == [newest.ratings["1"][names[0]], newest.ratings["2"][names[0]]]
    undrafted = [r for r in rows if r["id"] == str(world["comparisons"][1].id)]
    assert undrafted and all(r["judge_model"] is None for r in undrafted)
    with zipfile.ZipFile(snapshot_bundle_file(snapshot=judged)) as bundle:  # the bundle's files, the same way
        bundled = pq.read_table(io.BytesIO(bundle.read("trl-preference/train.parquet")))
    assert bundled.to_pylist() == [pair]


def test_card_names_the_model_made_columns(world: dict[str, Any]) -> None:
    project: Project = world["project"]
    names = list(project.attributes.values_list("name", flat=True))
    card = snapshot_card(snapshot=_build(project, include_judge_drafts=True))
    section = card.split("## Model-made columns", 1)[1].split("\n## ", 1)[0]
    assert "not human labels" in section
    assert f"Judge model: `{JUDGE_MODEL}`" in section and "older-model" not in section
    for column in judge_column_names(names):
        assert f"- `{column}`" in section
    for fmt, columns in judge_export_columns(names).items():
        assert f"- `{fmt}`: " + ", ".join(f"`{c}`" for c in columns) in section
    assert "HelpSteer2- and HelpSteer3-compatible files do not carry them" in section
    assert "Model-made columns" not in snapshot_card(snapshot=_build(project))


def test_the_drafts_of_a_chunk_take_one_query(world: dict[str, Any], django_assert_num_queries: Any) -> None:
    ids = [c.id for c in world["comparisons"]]
    with django_assert_num_queries(1):
        drafts = judge_drafts_for_snapshot(
            project=world["project"],
            attributes=("helpfulness",),
            first_comparison_id=ids[0],
            last_comparison_id=ids[-1],
        )
    assert drafts.comparison_ids.tolist() == [ids[0], ids[2]]
    assert drafts.model == [JUDGE_MODEL, JUDGE_MODEL]


def test_the_api_page_and_command_take_the_option(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    project: Project = world["project"]
    researcher = member(project, Role.RESEARCHER)
    api = APIClient()
    api.force_authenticate(researcher)
    url = f"/api/v1/projects/{project.slug}/snapshots/create/"
    with mock.patch.object(snapshot_build_task, "delay"), django_capture_on_commit_callbacks(execute=True):
        on = api.post(url, {"include_judge_drafts": True}, format="json")
        off = api.post(url, {}, format="json")
        bad = api.post(url, {"include_judge_drafts": "perhaps"}, format="json")
    assert on.status_code == 202 and on.json()["include_judge_drafts"] is True
    assert off.status_code == 202 and off.json()["include_judge_drafts"] is False
    assert bad.status_code == 400 and "include_judge_drafts" in bad.json()["extra"]["fields"]

    web = Client()
    web.force_login(researcher)
    page = web.get(f"/p/{project.slug}/snapshots/")
    assert 'name="include_judge_drafts"' in page.content.decode()
    with mock.patch.object(snapshot_build_task, "delay"):
        assert web.post(f"/p/{project.slug}/snapshots/", {"include_judge_drafts": "on"}).status_code == 302
        assert web.post(f"/p/{project.slug}/snapshots/", {}).status_code == 302
        call_command("create_snapshot", project=project.slug, judge_drafts=True, stdout=mock.Mock())
    flags = list(Snapshot.objects.filter(project=project).order_by("number").values_list("include_judge_drafts"))
    assert flags == [(True,), (False,), (True,), (False,), (True,)]


def test_annotators_still_never_see_a_draft(world: dict[str, Any]) -> None:
    project: Project = world["project"]
    snapshot = _build(project, include_judge_drafts=True)
    annotator = member(project, Role.ANNOTATOR)
    api = APIClient()
    api.force_authenticate(annotator)
    assert api.get(f"/api/v1/projects/{project.slug}/snapshots/").status_code == 403
    assert api.get(f"/api/v1/snapshots/{snapshot.id}/").status_code in (403, 404)
    assert api.get(f"/api/v1/snapshots/{snapshot.id}/card/").status_code in (403, 404)
    assert api.get(f"/api/v1/snapshots/{snapshot.id}/download/").status_code in (403, 404)
    web = Client()
    web.force_login(annotator)
    assert web.get(f"/p/{project.slug}/snapshots/").status_code == 403
    assert web.get(f"/p/{project.slug}/snapshots/{snapshot.number}/").status_code == 403
    for text in (
        web.get(f"/p/{project.slug}/").content.decode(),
        web.get(f"/p/{project.slug}/annotate/").content.decode(),
    ):
        assert SECRET_REASON not in text and JUDGE_MODEL not in text
