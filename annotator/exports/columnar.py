"""Export formats straight from the canonical items' Arrow columns, without a Python object per item.

:func:`format_table` gives, for a record batch of the canonical items schema (:mod:`annotator.exports.canonical`),
the same rows, in the same order and with the same schema, as :func:`~annotator.exports.formats.format_columns`
gives for the same items as :class:`~annotator.exports.items.SnapshotItem` objects; the tests hold the two paths
to the same files. Only what has no vectorised form runs per row in Python: the HelpSteer2 prompt string of a
multi-turn prompt and the statement / elaboration split of a justification. :data:`COLUMNAR_FORMATS` names the
formats with a columnar form (all of them today).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from annotator.domain import NOT_RATABLE_STRENGTH, Turn
from annotator.exports.formats import FORMAT_SPECS, ExportFormat
from annotator.exports.items import split_justification
from annotator.exports.judge_columns import (
    JUDGE_CONFIDENCE,
    JUDGE_MODEL,
    JUDGE_PREFERENCE_STRENGTH,
    judge_rating_column,
)
from annotator.imports.turns import render_helpsteer2_prompt

COLUMNAR_FORMATS: frozenset[ExportFormat] = frozenset(get_args(ExportFormat))
_HS2P_SPLIT = {"train": "train", "validation": "val"}

Indices = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FormatTable:
    """A format's rows for one batch: ``table`` (the format's schema, no added ``split`` column) and, per row,
    the position in the batch of the item it comes from (``origins``, shape (rows,))."""

    table: pa.Table
    origins: Indices


def _offsets(column: pa.ListArray) -> npt.NDArray[np.int64]:
    return np.asarray(column.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)


def helpsteer2_prompts(turns: pa.ListArray) -> pa.Array:
    """HelpSteer2's prompt string of each item (most prompts are one user turn: that turn's text)."""
    offsets = _offsets(turns)
    values = turns.values
    starts, counts = offsets[:-1], np.diff(offsets)
    contents = values.field("content")
    first = np.minimum(starts, max(len(values) - 1, 0))
    single = counts == 1
    if len(values):
        single &= np.asarray(values.field("role").take(pa.array(first)).to_numpy(zero_copy_only=False) == "user")
    prompts: list[str | None] = [None] * len(starts)
    if single.any():
        for i, text in zip(
            np.flatnonzero(single).tolist(), contents.take(pa.array(first[single])).to_pylist(), strict=True
        ):
            prompts[i] = text
    roles = values.field("role")
    for i in np.flatnonzero(~single).tolist():
        lo, hi = int(starts[i]), int(offsets[i + 1])
        prompt = [Turn(r, c) for r, c in zip(roles[lo:hi].to_pylist(), contents[lo:hi].to_pylist(), strict=True)]  # type: ignore[arg-type]
        prompts[i] = render_helpsteer2_prompt(prompt)
    return pa.array(prompts, pa.string())


def _filter_lists(column: pa.ListArray, keep: npt.NDArray[np.bool_]) -> tuple[pa.Array, pa.StructArray]:
    """Keep the list elements where ``keep`` (one flag per element of ``column.values``): new int32 offsets and
    the kept elements."""
    offsets = _offsets(column)
    running = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    counts = running[offsets[1:]] - running[offsets[:-1]]
    within = np.zeros(len(keep), dtype=bool)
    within[offsets[0] : offsets[-1]] = True
    taken = column.values.take(pa.array(np.flatnonzero(keep & within)))
    return pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32), pa.int32()), taken


def _int32(array: pa.Array) -> pa.Array:
    return pc.cast(array, pa.int32())


def _take(batch: pa.RecordBatch, name: str, rows: Indices) -> pa.Array:
    return batch.column(name).take(pa.array(rows, pa.int64()))


def _table(
    fmt: ExportFormat, attributes: Sequence[str], arrays: list[pa.Array], origins: Indices, *, judge: bool = False
) -> FormatTable:
    schema = FORMAT_SPECS[fmt].schema(attributes, split_column=False, judge=judge)
    return FormatTable(pa.Table.from_arrays(arrays, schema=schema), origins)


def _rating_rows(
    batch: pa.RecordBatch, fmt: ExportFormat, attributes: Sequence[str], *, judge: bool = False
) -> FormatTable:
    """helpsteer2 / regression: two rows (response 1, response 2) per item with any aggregated rating."""
    rated = np.zeros(batch.num_rows, dtype=bool)
    for a in attributes:
        for side in ("r1", "r2"):
            rated |= np.asarray(batch.column(f"{side}_{a}").is_valid().to_numpy(zero_copy_only=False))
    items = np.flatnonzero(rated).astype(np.int64)
    origins = np.repeat(items, 2)
    # Interleave: row 2j is item j's response 1, row 2j + 1 its response 2.
    pick = np.arange(2 * len(items), dtype=np.int64)
    pick = np.where(pick % 2 == 0, pick // 2, len(items) + pick // 2)

    def interleave(first: str, second: str) -> pa.Array:
        both = pa.concat_arrays([_take(batch, first, items), _take(batch, second, items)])
        return both.take(pa.array(pick))

    arrays = [
        helpsteer2_prompts(_take(batch, "turns", origins)),
        interleave("response_1", "response_2"),
        *(_int32(interleave(f"r1_{a}", f"r2_{a}")) for a in attributes),
    ]
    if fmt == "regression":
        arrays = [_take(batch, "comparison_id", origins), *arrays, *_scope(batch, origins)]
        if judge:  # each row: the judge's rating of its own response
            arrays += [
                _take(batch, JUDGE_MODEL, origins),
                *(_int32(interleave(judge_rating_column(a, "1"), judge_rating_column(a, "2"))) for a in attributes),
            ]
        return _table(fmt, attributes, arrays, origins, judge=judge)
    return _table(fmt, attributes, arrays, origins)


def _scope(batch: pa.RecordBatch, rows: Indices) -> list[pa.Array]:
    """The prompts' domain and language columns at ``rows``, as the trainer-ready formats write them."""
    return [pc.cast(_take(batch, name, rows), pa.string()) for name in ("domain", "language")]


