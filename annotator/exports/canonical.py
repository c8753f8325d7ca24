"""The canonical items file of a snapshot: one Parquet row per included comparison, written a row group at a time.

A snapshot freezes its items once, in this file; every export is made from it. Columns (``<a>`` = each attribute,
in the snapshot's order, which the file's metadata also lists):

=====================  ===========================================================================================
``comparison_id``      string
``split``              "train" / "validation"
``turns``              list<struct<role, content>>: the prompt
``response_1/2``       string
``r1_<a>``, ``r2_<a>``  int8, null = none: the aggregated ratings
``preference_strength`` int8 -3..3, null = none
``justification``      string, null = none: the chosen justification
``kept_preferences``   list<struct<strength int8, statement, elaboration>>: the annotations the rule kept
``annotations``        list<struct<annotator, r1_<a>..., r2_<a>... (int8), preference_strength (int8),
                       not_ratable (bool), justification, used_r1, used_r2, used_preference (bool)>>: every
                       individual annotation, and which of its parts the aggregation used for the labels
``domain``, ``language`` string, null = unknown
=====================  ===========================================================================================

A snapshot cut with ``include_judge_drafts`` adds model-made columns after these
(:func:`annotator.exports.judge_columns.judge_column_names`):
``judge_model`` (string: the endpoint's model id), ``judge_preference_strength`` (int8), ``judge_confidence``
(float64) and ``judge_<a>_1`` / ``judge_<a>_2`` (int8), null where the judge drafted nothing for the comparison.
They are the LLM judge's drafts, never human labels: no label, kept preference or annotation above comes from them,
and the file's metadata lists them under ``model_made``.

The writer is deterministic (explicit schema, fixed compression and encodings, one row group per batch), so the
same items give the same bytes with the same pyarrow version, and a snapshot's content hash is the SHA-256 of the
file. Columns arrive as :class:`ItemColumns` (numbers as float arrays, NaN = none), which a build makes straight
from database columns, or from :class:`~annotator.exports.items.SnapshotItem` objects with
:func:`items_to_columns`; :func:`read_items` streams the items back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from annotator.domain import Turn
from annotator.exports.items import IndividualAnnotation, JudgeDraftValues, KeptPreference, SnapshotItem
from annotator.exports.judge_columns import (
    JUDGE_CONFIDENCE,
    JUDGE_MODEL,
    JUDGE_PREFERENCE_STRENGTH,
    judge_column_names,
    judge_rating_column,
)
from annotator.exports.sinks import BackgroundWriter, ParquetCompression, file_sha256

ITEMS_FORMAT = "prefstack-snapshot-items"
ITEMS_VERSION = 3
# Version 2 files (before the ``used_*`` flags) are still read: every annotation counts as used.
_READABLE_VERSIONS = (2, 3)
_USED_FIELDS = ("used_r1", "used_r2", "used_preference")
_METADATA_KEY = b"prefstack"
# zstd level 1: ~as fast as snappy to write here, and the smaller file is faster to hash and to read back.
ITEMS_COMPRESSION: ParquetCompression = "zstd"
ITEMS_COMPRESSION_LEVEL = 1
# Items converted to SnapshotItem objects at a time when reading.
READ_BATCH_SIZE = 1024

FloatArray = npt.NDArray[np.float64]
Offsets = npt.NDArray[np.int32]

_TURN = pa.struct([("role", pa.string()), ("content", pa.string())])
_KEPT = pa.struct([("strength", pa.int8()), ("statement", pa.string()), ("elaboration", pa.string())])
# Short, repeated labels: dictionary-encoded; free text and numbers are not.
_DICTIONARY_COLUMNS = ["split", "turns.list.element.role", "annotations.list.element.annotator", "domain", "language"]


def _annotation_type(attributes: Sequence[str]) -> pa.StructType:
    return pa.struct(
        [
            ("annotator", pa.string()),
            *((f"r1_{a}", pa.int8()) for a in attributes),
            *((f"r2_{a}", pa.int8()) for a in attributes),
            ("preference_strength", pa.int8()),
            ("not_ratable", pa.bool_()),
            ("justification", pa.string()),
            *((name, pa.bool_()) for name in _USED_FIELDS),
        ]
    )


def _judge_fields(attributes: Sequence[str]) -> list[pa.Field]:
    types = [pa.string(), pa.int8(), pa.float64(), *([pa.int8()] * (2 * len(attributes)))]
    return [pa.field(name, t) for name, t in zip(judge_column_names(attributes), types, strict=True)]


def items_schema(attributes: Sequence[str], *, judge: bool = False) -> pa.Schema:
    """The canonical items schema for these attributes (their order is kept in the schema's metadata); ``judge``
    adds the model-made judge columns, listed in the metadata's ``model_made``."""
    fields = [
        pa.field("comparison_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("turns", pa.list_(_TURN), nullable=False),
        pa.field("response_1", pa.string(), nullable=False),
        pa.field("response_2", pa.string(), nullable=False),
        *(pa.field(f"r1_{a}", pa.int8()) for a in attributes),
        *(pa.field(f"r2_{a}", pa.int8()) for a in attributes),
        pa.field("preference_strength", pa.int8()),
        pa.field("justification", pa.string()),
        pa.field("kept_preferences", pa.list_(_KEPT), nullable=False),
        pa.field("annotations", pa.list_(_annotation_type(attributes)), nullable=False),
        pa.field("domain", pa.string()),
        pa.field("language", pa.string()),
    ]
    header: dict[str, object] = {"format": ITEMS_FORMAT, "version": ITEMS_VERSION, "attributes": list(attributes)}
    if judge:
        fields += _judge_fields(attributes)
        header["model_made"] = judge_column_names(attributes)
    return pa.schema(fields, metadata={_METADATA_KEY: json.dumps(header, separators=(",", ":")).encode()})


def items_attributes(schema: pa.Schema) -> tuple[str, ...]:
    """The attributes a canonical items schema was written for; ValueError if it is not one."""
    raw = (schema.metadata or {}).get(_METADATA_KEY)
    header = json.loads(raw) if raw else {}
    if header.get("format") != ITEMS_FORMAT or header.get("version") not in _READABLE_VERSIONS:
        raise ValueError(f"not a version-{ITEMS_VERSION} Prefstack items file")
    return tuple(header["attributes"])


def items_model_made_columns(schema: pa.Schema) -> tuple[str, ...]:
    """The model-made columns of a canonical items file (none unless it was cut with judge drafts)."""
    raw = (schema.metadata or {}).get(_METADATA_KEY)
    return tuple(json.loads(raw).get("model_made", ())) if raw else ()


@dataclass(frozen=True)
class JudgeColumns:
    """The LLM judge's drafts of a batch of ``n`` items, shape (n,) each (None / NaN where it drafted none):
    model-made, written to their own columns and never into a human label."""

    model: Sequence[str | None]
    preference_strength: FloatArray
    confidence: FloatArray
    ratings_1: Mapping[str, FloatArray]
    ratings_2: Mapping[str, FloatArray]

    def arrays(self, attributes: Sequence[str]) -> list[pa.Array]:
        """The columns in :func:`judge_column_names` order."""
        confidence = np.asarray(self.confidence, dtype=np.float64)
        return [
            pa.array(self.model, pa.string()),
            _int8(self.preference_strength),
            pa.array(confidence, pa.float64(), mask=np.isnan(confidence)),
            *(_int8(self.ratings_1[a]) for a in attributes),
            *(_int8(self.ratings_2[a]) for a in attributes),
        ]


@dataclass(frozen=True)
class ItemColumns:
    """A batch of snapshot items as columns: ``n`` items, ``t`` turns, ``k`` kept preferences, ``m`` annotations.

    Ratings and strengths are float arrays with NaN for none (they are written as nullable int8). Each nested
    list is given flat, with ``*_offsets`` (int32, shape (n + 1,), starting at 0) saying which slice is whose.

    Attributes
    ----------
    comparison_id, split, response_1, response_2, justification, domain, language
        Shape (n,).
    ratings_1, ratings_2
        Attribute -> shape (n,).
    preference_strength
        Shape (n,).
    turn_offsets, turn_role, turn_content
        Shapes (n + 1,), (t,), (t,).
    kept_offsets, kept_strength, kept_statement, kept_elaboration
        Shapes (n + 1,), (k,), (k,), (k,).
    annotation_offsets, annotator, annotation_ratings_1, annotation_ratings_2, annotation_strength,
    annotation_not_ratable, annotation_justification, annotation_used_1, annotation_used_2,
    annotation_used_preference
        Shapes (n + 1,), then (m,) each (ratings: attribute -> (m,)).
    """

    comparison_id: Sequence[str]
    split: Sequence[str]
    turn_offsets: Offsets
    turn_role: Sequence[str]
    turn_content: Sequence[str]
    response_1: Sequence[str]
    response_2: Sequence[str]
    ratings_1: Mapping[str, FloatArray]
    ratings_2: Mapping[str, FloatArray]
    preference_strength: FloatArray
    justification: Sequence[str | None]
    kept_offsets: Offsets
    kept_strength: FloatArray
    kept_statement: Sequence[str]
    kept_elaboration: Sequence[str]
    annotation_offsets: Offsets
    annotator: Sequence[str]
    annotation_ratings_1: Mapping[str, FloatArray]
    annotation_ratings_2: Mapping[str, FloatArray]
    annotation_strength: FloatArray
    annotation_not_ratable: npt.NDArray[np.bool_]
    annotation_justification: Sequence[str]
    annotation_used_1: npt.NDArray[np.bool_]
    annotation_used_2: npt.NDArray[np.bool_]
    annotation_used_preference: npt.NDArray[np.bool_]
    domain: Sequence[str | None]
    language: Sequence[str | None]
    judge: JudgeColumns | None = None  # the judge's drafts, when the snapshot includes them

    def __len__(self) -> int:
        return len(self.comparison_id)

    def to_batch(self, schema: pa.Schema) -> pa.RecordBatch:
        """The columns as a record batch of ``schema`` (see :func:`items_schema`)."""
        attributes = items_attributes(schema)
        annotation_fields = [
            pa.array(self.annotator, pa.string()),
            *(_int8(self.annotation_ratings_1[a]) for a in attributes),
            *(_int8(self.annotation_ratings_2[a]) for a in attributes),
            _int8(self.annotation_strength),
            pa.array(np.asarray(self.annotation_not_ratable, dtype=bool), pa.bool_()),
            pa.array(self.annotation_justification, pa.string()),
            *(
                pa.array(np.asarray(used, dtype=bool), pa.bool_())
                for used in (self.annotation_used_1, self.annotation_used_2, self.annotation_used_preference)
            ),
        ]
        turns = pa.StructArray.from_arrays(
            [pa.array(self.turn_role, pa.string()), pa.array(self.turn_content, pa.string())], fields=list(_TURN)
        )
        kept = pa.StructArray.from_arrays(
            [
                _int8(self.kept_strength),
                pa.array(self.kept_statement, pa.string()),
                pa.array(self.kept_elaboration, pa.string()),
            ],
            fields=list(_KEPT),
        )
        annotations = pa.StructArray.from_arrays(annotation_fields, fields=list(_annotation_type(attributes)))
        arrays = [
            pa.array(self.comparison_id, pa.string()),
            pa.array(self.split, pa.string()),
            _lists(self.turn_offsets, turns),
            pa.array(self.response_1, pa.string()),
            pa.array(self.response_2, pa.string()),
            *(_int8(self.ratings_1[a]) for a in attributes),
            *(_int8(self.ratings_2[a]) for a in attributes),
            _int8(self.preference_strength),
            pa.array(self.justification, pa.string()),
            _lists(self.kept_offsets, kept),
            _lists(self.annotation_offsets, annotations),
            pa.array(self.domain, pa.string()),
            pa.array(self.language, pa.string()),
        ]
        if items_model_made_columns(schema):
            if self.judge is None:
                raise ValueError("this items schema has judge columns: the batch must carry the judge's drafts")
            arrays += self.judge.arrays(attributes)
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _int8(values: FloatArray) -> pa.Array:
    """Float values (NaN = null) as nullable int8; a value outside int8 raises rather than wraps."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    filled = np.where(missing, 0.0, values)
    if filled.size and (filled.min() < -128 or filled.max() > 127):
        raise ValueError("a rating or strength lies outside the int8 range")
    return pa.array(filled.astype(np.int8), type=pa.int8(), mask=missing)


def _lists(offsets: Offsets, values: pa.Array) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int32), pa.int32()), values)


class ItemsWriter:
    """Writes a canonical items file, one row group per :meth:`write`, compressing on a background thread.

    Parameters
    ----------
    path
        The file to write.
    attributes
        Attribute names, in column order.
    judge
        Add the model-made judge columns (each batch then carries :class:`JudgeColumns`).
    """

    def __init__(self, path: Path, attributes: Sequence[str], *, judge: bool = False) -> None:
        self.path = path
        self.schema = items_schema(attributes, judge=judge)
        self.rows = 0
        self._background = BackgroundWriter()
        self._writer = pq.ParquetWriter(
            path,
            self.schema,
            compression=ITEMS_COMPRESSION,
            compression_level=ITEMS_COMPRESSION_LEVEL,
            use_dictionary=_DICTIONARY_COLUMNS,
        )

    def write(self, columns: ItemColumns) -> None:
        """Append the items as one row group (nothing when there are none)."""
        if not len(columns):
            return
        table = pa.Table.from_batches([columns.to_batch(self.schema)])
        self._background.submit(lambda: self._writer.write_table(table, row_group_size=len(columns)))
        self.rows += len(columns)

    def close(self) -> str:
        """Finish the file; returns its SHA-256 hex digest."""
        try:
            self._background.submit(self._writer.close)
        finally:
            self._background.close()
        return file_sha256(self.path)


def items_to_columns(items: Sequence[SnapshotItem], attributes: Sequence[str]) -> ItemColumns:
    """Snapshot items as :class:`ItemColumns` (ratings an item does not give become none)."""

    def number(value: int | None) -> float:
        return np.nan if value is None else float(value)

    def numbers(values: Iterator[int | None]) -> FloatArray:
        return np.fromiter((number(v) for v in values), dtype=np.float64)

    def offsets(lengths: Iterator[int]) -> Offsets:
        return np.concatenate([[0], np.cumsum(np.fromiter(lengths, dtype=np.int64))]).astype(np.int32)

    turns = [t for item in items for t in item.turns]
    kept = [k for item in items for k in item.kept_preferences]
    annotations = [a for item in items for a in item.annotations]
    return ItemColumns(
        comparison_id=[item.comparison_id for item in items],
        split=[item.split for item in items],
        turn_offsets=offsets(len(item.turns) for item in items),
        turn_role=[t.role for t in turns],
        turn_content=[t.content for t in turns],
        response_1=[item.response_1 for item in items],
        response_2=[item.response_2 for item in items],
        ratings_1={a: numbers(item.ratings_1.get(a) for item in items) for a in attributes},
        ratings_2={a: numbers(item.ratings_2.get(a) for item in items) for a in attributes},
        preference_strength=numbers(item.preference_strength for item in items),
        justification=[item.justification for item in items],
        kept_offsets=offsets(len(item.kept_preferences) for item in items),
        kept_strength=numbers(k.strength for k in kept),
        kept_statement=[k.statement for k in kept],
        kept_elaboration=[k.elaboration for k in kept],
        annotation_offsets=offsets(len(item.annotations) for item in items),
        annotator=[a.annotator for a in annotations],
        annotation_ratings_1={x: numbers(a.ratings_1.get(x) for a in annotations) for x in attributes},
        annotation_ratings_2={x: numbers(a.ratings_2.get(x) for a in annotations) for x in attributes},
        annotation_strength=numbers(a.preference_strength for a in annotations),
        annotation_not_ratable=np.fromiter((a.not_ratable for a in annotations), dtype=bool, count=len(annotations)),
        annotation_justification=[a.justification for a in annotations],
        annotation_used_1=np.fromiter((a.used_1 for a in annotations), dtype=bool, count=len(annotations)),
        annotation_used_2=np.fromiter((a.used_2 for a in annotations), dtype=bool, count=len(annotations)),
        annotation_used_preference=np.fromiter(
            (a.used_preference for a in annotations), dtype=bool, count=len(annotations)
        ),
        domain=[item.domain for item in items],
        language=[item.language for item in items],
        judge=JudgeColumns(
            model=[item.judge.model if item.judge else None for item in items],
            preference_strength=numbers(item.judge.preference_strength if item.judge else None for item in items),
            confidence=np.fromiter(
                (
                    item.judge.confidence if item.judge and item.judge.confidence is not None else np.nan
                    for item in items
                ),
                dtype=np.float64,
                count=len(items),
            ),
            ratings_1={
                a: numbers(item.judge.ratings_1.get(a) if item.judge else None for item in items) for a in attributes
            },
            ratings_2={
                a: numbers(item.judge.ratings_2.get(a) if item.judge else None for item in items) for a in attributes
            },
        ),
    )


def read_item_batches(path: Path, *, batch_size: int = READ_BATCH_SIZE) -> Iterator[pa.RecordBatch]:
    """Stream a canonical items file as record batches of at most ``batch_size`` items (memory stays flat)."""
    file = pq.ParquetFile(path)
    items_attributes(file.schema_arrow)  # refuse a file of another kind early
    yield from file.iter_batches(batch_size=batch_size)


def read_items(path: Path, *, batch_size: int = READ_BATCH_SIZE) -> Iterator[SnapshotItem]:
    """Stream a canonical items file's items, ``batch_size`` at a time."""
    attributes = items_attributes(pq.read_schema(path))
    for batch in read_item_batches(path, batch_size=batch_size):
        yield from items_from_batch(batch, attributes)


def _nested(column: pa.ListArray) -> tuple[list[int], dict[str, list[object]]]:
    """A list<struct> column as offsets into its flattened values and the values' fields as Python lists."""
    offsets = column.offsets.to_pylist()
    offsets = [o - offsets[0] for o in offsets]
    values = column.flatten()  # only this (possibly sliced) array's elements
    return offsets, {values.type.field(i).name: values.field(i).to_pylist() for i in range(values.type.num_fields)}


def items_from_batch(batch: pa.RecordBatch, attributes: Sequence[str]) -> list[SnapshotItem]:
    """The snapshot items of a record batch of the canonical schema."""
    column = {name: batch.column(name) for name in batch.schema.names}
    python = {
        name: column[name].to_pylist()
        for name in batch.schema.names
        if name not in ("turns", "kept_preferences", "annotations")
    }
    turn_at, turn = _nested(column["turns"])
    kept_at, kept = _nested(column["kept_preferences"])
    note_at, note = _nested(column["annotations"])
    turns = [Turn(r, c) for r, c in zip(turn["role"], turn["content"], strict=True)]  # type: ignore[arg-type]
    kept_items = [
        KeptPreference(*v)  # type: ignore[arg-type]
        for v in zip(kept["strength"], kept["statement"], kept["elaboration"], strict=True)
    ]
    note_1 = list(zip(*(note[f"r1_{a}"] for a in attributes), strict=True)) or [()] * len(note["annotator"])
    note_2 = list(zip(*(note[f"r2_{a}"] for a in attributes), strict=True)) or [()] * len(note["annotator"])
    used = list(zip(*(note.get(name, [True] * len(note["annotator"])) for name in _USED_FIELDS), strict=True))
    notes = [
        IndividualAnnotation(code, dict(zip(attributes, a1, strict=True)), dict(zip(attributes, a2, strict=True)), s, bool(nr), text, *map(bool, u))  # type: ignore[arg-type]
        for code, a1, a2, s, nr, text, u in zip(
            note["annotator"], note_1, note_2, note["preference_strength"], note["not_ratable"], note["justification"], used, strict=True
        )
    ]  # fmt: skip
    n = batch.num_rows
    ratings_1 = list(zip(*(python[f"r1_{a}"] for a in attributes), strict=True)) or [()] * n
    ratings_2 = list(zip(*(python[f"r2_{a}"] for a in attributes), strict=True)) or [()] * n
    judged = _judge_values(python, attributes, n)
    return [
        SnapshotItem(
            comparison_id=python["comparison_id"][i],  # type: ignore[arg-type]
            split=python["split"][i],  # type: ignore[arg-type]
            turns=tuple(turns[turn_at[i] : turn_at[i + 1]]),
            response_1=python["response_1"][i],  # type: ignore[arg-type]
            response_2=python["response_2"][i],  # type: ignore[arg-type]
            ratings_1=dict(zip(attributes, ratings_1[i], strict=True)),
            ratings_2=dict(zip(attributes, ratings_2[i], strict=True)),
            preference_strength=python["preference_strength"][i],  # type: ignore[arg-type]
            justification=python["justification"][i],  # type: ignore[arg-type]
            kept_preferences=tuple(kept_items[kept_at[i] : kept_at[i + 1]]),
            annotations=tuple(notes[note_at[i] : note_at[i + 1]]),
            domain=python["domain"][i],  # type: ignore[arg-type]
            language=python["language"][i],  # type: ignore[arg-type]
            judge=judged[i],
        )
        for i in range(n)
    ]


def _judge_values(
    python: Mapping[str, list[object]], attributes: Sequence[str], n: int
) -> list[JudgeDraftValues | None]:
    """Each row's judge draft (None where the judge drafted nothing, or the file has no judge columns)."""
    if JUDGE_MODEL not in python:
        return [None] * n

    def ratings(i: int, side: str) -> dict[str, int | None]:
        return {a: python[judge_rating_column(a, side)][i] for a in attributes}  # type: ignore[misc]

    return [
        None
        if python[JUDGE_MODEL][i] is None
        else JudgeDraftValues(
            model=python[JUDGE_MODEL][i],  # type: ignore[arg-type]
            preference_strength=python[JUDGE_PREFERENCE_STRENGTH][i],  # type: ignore[arg-type]
            confidence=python[JUDGE_CONFIDENCE][i],  # type: ignore[arg-type]
            ratings_1=ratings(i, "1"),
            ratings_2=ratings(i, "2"),
        )
        for i in range(n)
    ]


__all__ = [
    "ITEMS_FORMAT",
    "ITEMS_VERSION",
    "ItemColumns",
    "ItemsWriter",
    "JudgeColumns",
    "items_attributes",
    "items_from_batch",
    "items_model_made_columns",
    "items_schema",
    "items_to_columns",
    "judge_column_names",
    "read_item_batches",
    "read_items",
]
