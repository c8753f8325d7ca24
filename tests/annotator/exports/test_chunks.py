"""chunk_columns: one chunk of comparisons, its aggregated labels, annotations and imported labels -> item columns.

Inputs are built by hand; one attribute (helpfulness) keeps them short. The end-to-end equality of a chunked and a
whole build is tested in tests/annotator/services/test_snapshots.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from annotator.exports.canonical import ItemColumns
from annotator.exports.chunks import (
    AggregatedLabels,
    AnnotationTable,
    ChunkContext,
    ComparisonChunk,
    SourceLabels,
    chunk_columns,
    seeded_split,
)

ATTRIBUTES = ("helpfulness",)
NAN = math.nan


def _chunk(ids: list[int], *, split: dict[int, str] | None = None, metadata: dict[int, Any] | None = None, scope: dict[int, tuple[str, str]] | None = None) -> ComparisonChunk:  # fmt: skip
    """Comparisons ``ids``, each on its own prompt (id = comparison id + 1000) with a one-turn prompt; ``scope``
    gives prompts a (domain, language)."""
    split, metadata, scope = split or {}, metadata or {}, scope or {}
    return ComparisonChunk(
        ids=ids,
        prompt_ids=[i + 1000 for i in ids],
        turns=[[{"role": "user", "content": f"prompt {i}"}] for i in ids],
        response_1=[f"first {i}" for i in ids],
        response_2=[f"second {i}" for i in ids],
        split=[split.get(i, "train") for i in ids],
        metadata=[metadata.get(i, {}) for i in ids],
        domain=[scope.get(i, ("", ""))[0] for i in ids],
        language=[scope.get(i, ("", ""))[1] for i in ids],
    )


@dataclass(frozen=True)
class Label:
    comparison: int
    r1: float
    r2: float
    strength: float
    justification_from: int = -1


def _labels(*labels: Label, kept: tuple[int, ...] = (), kept_1: tuple[int, ...] = (), kept_2: tuple[int, ...] = ()) -> AggregatedLabels:  # fmt: skip
    ids = np.array([label.comparison for label in labels], dtype=np.int64)
    return AggregatedLabels(
        comparison_ids=ids,
        ratings_1={"helpfulness": np.array([label.r1 for label in labels], dtype=np.float64)},
        ratings_2={"helpfulness": np.array([label.r2 for label in labels], dtype=np.float64)},
        strength=np.array([label.strength for label in labels], dtype=np.float64),
        justification_from=np.array([label.justification_from for label in labels], dtype=np.int64),
        kept_preference_ids=np.array(kept, dtype=np.int64),
        kept_rating_ids=(np.array(kept_1, dtype=np.int64), np.array(kept_2, dtype=np.int64)),
        dropped_by_reason={},
    )


@dataclass(frozen=True)
class Note:
    """One row of the annotation table."""

    comparison: int
    annotation: int
    annotator: str
    r1: float = NAN
    r2: float = NAN
    strength: float = NAN
    not_ratable: bool = False
    kept: bool = False  # by the rule, for the preference part
    kept_1: bool = False
    kept_2: bool = False


def _table(*notes: Note) -> AnnotationTable:
    def floats(values: list[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.array(values, dtype=np.float64)

    def flags(values: list[bool]) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return np.array(values, dtype=bool)

    return AnnotationTable(
        comparison_ids=np.array([n.comparison for n in notes], dtype=np.int64),
        annotation_ids=np.array([n.annotation for n in notes], dtype=np.int64),
        annotator=np.array([n.annotator for n in notes], dtype=object),
        annotator_index=np.zeros(len(notes), dtype=np.int64),
        ratings_1={"helpfulness": floats([n.r1 for n in notes])},
        ratings_2={"helpfulness": floats([n.r2 for n in notes])},
        strength=floats([n.strength for n in notes]),
        not_ratable=flags([n.not_ratable for n in notes]),
        kept=flags([n.kept for n in notes]),
        kept_1=flags([n.kept_1 for n in notes]),
        kept_2=flags([n.kept_2 for n in notes]),
    )


def _context(
    labels: AggregatedLabels,
    table: AnnotationTable,
    *,
    sources: dict[int, SourceLabels] | None = None,
    people: tuple[int, ...] = (),
    prompt_splits: dict[int, str] | None = None,
    validation_fraction: float = 0.0,
) -> ChunkContext:
    return ChunkContext(
        attributes=ATTRIBUTES,
        split_seed=0,
        validation_fraction=validation_fraction,
        labels=labels,
        table=table,
        source_labels=sources or {},
        prompt_splits=prompt_splits or {},
        decided_by_people=np.array(people, dtype=np.int64),
    )


def _floats(values: Any) -> list[float | None]:
    return [None if math.isnan(v) else v for v in np.asarray(values, dtype=np.float64).tolist()]


def _kept(columns: ItemColumns) -> list[list[tuple[float, str, str]]]:
    """Each item's kept preferences (strength, statement, elaboration)."""
    o = columns.kept_offsets.tolist()
    rows = list(zip(columns.kept_strength.tolist(), columns.kept_statement, columns.kept_elaboration, strict=True))
    return [rows[o[i] : o[i + 1]] for i in range(len(o) - 1)]


