"""snapshot_create / snapshot_build / exports: what a snapshot freezes, and that it stays frozen."""

from __future__ import annotations

import gzip
import io
import json
import math
import zipfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from annotator.errors import Conflict, ValidationFailed
from annotator.exports import EXPORT_FORMATS
from annotator.models import (
    AggregationKind,
    AggregationRule,
    Annotation,
    Assignment,
    AssignmentStatus,
    Comparison,
    Review,
    Role,
    Snapshot,
    SnapshotStatus,
)
from annotator.services.imports import comparisons_import
from annotator.services.snapshots import build as build_pipeline
from annotator.services.snapshots import lifecycle
from annotator.services.snapshots.files import (
    ITEMS_FILE,
    snapshot_bundle_file,
    snapshot_card,
    snapshot_export_file,
    snapshot_folder,
    snapshot_items,
)
from annotator.services.snapshots.lifecycle import snapshot_build, snapshot_create
from annotator.tasks import snapshot_build_task
from config.celery import app as celery_app
from tests.factories import ComparisonFactory, ProjectFactory, PromptFactory, ResponseFactory, member

pytestmark = pytest.mark.django_db

ATTRS = ["helpfulness", "correctness", "coherence", "complexity", "verbosity"]


@pytest.fixture
def eager_celery() -> Iterator[None]:
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


def annotate(comparison: Comparison, user: Any, r1: int, r2: int, strength: int | None, text: str = "") -> Annotation:
    assignment = Assignment.objects.create(comparison=comparison, annotator=user, status=AssignmentStatus.SUBMITTED)
    return Annotation.objects.create(
        assignment=assignment,
        comparison=comparison,
        annotator=user,
        ratings={"1": dict.fromkeys(ATTRS, r1), "2": dict.fromkeys(ATTRS, r2)},
        preference_strength=strength,
        justification=text or f"@Response 2 is better by {strength}. Because.",
    )


@pytest.fixture
def mean_rule() -> AggregationRule:
    return AggregationRule.objects.create(name="plain-mean", kind=AggregationKind.MEAN, params={})


@pytest.fixture
def project_with_annotations() -> dict[str, Any]:
    project = ProjectFactory()
    researcher = member(project, Role.RESEARCHER)
    annotators = [member(project, Role.ANNOTATOR) for _ in range(3)]
    comparisons = [ComparisonFactory(project=project) for _ in range(3)]
    # Comparison 0: ratings 2, 3, 3 for response 1 -> mean 2.67 -> 3; strengths 1, 2, 2 -> 2.
    for user, r1, strength in zip(annotators, (2, 3, 3), (1, 2, 2), strict=True):
        annotate(comparisons[0], user, r1, 4, strength)
    # Comparison 1: one annotator, a tie.
    annotate(comparisons[1], annotators[0], 1, 1, 0, "About the same. Both fine.")
    # Comparison 2: nobody annotated it.
    return {"project": project, "researcher": researcher, "annotators": annotators, "comparisons": comparisons}


def build(project: Any, user: Any = None, **kwargs: Any) -> Snapshot:
    with mock.patch.object(snapshot_build_task, "delay"):
        snapshot = snapshot_create(project=project, user=user, **kwargs)
    return snapshot_build(snapshot_id=snapshot.id)


