"""HelpSteer2 ratings and HelpSteer2 disagreements files -> :class:`ComparisonRecord`.

Columns (nvidia/HelpSteer2 dataset card): ``prompt``, ``response`` and one column per attribute (helpfulness,
correctness, coherence, complexity, verbosity). In the ratings files each attribute is the released aggregated
0..4 rating; in ``disagreements.jsonl.gz`` it is a list with one rating per annotator. Consecutive rows share a
prompt (rows 1&2, 3&4, ...) and together form one comparison; a row without such a partner is an error.

Ratings become :class:`SourceLabels`; in the disagreements file the i-th entry of every attribute list of both rows
becomes anonymous source annotator ``i + 1`` (HelpSteer2 gave both responses of a prompt to the same annotator, so
index i of the two rows is read as one annotation; the release does not guarantee it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from annotator.imports.fields import FieldReader, Row
from annotator.imports.records import AnnotationRecord, ComparisonRecord, SourceLabels, Split
from annotator.imports.turns import parse_helpsteer2_prompt


@dataclass(frozen=True, slots=True)
class _HalfRow:
    position: int
    prompt: str
    response: str
    ratings: Mapping[str, int]
    annotator_ratings: tuple[dict[str, int], ...]


def parse_helpsteer2(
    rows: Iterator[tuple[int, Row]],
    fields: FieldReader,
    *,
    attributes: Sequence[str],
    split: Split | None,
    disagreements: bool = False,
) -> Iterator[ComparisonRecord]:
    """Pair consecutive rows into comparisons.

    Parameters
    ----------
    rows
        ``(position, row)`` pairs from a container reader.
    fields
        Field validation for this file.
    attributes
        Attribute columns every row must carry.
    split
        Split of every comparison (HelpSteer2 ships one file per split).
    disagreements
        True for the disagreements file (lists of per-annotator ratings).
    """
    read = _disagreement_row if disagreements else _ratings_row
    pending: _HalfRow | None = None
    for position, row in rows:
        half = read(position, row, fields, attributes)
        if pending is None:
            pending = half
            continue
        if half.prompt != pending.prompt:
            raise fields.error(
                pending.position,
                f"this row has no partner: the next row ({fields.unit} {position}) has a different prompt",
                column="prompt",
                expected="consecutive pairs of rows with the same prompt",
            )
        yield _comparison(pending, half, split, disagreements)
        pending = None
    if pending is not None:
        raise fields.error(
            pending.position,
            "this row has no partner: it is the last row and its prompt is unpaired",
            column="prompt",
            expected="consecutive pairs of rows with the same prompt",
        )


def _ratings_row(position: int, row: Row, fields: FieldReader, attributes: Sequence[str]) -> _HalfRow:
    prompt = fields.string(position, row, "prompt")
    response = fields.string(position, row, "response")
    low, high = fields.scale
    ratings: dict[str, int] = {}
    for name in attributes:
        value = row.get(name)
        # Inline fast path for the common case (a plain in-range int); the slow path explains what is wrong.
        ratings[name] = (
            value
            if type(value) is int and low <= value <= high
            else fields.rating(position, fields.get(position, row, name), name)
        )
    return _HalfRow(position, prompt, response, ratings, ())


def _disagreement_row(position: int, row: Row, fields: FieldReader, attributes: Sequence[str]) -> _HalfRow:
    prompt = fields.string(position, row, "prompt")
    response = fields.string(position, row, "response")
    columns: dict[str, list[int]] = {}
    length: int | None = None
    for name in attributes:
        value = fields.get(position, row, name)
        if not isinstance(value, list) or not value:
            raise fields.error(
                position,
                f"{value!r} is not a list of ratings",
                column=name,
                expected="a non-empty list, one per annotator",
            )
        if length is not None and len(value) != length:
            first = attributes[0]
            raise fields.error(
                position,
                f"{len(value)} ratings, but {first!r} has {length}",
                column=name,
                expected="the same number of annotators in every attribute list",
            )
        length = len(value)
        columns[name] = [fields.rating(position, item, name) for item in value]
    per_annotator = tuple({name: columns[name][index] for name in attributes} for index in range(length or 0))
    return _HalfRow(position, prompt, response, {}, per_annotator)


def _comparison(first: _HalfRow, second: _HalfRow, split: Split | None, disagreements: bool) -> ComparisonRecord:
    turns = parse_helpsteer2_prompt(first.prompt)
    if not disagreements:
        labels = SourceLabels(ratings_1=first.ratings, ratings_2=second.ratings)
        return ComparisonRecord(first.position, turns, first.response, second.response, split, source_labels=labels)
    count = max(len(first.annotator_ratings), len(second.annotator_ratings))
    annotations = tuple(
        AnnotationRecord(
            annotator_index=index + 1,
            ratings_1=first.annotator_ratings[index] if index < len(first.annotator_ratings) else {},
            ratings_2=second.annotator_ratings[index] if index < len(second.annotator_ratings) else {},
        )
        for index in range(count)
    )
    return ComparisonRecord(first.position, turns, first.response, second.response, split, annotations=annotations)