def test_a_comparison_takes_the_rules_labels_and_keeps_its_annotations_with_what_the_rule_used() -> None:
    chunk = _chunk([10])
    labels = _labels(Label(10, 4, 2, -2, justification_from=101), kept=(101,), kept_1=(100, 101), kept_2=(101,))
    table = _table(
        Note(10, 100, "a1", r1=3, r2=2, strength=-1, kept_1=True),
        Note(10, 101, "a2", r1=5, r2=2, strength=-2, kept=True, kept_1=True, kept_2=True),
    )
    texts = {100: "@Response 1 is slightly better.", 101: "@Response 1 is better. It answers."}

    columns = chunk_columns(chunk, texts, _context(labels, table))

    assert columns.comparison_id == ["10"]
    assert (columns.response_1, columns.response_2) == (["first 10"], ["second 10"])
    assert (columns.turn_offsets.tolist(), columns.turn_role, columns.turn_content) == ([0, 1], ["user"], ["prompt 10"])  # fmt: skip
    assert _floats(columns.ratings_1["helpfulness"]) == [4.0]
    assert _floats(columns.ratings_2["helpfulness"]) == [2.0]
    assert _floats(columns.preference_strength) == [-2.0]
    assert columns.justification == ["@Response 1 is better. It answers."]
    assert columns.annotation_offsets.tolist() == [0, 2]
    assert columns.annotator == ["a1", "a2"]
    assert _floats(columns.annotation_ratings_1["helpfulness"]) == [3.0, 5.0]
    assert _floats(columns.annotation_strength) == [-1.0, -2.0]
    assert columns.annotation_justification == [texts[100], texts[101]]
    assert columns.annotation_used_1.tolist() == [True, True]
    assert columns.annotation_used_2.tolist() == [False, True]
    assert columns.annotation_used_preference.tolist() == [False, True]
    # Only the kept preference, its justification split into statement and elaboration.
    assert _kept(columns) == [[(-2.0, "@Response 1 is better.", "It answers.")]]


def test_comparisons_without_any_label_are_left_out_with_their_annotations() -> None:
    chunk = _chunk([10, 11, 12])
    labels = _labels(Label(10, 3, NAN, NAN), Label(12, NAN, NAN, 1, justification_from=120))
    table = _table(Note(10, 100, "a1", r1=3), Note(11, 110, "a2", strength=2), Note(12, 120, "a1", strength=1, kept=True))  # fmt: skip

    columns = chunk_columns(chunk, {120: "Slightly better."}, _context(labels, table))

    assert columns.comparison_id == ["10", "12"]
    assert _floats(columns.ratings_1["helpfulness"]) == [3.0, None]
    assert _floats(columns.preference_strength) == [None, 1.0]
    assert columns.justification == [None, "Slightly better."]  # no strength: no justification
    assert columns.annotation_offsets.tolist() == [0, 1, 2]
    assert columns.annotator == ["a1", "a1"]
    assert columns.kept_offsets.tolist() == [0, 0, 1]


def test_only_the_chunks_slice_of_the_annotation_table_is_read() -> None:
    chunk = _chunk([10])
    table = _table(Note(9, 90, "a9", r1=1), Note(10, 100, "a1", r1=4, kept_1=True), Note(13, 130, "a3", r1=2))

    columns = chunk_columns(chunk, {}, _context(_labels(Label(10, 4, NAN, NAN), kept_1=(100,)), table))

    assert columns.annotator == ["a1"]
    assert columns.annotation_offsets.tolist() == [0, 1]
    assert columns.annotation_justification == [""]