def test_create_numbers_snapshots_and_enqueues_after_commit(
    project_with_annotations: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    project = project_with_annotations["project"]
    with mock.patch.object(snapshot_build_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            first = snapshot_create(project=project, user=project_with_annotations["researcher"])
            second = snapshot_create(project=project, user=None)
        delay.assert_not_called()  # nothing is enqueued before the transaction commits
        for callback in callbacks:
            callback()
    assert (first.number, second.number) == (1, 2)
    assert first.status == SnapshotStatus.PENDING
    assert first.rule.name == "helpsteer2"
    assert first.rule_params["kind"] == AggregationKind.HELPSTEER2
    assert [c.args for c in delay.call_args_list] == [(first.id,), (second.id,)]


def test_created_snapshot_builds_through_celery(
    project_with_annotations: dict[str, Any],
    mean_rule: AggregationRule,
    eager_celery: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        snapshot = snapshot_create(project=project_with_annotations["project"], user=None, rule=mean_rule)
    snapshot.refresh_from_db()
    assert snapshot.status == SnapshotStatus.READY
    assert snapshot.progress == 1.0


def test_build_freezes_aggregated_items(project_with_annotations: dict[str, Any], mean_rule: AggregationRule) -> None:
    project, comparisons = project_with_annotations["project"], project_with_annotations["comparisons"]
    snapshot = build(project, rule=mean_rule)
    assert snapshot.status == SnapshotStatus.READY, snapshot.error
    items = list(snapshot_items(snapshot))
    assert [i.comparison_id for i in items] == [str(comparisons[0].id), str(comparisons[1].id)]
    first = items[0]
    assert dict(first.ratings_1) == dict.fromkeys(ATTRS, 3)  # mean of 2, 3, 3 rounded
    assert dict(first.ratings_2) == dict.fromkeys(ATTRS, 4)
    assert first.preference_strength == 2  # mean of 1, 2, 2 rounded half away from zero
    assert first.justification == "@Response 2 is better by 2. Because."
    assert len(first.annotations) == 3
    assert {a.annotator for a in first.annotations} <= {"a1", "a2", "a3"}
    assert first.turns[0].role == "user"
    assert items[1].preference_strength == 0
    assert snapshot.counts["included"] == 2
    assert snapshot.counts["unlabelled"] == 1
    assert snapshot.counts["annotations"] == 4
    assert sum(snapshot.counts["splits"].values()) == 2
    assert len(snapshot.content_hash) == 64
    assert snapshot.started_at <= snapshot.finished_at


def test_content_hash_is_sha256_of_the_canonical_items(
    project_with_annotations: dict[str, Any], mean_rule: AggregationRule
) -> None:
    import hashlib

    snapshot = build(project_with_annotations["project"], rule=mean_rule)
    raw = (snapshot_folder(snapshot) / ITEMS_FILE).read_bytes()
    assert raw.startswith(b"PAR1")  # the canonical items are Parquet
    assert hashlib.sha256(raw).hexdigest() == snapshot.content_hash
    # The same data and rule give the same hash in a new version.
    again = build(project_with_annotations["project"], rule=mean_rule)
    assert again.number == snapshot.number + 1
    assert again.content_hash == snapshot.content_hash


def test_card_and_licence(project_with_annotations: dict[str, Any], mean_rule: AggregationRule) -> None:
    snapshot = build(project_with_annotations["project"], rule=mean_rule)
    folder = snapshot_folder(snapshot)
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0\n")
    assert "config_name" in card
    assert "helpsteer2-preference/train.parquet" in card
    assert "plain-mean v1 (mean)" in card
    assert "### helpfulness" in card
    assert "Perfectly helpful" in card
    assert "| train |" in card
    assert "Creative Commons Attribution 4.0" in (folder / "LICENSE").read_text()


def test_task_delivered_twice_builds_once(project_with_annotations: dict[str, Any], mean_rule: AggregationRule) -> None:
    with mock.patch.object(snapshot_build_task, "delay"):
        snapshot = snapshot_create(project=project_with_annotations["project"], user=None, rule=mean_rule)
    with mock.patch.object(lifecycle, "snapshot_build_into", wraps=lifecycle.snapshot_build_into) as build_into:
        assert snapshot_build_task(snapshot.id) == SnapshotStatus.READY
        first = Snapshot.objects.get(id=snapshot.id)
        assert snapshot_build_task(snapshot.id) == SnapshotStatus.READY
    assert build_into.call_count == 1
    second = Snapshot.objects.get(id=snapshot.id)
    assert (second.finished_at, second.content_hash) == (first.finished_at, first.content_hash)


def test_a_building_snapshot_is_not_built_again(project_with_annotations: dict[str, Any]) -> None:
    with mock.patch.object(snapshot_build_task, "delay"):
        snapshot = snapshot_create(project=project_with_annotations["project"], user=None)
    Snapshot.objects.filter(id=snapshot.id).update(status=SnapshotStatus.BUILDING)
    with mock.patch.object(lifecycle, "snapshot_build_into") as build_into:
        assert snapshot_build(snapshot_id=snapshot.id).status == SnapshotStatus.BUILDING
    build_into.assert_not_called()


def test_failed_build_records_the_error_and_leaves_no_folder(project_with_annotations: dict[str, Any]) -> None:
    with mock.patch.object(snapshot_build_task, "delay"):
        snapshot = snapshot_create(project=project_with_annotations["project"], user=None)
    with mock.patch.object(build_pipeline, "annotation_frame", side_effect=RuntimeError("database went away")):
        failed = snapshot_build(snapshot_id=snapshot.id)
    assert failed.status == SnapshotStatus.FAILED
    assert failed.error.startswith("RuntimeError: database went away")
    assert failed.finished_at is not None
    assert not snapshot_folder(failed).exists()
    assert not list(snapshot_folder(failed).parent.glob(".*"))
    with pytest.raises(Conflict):
        snapshot_export_file(snapshot=failed, fmt="helpsteer2")


def test_ready_snapshot_is_immutable(project_with_annotations: dict[str, Any], mean_rule: AggregationRule) -> None:
    project, comparisons = project_with_annotations["project"], project_with_annotations["comparisons"]
    snapshot = build(project, rule=mean_rule)
    before_items = list(snapshot_items(snapshot))
    # Later work: a new annotation on an included comparison and one on the unlabelled comparison.
    late = member(project, Role.ANNOTATOR)
    annotate(comparisons[0], late, 0, 0, -3)
    annotate(comparisons[2], late, 2, 2, 1)
    snapshot.refresh_from_db()
    export = snapshot_export_file(snapshot=snapshot, fmt="helpsteer2-preference", file_type="jsonl")
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    assert [r["preference_strength"] for r in rows] == [2, 0]
    assert list(snapshot_items(snapshot)) == before_items
    # Building the same snapshot again does nothing; a new version sees the new work.
    assert snapshot_build(snapshot_id=snapshot.id).content_hash == snapshot.content_hash
    newer = build(project, rule=mean_rule)
    assert newer.content_hash != snapshot.content_hash
    assert newer.counts["included"] == 3


def test_rejected_annotations_are_left_out(
    project_with_annotations: dict[str, Any], mean_rule: AggregationRule
) -> None:
    project, comparisons = project_with_annotations["project"], project_with_annotations["comparisons"]
    lead = member(project, Role.LEAD)
    Review.objects.create(
        annotation=comparisons[1].annotations.get(), reviewer=lead, decision="reject", reason="Did not read it."
    )
    snapshot = build(project, rule=mean_rule)
    assert [i.comparison_id for i in snapshot_items(snapshot)] == [str(comparisons[0].id)]
    assert snapshot.counts["rejected_annotations"] == 1


def test_split_kept_from_source_and_seeded_by_prompt_otherwise(mean_rule: AggregationRule) -> None:
    project = ProjectFactory()
    user = member(project, Role.ANNOTATOR)
    source = ComparisonFactory(project=project, split="validation")
    annotate(source, user, 2, 3, 1)
    by_prompt: dict[int, list[Comparison]] = {}
    for _ in range(40):
        prompt = PromptFactory(project=project)
        for _ in range(2):
            comparison = ComparisonFactory(
                project=project,
                prompt=prompt,
                response_1=ResponseFactory(prompt=prompt),
                response_2=ResponseFactory(prompt=prompt),
                split="",
            )
            annotate(comparison, user, 2, 3, 1)
            by_prompt.setdefault(prompt.id, []).append(comparison)
    snapshot = build(project, rule=mean_rule, split_seed=7, validation_fraction=0.3)
    split_of = {int(i.comparison_id): i.split for i in snapshot_items(snapshot)}
    assert split_of[source.id] == "validation"
    for members in by_prompt.values():
        assert len({split_of[c.id] for c in members}) == 1  # a prompt never spans both splits
    assert 0 < sum(split_of[c[0].id] == "validation" for c in by_prompt.values()) < 40
    again = build(project, rule=mean_rule, split_seed=7, validation_fraction=0.3)
    assert {int(i.comparison_id): i.split for i in snapshot_items(again)} == split_of


def test_a_comparison_without_split_takes_its_prompts_source_split_from_another_chunk(
    mean_rule: AggregationRule, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = ProjectFactory()
    user = member(project, Role.ANNOTATOR)
    prompt = PromptFactory(project=project)
    pair = {"project": project, "prompt": prompt}
    sourced = ComparisonFactory(**pair, response_1=ResponseFactory(prompt=prompt),
                                response_2=ResponseFactory(prompt=prompt), split="validation")  # fmt: skip
    later = ComparisonFactory(**pair, response_1=ResponseFactory(prompt=prompt),
                              response_2=ResponseFactory(prompt=prompt), split="")  # fmt: skip
    for comparison in (sourced, later):
        annotate(comparison, user, 2, 3, 1)
    monkeypatch.setattr(build_pipeline, "CHUNK_SIZE", 1)  # the two comparisons are built in different chunks
    snapshot = build(project, rule=mean_rule, validation_fraction=0.0)  # a seeded split would say "train"
    assert {int(i.comparison_id): i.split for i in snapshot_items(snapshot)} == {
        sourced.id: "validation",
        later.id: "validation",
    }


def test_helpsteer2_rule_drops_wide_comparisons() -> None:
    project = ProjectFactory()
    users = [member(project, Role.ANNOTATOR) for _ in range(3)]
    agreeing, wide = ComparisonFactory(project=project), ComparisonFactory(project=project)
    for user, value in zip(users, (3, 3, 4), strict=True):
        annotate(agreeing, user, value, 2, -1)
    for user, value in zip(users, (0, 2, 4), strict=True):
        annotate(wide, user, value, 2, 1)
    snapshot = build(project)  # default rule: helpsteer2
    assert [i.comparison_id for i in snapshot_items(snapshot)] == [str(agreeing.id)]
    assert snapshot.counts["dropped_by_reason"] == {"helpfulness_spread": 1}
    released = snapshot.agreement["released"]
    assert set(released) >= {"helpfulness", "preference_strength"}
    assert set(released["helpfulness"]) >= {"alpha", "ci_low", "ci_high", "kappa", "n_units"}


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_every_format_exports_as_parquet_with_its_schema(
    fmt: str, project_with_annotations: dict[str, Any], mean_rule: AggregationRule
) -> None:
    from annotator.exports import FORMAT_SPECS

    snapshot = build(project_with_annotations["project"], rule=mean_rule)
    path = snapshot_export_file(snapshot=snapshot, fmt=fmt, file_type="parquet")
    table = pq.read_table(path)
    assert table.schema.equals(FORMAT_SPECS[fmt].schema(ATTRS, split_column=True), check_metadata=False)
    assert table.num_rows >= 1
    # Written once: a second request serves the same file.
    assert snapshot_export_file(snapshot=snapshot, fmt=fmt, file_type="parquet").stat().st_mtime == path.stat().st_mtime


def test_trl_file_has_trl_columns_and_drops_ties(
    project_with_annotations: dict[str, Any], mean_rule: AggregationRule
) -> None:
    snapshot = build(project_with_annotations["project"], rule=mean_rule)
    frame = pd.read_parquet(snapshot_export_file(snapshot=snapshot, fmt="trl-preference"))
    assert {"prompt", "chosen", "rejected", "margin"} <= set(frame.columns)
    assert len(frame) == 1  # the tie is dropped
    assert frame.iloc[0]["margin"] == 2.0


def test_split_files_and_gzip(project_with_annotations: dict[str, Any], mean_rule: AggregationRule) -> None:
    snapshot = build(project_with_annotations["project"], rule=mean_rule)
    train = snapshot_export_file(snapshot=snapshot, fmt="helpsteer2", file_type="jsonl.gz", split="train")
    validation = snapshot_export_file(snapshot=snapshot, fmt="helpsteer2", file_type="jsonl.gz", split="validation")
    n = sum(len(gzip.decompress(p.read_bytes()).splitlines()) for p in (train, validation))
    assert n == 4  # two rows per comparison


def test_bad_export_arguments_are_validation_errors(
    project_with_annotations: dict[str, Any], mean_rule: AggregationRule
) -> None:
    snapshot = build(project_with_annotations["project"], rule=mean_rule)
    for kwargs in ({"fmt": "csv"}, {"fmt": "helpsteer2", "file_type": "xlsx"}, {"fmt": "helpsteer2", "split": "test"}):
        with pytest.raises(ValidationFailed):
            snapshot_export_file(snapshot=snapshot, **kwargs)


def test_bundle_holds_card_licence_manifest_and_every_format(
    project_with_annotations: dict[str, Any], mean_rule: AggregationRule
) -> None:
    snapshot = build(project_with_annotations["project"], rule=mean_rule)
    with zipfile.ZipFile(snapshot_bundle_file(snapshot=snapshot)) as archive:
        names = set(archive.namelist())
        manifest = archive.read("MANIFEST").decode()
    assert {"README.md", "LICENSE", "MANIFEST", "helpsteer2-preference/train.parquet"} <= names
    assert all(f"{fmt}/validation.jsonl.gz" in names for fmt in EXPORT_FORMATS)
    assert "README.md" in manifest


def test_helpsteer2_preference_round_trip(mean_rule: AggregationRule, tmp_path: Path) -> None:
    """Import a HelpSteer2-Preference file, snapshot it, export it, import the export: same comparisons, values."""
    rows = [
        {
            "split": split,
            "prompt": f"Question {i}?\n<extra_id_1>Assistant\nA first answer.\n<extra_id_1>User\nAnd then?",
            "response_1": f"Answer one to {i}.",
            "response_2": f"Answer two to {i}.",
            "preference_strength": strength,
            "preference_statement": f"@Response 1 is better than @Response 2 for {i}.",
            "preference_elaboration": "It is shorter.",
            "three_most_similar_preferences": [],
            "all_preferences_unprocessed": [{"strength": strength, "justification": "Raw reason."}],
        }
        for i, (split, strength) in enumerate([("train", -2), ("train", 1), ("val", 0)])
    ]
    source = tmp_path / "preference.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    project = ProjectFactory()
    comparisons_import(project=project, source=str(source), fmt="helpsteer2-preference")
    snapshot = build(project, rule=mean_rule)
    exported = snapshot_export_file(snapshot=snapshot, fmt="helpsteer2-preference", file_type="jsonl")
    back = ProjectFactory()
    comparisons_import(project=back, source=str(exported), fmt="helpsteer2-preference")

    def values(p: Any) -> list[tuple[Any, ...]]:
        return sorted(
            (
                c.prompt.turns[0]["content"],
                len(c.prompt.turns),
                c.response_1.text,
                c.response_2.text,
                c.split,
                c.source_labels.get().preference_strength,
                c.source_labels.get().justification,
            )
            for c in Comparison.objects.filter(project=p)
        )

    assert values(back) == values(project)
    exported_rows = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [(r["split"], r["preference_strength"]) for r in exported_rows] == [("train", -2), ("train", 1), ("val", 0)]


def test_imported_labels_keep_their_similar_preferences(mean_rule: AggregationRule, tmp_path: Path) -> None:
    """Comparisons nobody here annotated keep the imported label, its three most similar preferences in order."""
    similar = [
        {"statement": f"@Response 1 is better ({n}).", "elaboration": "Shorter.", "strength": -n} for n in (1, 2, 3)
    ]
    rows = [
        {
            "split": "train",
            "prompt": f"Question {i}?",
            "response_1": f"One {i}.",
            "response_2": f"Two {i}.",
            "preference_strength": -2,
            "preference_statement": "@Response 1 is better.",
            "preference_elaboration": "It is shorter.",
            "three_most_similar_preferences": similar[: i + 1],
            "all_preferences_unprocessed": [],
        }
        for i in range(3)
    ]
    source = tmp_path / "preference.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    project = ProjectFactory()
    comparisons_import(project=project, source=str(source), fmt="helpsteer2-preference")
    snapshot = build(project, rule=mean_rule)
    items = list(snapshot_items(snapshot))
    assert [len(i.kept_preferences) for i in items] == [1, 2, 3]
    assert [(k.strength, k.statement) for k in items[2].kept_preferences] == [
        (s["strength"], s["statement"]) for s in similar
    ]
    assert {i.preference_strength for i in items} == {-2}


def test_helpsteer2_ratings_round_trip(mean_rule: AggregationRule, tmp_path: Path) -> None:
    lines = []
    for i in range(3):
        for response, value in ((f"First {i}.", i), (f"Second {i}.", 4 - i)):
            lines.append({"prompt": f"Prompt {i}", "response": response, **dict.fromkeys(ATTRS, value)})
    source = tmp_path / "train.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in lines))
    project = ProjectFactory()
    comparisons_import(project=project, source=str(source), fmt="helpsteer2", split="train")
    snapshot = build(project, rule=mean_rule)
    exported = snapshot_export_file(snapshot=snapshot, fmt="helpsteer2", file_type="jsonl", split="train")
    assert [json.loads(line) for line in exported.read_text().splitlines()] == lines


def test_create_snapshot_and_export_commands(
    project_with_annotations: dict[str, Any], mean_rule: AggregationRule, tmp_path: Path
) -> None:
    out = io.StringIO()
    with mock.patch.object(snapshot_build_task, "delay"):
        call_command(
            "create_snapshot",
            project=project_with_annotations["project"].slug,
            rule="plain-mean",
            wait=True,
            stdout=out,
        )
    lines = out.getvalue().splitlines()
    snapshot_id = int(lines[0].removeprefix("snapshot: "))
    assert lines[1] == "status: ready"
    target = tmp_path / "hs2p.parquet"
    call_command("export_snapshot", snapshot_id, fmt="helpsteer2-preference", out=str(target), stdout=io.StringIO())
    assert pq.read_table(target).num_rows == 2
    jsonl = tmp_path / "trl.jsonl"
    call_command("export_snapshot", snapshot_id, fmt="trl-preference", out=str(jsonl), stdout=io.StringIO())
    assert set(json.loads(jsonl.read_text().splitlines()[0])) >= {"prompt", "chosen", "rejected", "margin"}


def test_create_snapshot_command_refuses_unknown_rule(project_with_annotations: dict[str, Any]) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No aggregation rule"):
        call_command("create_snapshot", project=project_with_annotations["project"].slug, rule="nope")


def test_bad_validation_fraction_is_refused(project_with_annotations: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        snapshot_create(project=project_with_annotations["project"], user=None, validation_fraction=1.5)


def _same_numbers(left: Any, right: Any) -> bool:
    """Equal nested JSON, floats equal to 1e-12 (sums in another order) and NaN/None equal to themselves."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same_numbers(left[k], right[k]) for k in left)
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-12, abs_tol=1e-12)
    return bool(left == right)


def test_building_chunk_by_chunk_gives_the_same_snapshot_as_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from annotator.services.simulation import annotations_simulate

    project = ProjectFactory(overlap=3)
    lead = member(project, Role.LEAD)
    for _ in range(23):
        ComparisonFactory(project=project)
    annotations_simulate(project=project, annotators=5, seed=7)
    rejected = Annotation.objects.filter(comparison__project=project).order_by("id")[4]
    Review.objects.create(annotation=rejected, reviewer=lead, decision="reject", reason="Did not read it.")

    whole = build(project)
    monkeypatch.setattr(build_pipeline, "CHUNK_SIZE", 4)  # 23 comparisons in 6 chunks, the last one short
    chunked = build(project)

    assert whole.status == chunked.status == SnapshotStatus.READY
    assert [asdict(i) for i in snapshot_items(whole)] == [asdict(i) for i in snapshot_items(chunked)]
    assert whole.counts == chunked.counts
    assert whole.counts["rejected_annotations"] == 1
    assert whole.counts["annotations"] == Annotation.objects.filter(comparison__project=project).count() - 1
    assert _same_numbers(whole.agreement, chunked.agreement)
    assert whole.agreement["released"]["helpfulness"]["ci_low"] is not None  # the interval was computed


FORMAT_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "formats"


def test_the_helpsteer2_preference_fixture_round_trips_with_its_not_ratable_entries() -> None:
    """Import the HelpSteer2-Preference fixture (one pair judged not ratable: strength -100), snapshot it with the
    default rule, export it: the same rows, the -100 entry in place."""
    source = FORMAT_FIXTURES / "helpsteer2_preference.jsonl"
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    assert any(p["strength"] == -100 for r in rows for p in r["all_preferences_unprocessed"])
    project = ProjectFactory()
    comparisons_import(project=project, source=str(source), fmt="helpsteer2-preference")
    assert Annotation.objects.filter(not_ratable=True).count() == 1
    snapshot = build(project)
    exported = snapshot_export_file(snapshot=snapshot, fmt="helpsteer2-preference", file_type="jsonl")
    assert [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()] == rows
    # Counted in the card, kept out of the agreement figures.
    assert snapshot.counts["not_ratable_annotations"] == 1
    assert "and 1 judged their pair not ratable" in snapshot_card(snapshot=snapshot)
    items = list(snapshot_items(snapshot))
    assert [(a.preference_strength, a.not_ratable) for a in items[0].annotations][-1] == (None, True)


def test_not_ratable_annotations_take_no_part_in_aggregation() -> None:
    project = ProjectFactory()
    users = [member(project, Role.ANNOTATOR) for _ in range(3)]
    comparison = ComparisonFactory(project=project)
    annotate(comparison, users[0], 3, 2, -1)
    annotate(comparison, users[1], 3, 2, -1)
    assignment = Assignment.objects.create(comparison=comparison, annotator=users[2], status=AssignmentStatus.SKIPPED)
    Annotation.objects.create(
        assignment=assignment, comparison=comparison, annotator=users[2], ratings={}, not_ratable=True, source="x"
    )
    (item,) = snapshot_items(build(project))
    assert item.preference_strength == -1  # two usable annotations, as min_annotations asks; the third is not one
    assert [a.not_ratable for a in item.annotations] == [False, False, True]
    assert [a.used_preference for a in item.annotations] == [True, True, False]


def test_exports_of_a_snapshot_hold_the_annotations_the_rule_used() -> None:
    """Response 1's helpfulness [4, 4, 3, 0] and strengths [1, 1, 2, -3]: the helpsteer2 rule keeps the three that
    agree most; the released disagreements and HelpSteer3 preferences hold those, the opt-in file all four."""
    project = ProjectFactory()
    users = [member(project, Role.ANNOTATOR) for _ in range(4)]
    comparison = ComparisonFactory(project=project)
    for user, r1, strength in zip(users, (4, 4, 3, 0), (1, 1, 2, -3), strict=True):
        annotate(comparison, user, r1, 2, strength)
    snapshot = build(project)
    (item,) = snapshot_items(snapshot)
    assert (item.ratings_1["helpfulness"], item.preference_strength) == (4, 1)

    def lines(fmt: str) -> list[dict[str, Any]]:
        path = snapshot_export_file(snapshot=snapshot, fmt=fmt, file_type="jsonl")
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    assert [r["helpfulness"] for r in lines("helpsteer2-disagreements")] == [[4, 4, 3], [2, 2, 2]]
    assert [r["helpfulness"] for r in lines("helpsteer2-disagreements-all")] == [[4, 4, 3, 0], [2, 2, 2, 2]]
    (hs3,) = lines("helpsteer3")
    assert [p["score"] for p in hs3["individual_preference"]] == [1, 1, 2]
    # Parquet is written from the canonical columns: the same choice.
    parquet = snapshot_export_file(snapshot=snapshot, fmt="helpsteer2-disagreements", file_type="parquet")
    assert [r["helpfulness"] for r in pq.read_table(parquet).to_pylist()] == [[4, 4, 3], [2, 2, 2]]


def test_items_and_trainer_ready_exports_carry_the_prompts_domain_and_language(
    project_with_annotations: dict[str, Any], mean_rule: AggregationRule
) -> None:
    project, comparisons = project_with_annotations["project"], project_with_annotations["comparisons"]
    prompt = comparisons[0].prompt
    prompt.domain, prompt.language = "code", "python"
    prompt.save(update_fields=["domain", "language"])
    snapshot = build(project, rule=mean_rule)
    items = {i.comparison_id: i for i in snapshot_items(snapshot)}
    assert (items[str(comparisons[0].id)].domain, items[str(comparisons[0].id)].language) == ("code", "python")
    assert (items[str(comparisons[1].id)].domain, items[str(comparisons[1].id)].language) == (None, None)
    rows = pq.read_table(snapshot_export_file(snapshot=snapshot, fmt="regression")).to_pylist()
    scopes = {(r["id"], r["domain"], r["language"]) for r in rows}
    assert scopes == {(str(comparisons[0].id), "code", "python"), (str(comparisons[1].id), None, None)}
