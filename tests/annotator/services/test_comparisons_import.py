import gzip
import io
import json
from pathlib import Path

import pytest

from annotator.models import Annotation, Assignment, AssignmentStatus, Comparison, SourceLabel
from annotator.selectors.annotations import annotation_frame
from annotator.services.imports import ImportFailed, comparisons_import
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

ATTRS = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def _hs2_row(prompt: str, response: str, score: int) -> dict:
    return {"prompt": prompt, "response": response, **dict.fromkeys(ATTRS, score)}


def _jsonl(tmp_path: Path, rows: list[dict], name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_helpsteer2_pairs_consecutive_rows_and_keeps_released_scores_as_source_labels(tmp_path: Path) -> None:
    project = ProjectFactory()
    multi = "Hi\n<extra_id_1>Assistant\nHello!\n<extra_id_1>User\nWhat is 2+2?"
    rows = [_hs2_row("c#", "C# is a language.", 3), _hs2_row("c#", "A note.", 1)]
    rows += [_hs2_row(multi, "4", 4), _hs2_row(multi, "5", 0)]
    result = comparisons_import(project=project, source=str(_jsonl(tmp_path, rows)), fmt="helpsteer2", split="train")

    assert (result.comparisons, result.source_labels, result.annotations) == (2, 2, 0)
    first, second = Comparison.objects.filter(project=project).order_by("id")
    assert first.response_1.text == "C# is a language." and first.response_2.text == "A note."
    assert [t["role"] for t in second.prompt.turns] == ["user", "assistant", "user"]
    assert second.prompt.turns[-1]["content"] == "What is 2+2?"
    label = SourceLabel.objects.get(comparison=first)
    assert label.ratings == {"1": dict.fromkeys(ATTRS, 3), "2": dict.fromkeys(ATTRS, 1)}
    assert first.split == "train" and first.source == "helpsteer2"


def test_disagreements_become_annotations_by_anonymous_source_annotators(tmp_path: Path) -> None:
    project = ProjectFactory()
    row1 = {"prompt": "p", "response": "a", **{k: [3, 3, 4] for k in ATTRS}}
    row2 = {"prompt": "p", "response": "b", **{k: [1, 2, 1] for k in ATTRS}}
    result = comparisons_import(
        project=project, source=str(_jsonl(tmp_path, [row1, row2])), fmt="helpsteer2-disagreements"
    )
    assert result.annotations == 3
    annotations = Annotation.objects.order_by("annotator__username")
    assert [a.annotator.username for a in annotations] == [f"source.helpsteer2-disagreements.{i}" for i in (1, 2, 3)]
    assert annotations[2].ratings["1"]["helpfulness"] == 4 and annotations[2].ratings["2"]["helpfulness"] == 1
    assert not annotations[0].annotator.is_active and not annotations[0].annotator.has_usable_password()
    frame = annotation_frame(project=project)
    assert sorted(frame["r1_helpfulness"]) == [3.0, 3.0, 4.0]


def test_preference_not_ratable_is_a_skip_never_a_scale_point(tmp_path: Path) -> None:
    project = ProjectFactory()
    row = {
        "split": "val", "prompt": "p", "response_1": "a", "response_2": "b", "preference_strength": 1,
        "preference_statement": "@Response 2 is slightly better than @Response 1.", "preference_elaboration": "Shorter.",
        "three_most_similar_preferences": [{"statement": "s", "elaboration": "e", "strength": 1}] * 3,
        "all_preferences_unprocessed": [
            {"strength": 1, "justification": "@Response 2 is slightly better."},
            {"strength": -100, "justification": "Cannot tell."},
            {"strength": 2, "justification": "@Response 2 is better."},
        ],
    }  # fmt: skip
    result = comparisons_import(project=project, source=str(_jsonl(tmp_path, [row])), fmt="helpsteer2-preference")
    assert (result.annotations, result.skipped_as_not_ratable) == (2, 1)
    assert sorted(Annotation.objects.filter(not_ratable=False).values_list("preference_strength", flat=True)) == [1, 2]
    skipped = Assignment.objects.get(status=AssignmentStatus.SKIPPED)
    assert skipped.skip_reason == "not_ratable"
    # The not-ratable judgement is kept as an annotation, in the file's order, with no strength.
    kept = list(Annotation.objects.order_by("id").values_list("preference_strength", "not_ratable", "justification"))
    assert kept == [
        (1, False, "@Response 2 is slightly better."),
        (None, True, "Cannot tell."),
        (2, False, "@Response 2 is better."),
    ]
    assert Annotation.objects.get(not_ratable=True).assignment == skipped
    comparison = Comparison.objects.get()
    assert comparison.split == "validation"
    assert SourceLabel.objects.get().preference_strength == 1


def test_prefstack_gzip_file_object(tmp_path: Path) -> None:
    project = ProjectFactory()
    row = {"prompt": [{"role": "user", "content": "Hi"}], "response_1": "a", "response_2": "b", "split": "train"}
    buffer = io.BytesIO(gzip.compress((json.dumps(row) + "\n").encode()))
    buffer.name = "upload.jsonl.gz"
    assert comparisons_import(project=project, source=buffer, fmt="prefstack").comparisons == 1


def test_a_bad_row_anywhere_imports_nothing(tmp_path: Path) -> None:
    project = ProjectFactory()
    rows = [_hs2_row(f"p{i}", f"r{i}{j}", 2) for i in range(3000) for j in range(2)]  # more than one batch
    rows[-1]["helpfulness"] = 7
    with pytest.raises(ImportFailed) as caught:
        comparisons_import(project=project, source=str(_jsonl(tmp_path, rows)), fmt="helpsteer2")
    assert caught.value.extra["line"] == 6000 and caught.value.extra["column"] == "helpfulness"
    assert "6000" in caught.value.message
    assert not Comparison.objects.exists() and not SourceLabel.objects.exists()


def test_a_refused_file_lists_its_errors_and_an_uploaded_file_is_read_again_for_them() -> None:
    project = ProjectFactory()
    rows = [_hs2_row(f"p{i}", f"r{i}{j}", 2) for i in range(40) for j in range(2)]
    for line in (3, 20, 61):
        rows[line - 1]["correctness"] = 9
    buffer = io.BytesIO("".join(json.dumps(r) + "\n" for r in rows).encode())
    buffer.name = "upload.jsonl"
    with pytest.raises(ImportFailed) as caught:
        comparisons_import(project=project, source=buffer, fmt="helpsteer2")
    extra = caught.value.extra
    assert extra["line"] == 3  # the first error stays the message
    assert [e["line"] for e in extra["errors"]] == [3, 20, 61]
    assert extra["more_errors"] is False
    assert not Comparison.objects.exists()


def test_unknown_format_and_oversized_file_are_refused(tmp_path: Path) -> None:
    project = ProjectFactory()
    path = _jsonl(tmp_path, [_hs2_row("p", "a", 1), _hs2_row("p", "b", 1)])
    with pytest.raises(ImportFailed, match="Unknown format"):
        comparisons_import(project=project, source=str(path), fmt="csv-of-doom")
    with pytest.raises(ImportFailed):
        comparisons_import(project=project, source=str(path), fmt="helpsteer2", max_bytes=10)
    assert not Comparison.objects.exists()


def test_annotation_frame_can_carry_justifications(tmp_path: Path) -> None:
    project = ProjectFactory()
    row = {
        "split": "train", "prompt": "p", "response_1": "a", "response_2": "b", "preference_strength": 2,
        "preference_statement": "s.", "preference_elaboration": "e.", "three_most_similar_preferences": [],
        "all_preferences_unprocessed": [{"strength": 2, "justification": "@Response 2 is better."}],
    }  # fmt: skip
    comparisons_import(project=project, source=str(_jsonl(tmp_path, [row])), fmt="helpsteer2-preference")
    frame = annotation_frame(project=project, include_justifications=True)
    assert frame["justification"].tolist() == ["@Response 2 is better."]
    assert frame["strength"].tolist() == [2.0] and frame["review_status"].tolist() == ["unreviewed"]
