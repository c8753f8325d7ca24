import gzip
import io
import json
from pathlib import Path
from typing import Any

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


# --- hostile input: refused with the reason, nothing written, on SQLite and PostgreSQL alike -----------------------


def _prefstack_line(**fields: object) -> bytes:
    row = {"prompt": "p", "response_1": "a", "response_2": "b", **fields}
    return (json.dumps(row) + "\n").encode()


def _refused(project: object, data: bytes, name: str = "x.jsonl") -> ImportFailed:
    upload = io.BytesIO(_prefstack_line(source_id="fine") + data)
    upload.name = name
    with pytest.raises(ImportFailed) as caught:
        comparisons_import(project=project, source=upload, fmt="prefstack")  # type: ignore[arg-type]
    assert Comparison.objects.count() == 0 and SourceLabel.objects.count() == 0
    return caught.value


@pytest.mark.parametrize(
    ("fields", "column", "problem"),
    [
        ({"response_2": "b\x00"}, "response_2", "a NUL character (U+0000) at position 1"),
        ({"prompt": "\ud800"}, "prompt[0]", "a lone surrogate (U+D800) at position 0"),
        ({"justification": "ok \udc00x"}, "justification", "a lone surrogate (U+DC00)"),
        ({"metadata": {"tags": ["a", "\x00"]}}, "metadata.tags[1]", "a NUL character"),
        ({"metadata": {"k\x00": 1}}, "metadata.k\x00", "a NUL character"),
        ({"source_id": "s\x00"}, "source_id", "a NUL character"),
    ],
)
def test_text_no_database_can_store_is_refused_naming_the_line_and_field(
    fields: dict[str, object], column: str, problem: str
) -> None:
    error = _refused(ProjectFactory(), _prefstack_line(**fields))
    assert error.extra["line"] == 2 and error.extra["column"] == column
    assert problem in error.message


@pytest.mark.parametrize(
    ("setting", "fields", "column"),
    [
        ("PREFSTACK_MAX_RESPONSE_CHARS", {"response_1": "r" * 101}, "response_1"),
        ("PREFSTACK_MAX_PROMPT_CHARS", {"prompt": [{"role": "user", "content": "p" * 101}]}, "prompt"),
        ("PREFSTACK_MAX_JUSTIFICATION_CHARS", {"justification": "j" * 101}, "justification"),
        ("PREFSTACK_MAX_METADATA_CHARS", {"metadata": {"k": "m" * 100}}, "metadata"),
    ],
)
def test_a_field_over_its_limit_is_refused_with_the_limit(
    settings: object, setting: str, fields: dict[str, object], column: str
) -> None:
    setattr(settings, setting, 100)
    error = _refused(ProjectFactory(), _prefstack_line(**fields))
    assert error.extra["column"] == column and error.extra["line"] == 2
    assert "over the limit of 100" in error.message


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1])
def test_a_metadata_integer_beyond_64_bits_is_refused(value: int) -> None:
    error = _refused(ProjectFactory(), _prefstack_line(metadata={"n": value}))
    assert error.extra["column"] == "metadata" and "64-bit" in error.message


def test_a_source_id_longer_than_its_column_is_refused() -> None:
    error = _refused(ProjectFactory(), _prefstack_line(source_id="s" * 201))
    assert error.extra["column"] == "source_id" and "over the limit of 200" in error.message


def test_a_gzip_bomb_is_refused_at_the_caps_of_the_settings(settings: object) -> None:
    settings.PREFSTACK_IMPORT_MAX_LINE_BYTES = 64 * 1024  # type: ignore[attr-defined]
    settings.PREFSTACK_IMPORT_MAX_BYTES = 4 << 20  # type: ignore[attr-defined]
    project = ProjectFactory()
    for filler, message in ((b" ", "line 2 is longer than 65,536 bytes"), (b"\n", "after decompression")):
        body = io.BytesIO()
        with gzip.GzipFile(fileobj=body, mode="wb") as gz:
            gz.write(_prefstack_line())
            for _ in range(16):
                gz.write(filler * (1 << 20))  # 16 MiB of spaces (one endless line) or of blank lines
        assert body.tell() < 100_000
        body.seek(0)
        body.name = "bomb.jsonl.gz"
        with pytest.raises(ImportFailed, match=message):
            comparisons_import(project=project, source=body, fmt="prefstack")
        assert Comparison.objects.count() == 0


def test_a_file_over_a_cap_is_not_read_a_second_time_to_list_errors(settings: Any, monkeypatch: Any) -> None:
    settings.PREFSTACK_IMPORT_MAX_LINE_BYTES = 1024
    monkeypatch.setattr("annotator.services.imports.find_format_errors", _must_not_be_called)
    upload = io.BytesIO(_prefstack_line(response_1="r" * 2000))
    upload.name = "long.jsonl"
    with pytest.raises(ImportFailed, match="line 1 is longer than 1,024 bytes") as caught:
        comparisons_import(project=ProjectFactory(), source=upload, fmt="prefstack")
    assert [e["line"] for e in caught.value.extra["errors"]] == [1]


def _must_not_be_called(*args: object, **kwargs: object) -> None:
    raise AssertionError("the file was read again")


def test_helpsteer3_domain_and_language_become_the_prompts_columns() -> None:
    project = ProjectFactory()
    fixture = Path(__file__).parents[2] / "fixtures" / "formats" / "helpsteer3.jsonl"
    comparisons_import(project=project, source=str(fixture), fmt="helpsteer3", split="train", domain="general")
    scopes = [(c.prompt.domain, c.prompt.language) for c in Comparison.objects.filter(project=project)]
    assert scopes[:2] == [("code", "python"), ("multilingual", "french")]