def _ranges(starts: Indices, counts: Indices) -> Indices:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, without the loop."""
    ends = np.cumsum(counts)
    return np.repeat(starts - (ends - counts), counts) + np.arange(int(ends[-1]) if len(ends) else 0)


def _used(values: pa.StructArray, name: str) -> npt.NDArray[np.bool_]:
    """An annotation flag ``used_*`` as a bool array (all True in a version-2 items file, which lacks it)."""
    if values.type.get_field_index(name) < 0:
        return np.ones(len(values), dtype=bool)
    return np.asarray(values.field(name).to_numpy(zero_copy_only=False), dtype=bool)


def _disagreement_rows(
    batch: pa.RecordBatch, fmt: ExportFormat, attributes: Sequence[str], *, used_only: bool
) -> FormatTable:
    """helpsteer2-disagreements: per response, per attribute, the ratings of the annotators who rated that response
    (any attribute; null where they left one out) and, with ``used_only``, whose ratings of it the aggregation used;
    two rows per item with any such annotator."""
    notes = batch.column("annotations")
    offsets = _offsets(notes)
    values = notes.values
    raters: dict[str, npt.NDArray[np.bool_]] = {}
    counts: dict[str, Indices] = {}
    for side in ("r1", "r2"):
        rated = np.zeros(len(values), dtype=bool)
        for a in attributes:
            rated |= np.asarray(values.field(f"{side}_{a}").is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if used_only:
            rated &= _used(values, f"used_{side}")
        running = np.concatenate([[0], np.cumsum(rated, dtype=np.int64)])
        raters[side], counts[side] = rated, running[offsets[1:]] - running[offsets[:-1]]
    items = np.flatnonzero((counts["r1"] > 0) | (counts["r2"] > 0)).astype(np.int64)
    origins = np.repeat(items, 2)
    # Element positions (into ``values``) of each row's raters: item j's response-1 raters, then its response 2's.
    row_counts = np.stack([counts["r1"][items], counts["r2"][items]], axis=1).reshape(-1)
    starts = np.repeat(offsets[items], 2)
    candidates = _ranges(starts, np.repeat(offsets[items + 1] - offsets[items], 2))
    side_of = np.repeat(np.tile([0, 1], len(items)), np.repeat(offsets[items + 1] - offsets[items], 2))
    keep = np.where(side_of == 0, raters["r1"][candidates], raters["r2"][candidates])
    chosen = pa.array(candidates[keep], pa.int64())
    side_kept = side_of[keep]
    row_offsets = pa.array(np.concatenate([[0], np.cumsum(row_counts)]).astype(np.int32), pa.int32())
    columns = []
    for a in attributes:
        first, second = values.field(f"r1_{a}").take(chosen), values.field(f"r2_{a}").take(chosen)
        ratings = _int32(pc.if_else(pa.array(side_kept == 0), first, second))
        columns.append(pa.ListArray.from_arrays(row_offsets, ratings))
    pick = np.arange(2 * len(items), dtype=np.int64)
    pick = np.where(pick % 2 == 0, pick // 2, len(items) + pick // 2)
    responses = pa.concat_arrays([_take(batch, "response_1", items), _take(batch, "response_2", items)])
    arrays = [helpsteer2_prompts(_take(batch, "turns", origins)), responses.take(pa.array(pick)), *columns]
    return _table(fmt, attributes, arrays, origins)


def _with_strength(batch: pa.RecordBatch) -> Indices:
    valid = batch.column("preference_strength").is_valid().to_numpy(zero_copy_only=False)
    return np.flatnonzero(np.asarray(valid)).astype(np.int64)


def _hs2p_rows(batch: pa.RecordBatch, attributes: Sequence[str]) -> FormatTable:
    rows = _with_strength(batch)
    texts = _take(batch, "justification", rows).to_pylist()
    statements = [split_justification(text or "") for text in texts]
    kept = _take(batch, "kept_preferences", rows)
    similar = pa.StructArray.from_arrays(
        [kept.values.field("statement"), kept.values.field("elaboration"), _int32(kept.values.field("strength"))],
        names=["statement", "elaboration", "strength"],
    )
    notes = _take(batch, "annotations", rows)
    not_ratable = np.asarray(notes.values.field("not_ratable").to_numpy(zero_copy_only=False), dtype=bool)
    strength = notes.values.field("preference_strength")
    given = np.asarray(strength.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    offsets, raw = _filter_lists(notes, not_ratable | given)
    raw_strength = pc.if_else(
        raw.field("not_ratable"), pa.scalar(NOT_RATABLE_STRENGTH, pa.int32()), _int32(raw.field("preference_strength"))
    )
    unprocessed = pa.StructArray.from_arrays(
        [raw_strength, raw.field("justification")], names=["strength", "justification"]
    )
    arrays = [
        pa.array([_HS2P_SPLIT[s] for s in _take(batch, "split", rows).to_pylist()], pa.string()),
        helpsteer2_prompts(_take(batch, "turns", rows)),
        _take(batch, "response_1", rows),
        _take(batch, "response_2", rows),
        _int32(_take(batch, "preference_strength", rows)),
        pa.array([s for s, _ in statements], pa.string()),
        pa.array([e for _, e in statements], pa.string()),
        pa.ListArray.from_arrays(kept.offsets, similar),
        pa.ListArray.from_arrays(offsets, unprocessed),
    ]
    return _table("helpsteer2-preference", attributes, arrays, rows)


def _hs3_rows(batch: pa.RecordBatch, attributes: Sequence[str]) -> FormatTable:
    rows = _with_strength(batch)
    notes = _take(batch, "annotations", rows)
    strength = notes.values.field("preference_strength")
    scored = np.asarray(strength.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    offsets, given = _filter_lists(notes, scored & _used(notes.values, "used_preference"))
    individual = pa.StructArray.from_arrays(
        [_int32(given.field("preference_strength")), given.field("justification")], names=["score", "reasoning"]
    )
    arrays = [
        _take(batch, "domain", rows),
        _take(batch, "language", rows),
        _take(batch, "turns", rows),
        _take(batch, "response_1", rows),
        _take(batch, "response_2", rows),
        _int32(_take(batch, "preference_strength", rows)),
        pa.ListArray.from_arrays(offsets, individual),
    ]
    return _table("helpsteer3", attributes, arrays, rows)


def _trl_rows(
    batch: pa.RecordBatch, fmt: ExportFormat, attributes: Sequence[str], *, judge: bool = False
) -> FormatTable:
    """TRL preference pairs: items with a non-zero strength (negative: response 1 chosen); margin = |strength|."""
    strength = batch.column("preference_strength")
    rows = np.flatnonzero(np.asarray(pc.fill_null(pc.not_equal(strength, 0), False).to_numpy(zero_copy_only=False)))
    rows = rows.astype(np.int64)
    picked = _take(batch, "preference_strength", rows)
    first_better = pc.less(picked, 0)
    response_1, response_2 = _take(batch, "response_1", rows), _take(batch, "response_2", rows)
    chosen = pc.if_else(first_better, response_1, response_2)
    rejected = pc.if_else(first_better, response_2, response_1)
    margin = pc.cast(pc.abs(picked), pa.float64())
    if fmt == "trl-preference":
        prompt: pa.Array = helpsteer2_prompts(_take(batch, "turns", rows))
    else:
        prompt = _take(batch, "turns", rows)
        chosen, rejected = _assistant_turns(chosen), _assistant_turns(rejected)
    arrays = [_take(batch, "comparison_id", rows), _take(batch, "split", rows), prompt, chosen, rejected, margin]
    arrays += _scope(batch, rows)
    if judge:  # the judge's draft in chosen / rejected terms; its margin is its strength for the chosen response
        judged = pc.cast(_take(batch, JUDGE_PREFERENCE_STRENGTH, rows), pa.float64())
        first = {a: _take(batch, judge_rating_column(a, "1"), rows) for a in attributes}
        second = {a: _take(batch, judge_rating_column(a, "2"), rows) for a in attributes}
        arrays += [
            _take(batch, JUDGE_MODEL, rows),
            pc.if_else(first_better, pc.negate(judged), judged),
            _take(batch, JUDGE_CONFIDENCE, rows),
            *(_int32(pc.if_else(first_better, first[a], second[a])) for a in attributes),  # chosen
            *(_int32(pc.if_else(first_better, second[a], first[a])) for a in attributes),  # rejected
        ]
    return _table(fmt, attributes, arrays, rows, judge=judge)


def _assistant_turns(texts: pa.Array) -> pa.ListArray:
    """Each text as a one-message list ``[{"role": "assistant", "content": text}]``."""
    roles = pa.array(["assistant"] * len(texts), pa.string())
    messages = pa.StructArray.from_arrays([roles, texts], names=["role", "content"])
    return pa.ListArray.from_arrays(pa.array(np.arange(len(texts) + 1, dtype=np.int32)), messages)


def format_table(
    batch: pa.RecordBatch, fmt: ExportFormat, attributes: Sequence[str], *, judge: bool = False
) -> FormatTable:
    """The rows a batch of canonical items becomes in ``fmt`` (one of :data:`COLUMNAR_FORMATS`); ``judge`` adds the
    LLM judge's columns to the formats that carry them (the batch must have the items' judge columns)."""
    if fmt in ("helpsteer2", "regression"):
        return _rating_rows(batch, fmt, attributes, judge=judge)
    if fmt in ("helpsteer2-disagreements", "helpsteer2-disagreements-all"):
        return _disagreement_rows(batch, fmt, attributes, used_only=fmt == "helpsteer2-disagreements")
    if fmt == "helpsteer2-preference":
        return _hs2p_rows(batch, attributes)
    if fmt == "helpsteer3":
        return _hs3_rows(batch, attributes)
    if fmt in ("trl-preference", "trl-preference-conversational"):
        return _trl_rows(batch, fmt, attributes, judge=judge)
    raise ValueError(f"{fmt} has no columnar form")