def test_an_imported_comparison_nobody_here_annotated_keeps_its_released_labels() -> None:
    chunk = _chunk([10], metadata={10: {"topic": "loops"}}, scope={10: ("code", "python")})
    # The rule also labelled it (from the imported annotations), but nobody here annotated it.
    labels = _labels(Label(10, 1, 1, 3, justification_from=100), kept=(100,), kept_1=(100,), kept_2=(100,))
    table = _table(
        Note(10, 100, "a1", r1=1, r2=1, strength=3, kept=True, kept_1=True, kept_2=True),
        Note(10, 101, "a2", strength=-1),
        Note(10, 102, "a3", not_ratable=True),
    )
    sources: dict[int, SourceLabels] = {10: ({"1": {"helpfulness": 4}, "2": {"helpfulness": True}}, -2, "Released.")}
    texts = {100: "@Response 2 is much better.", 101: "@Response 1 is slightly better. Shorter."}

    columns = chunk_columns(chunk, texts, _context(labels, table, sources=sources))

    assert _floats(columns.ratings_1["helpfulness"]) == [4.0]
    assert _floats(columns.ratings_2["helpfulness"]) == [None]  # not a number (a bool) -> none
    assert _floats(columns.preference_strength) == [-2.0]
    assert columns.justification == ["Released."]
    # Every imported annotation counts as used (but a not-ratable one's ratings, and a strength that is none) ...
    assert columns.annotation_used_1.tolist() == [True, True, False]
    assert columns.annotation_used_2.tolist() == [True, True, False]
    assert columns.annotation_used_preference.tolist() == [True, True, False]
    # ... and, with no list of kept preferences in the metadata (HelpSteer3), they are the kept preferences.
    assert _kept(columns) == [
        [(3.0, "@Response 2 is much better.", ""), (-1.0, "@Response 1 is slightly better.", "Shorter.")]
    ]
    assert (columns.domain, columns.language) == (["code"], ["python"])


def test_the_kept_preferences_a_source_lists_replace_the_imported_annotations_and_stay_in_item_order() -> None:
    listed = [
        {"strength": 2, "statement": "@Response 2 is better.", "elaboration": "It is right."},
        {"strength": "2", "statement": "not an int: skipped"},
        "not a dict: skipped",
    ]
    chunk = _chunk([10, 11], metadata={10: {"three_most_similar_preferences": listed}})
    labels = _labels(Label(11, NAN, NAN, -1, justification_from=110), kept=(110,))
    table = _table(Note(10, 100, "a1", strength=3), Note(11, 110, "a2", strength=-1, kept=True))
    sources: dict[int, SourceLabels] = {10: ({}, 2, "")}

    columns = chunk_columns(chunk, {110: "@Response 1 is slightly better."}, _context(labels, table, sources=sources))

    assert columns.comparison_id == ["10", "11"]
    assert columns.justification == [None, "@Response 1 is slightly better."]  # "" -> none
    assert _kept(columns) == [
        [(2.0, "@Response 2 is better.", "It is right.")],
        [(-1.0, "@Response 1 is slightly better.", "")],
    ]
    assert columns.annotation_used_preference.tolist() == [True, True]


def test_where_people_annotated_an_imported_comparison_the_rule_decides() -> None:
    chunk = _chunk([10])
    labels = _labels(Label(10, 2, 3, 1, justification_from=100), kept=(100,))
    table = _table(Note(10, 100, "a1", r1=2, r2=3, strength=1, kept=True))
    sources: dict[int, SourceLabels] = {10: ({"1": {"helpfulness": 4}}, -3, "Released.")}

    columns = chunk_columns(chunk, {100: "Mine."}, _context(labels, table, sources=sources, people=(10,)))

    assert _floats(columns.ratings_1["helpfulness"]) == [2.0]
    assert _floats(columns.preference_strength) == [1.0]
    assert columns.justification == ["Mine."]
    assert columns.annotation_used_1.tolist() == [False]  # the rule kept it only for the preference


def test_splits_come_from_the_comparison_then_its_prompts_source_then_a_seeded_hash() -> None:
    chunk = _chunk([10, 11, 12], split={10: "validation", 11: "", 12: ""})
    labels = _labels(Label(10, 1, NAN, NAN), Label(11, 1, NAN, NAN), Label(12, 1, NAN, NAN))
    context = _context(labels, _table(), prompt_splits={1011: "validation"}, validation_fraction=0.0)

    assert chunk_columns(chunk, {}, context).split == ["validation", "validation", "train"]


def test_an_empty_labelled_chunk_gives_no_items() -> None:
    columns = chunk_columns(_chunk([10, 11]), {}, _context(_labels(), _table()))

    assert len(columns) == 0
    assert columns.turn_offsets.tolist() == columns.kept_offsets.tolist() == columns.annotation_offsets.tolist() == [0]  # fmt: skip


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.999])
def test_seeded_split_is_stable_and_sends_about_the_fraction_to_validation(fraction: float) -> None:
    splits = [seeded_split(prompt, 7, fraction) for prompt in range(2000)]
    assert splits == [seeded_split(prompt, 7, fraction) for prompt in range(2000)]
    assert splits.count("validation") / len(splits) == pytest.approx(fraction, abs=0.03)
    assert [seeded_split(p, 8, 0.3) for p in range(50)] != [seeded_split(p, 7, 0.3) for p in range(50)]
