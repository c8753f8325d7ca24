"""Export formats: how a batch of :class:`SnapshotItem` becomes columns, and each format's explicit Arrow schema.

Columns follow reference/helpsteer2-spec.md §1 (HelpSteer2, disagreements, HelpSteer2-Preference), §6.2
(HelpSteer3) and TRL's documented preference format (explicit prompt; ``margin`` is TRL's optional per-pair column).
What each format leaves out, by design:

* ``helpsteer2`` / ``regression``: comparisons without any aggregated rating; a missing single rating is null.
  ``regression`` is HelpSteer2's layout with the comparison ``id`` first, so a trainer can pair its two rows.
* ``helpsteer2-disagreements``: as HelpSteer2 releases it, per response only the annotations the aggregation used
  for the released ratings (after it filtered outliers); comparisons without any such rating are left out. An
  annotator who rated only some attributes of a response contributes null in the others, so every list of a row
  has the same length. ``helpsteer2-disagreements-all`` (opt-in) lists every annotation, outliers included.
* ``helpsteer3``: ``individual_preference`` holds the (up to three) preferences the aggregation used, the ones
  that agree most, as HelpSteer3 releases them.
* ``helpsteer2-preference`` / ``helpsteer3``: comparisons without an aggregated preference strength.
* ``trl-preference`` / ``trl-preference-conversational``: also ties (strength 0): they name no chosen response;
  ``margin`` = |strength| for TRL's margin loss.

From a snapshot cut with judge drafts, the trainer-ready formats (TRL and regression) add the LLM judge's draft as
optional model-made columns after their own (:mod:`annotator.exports.judge_columns`; ``judge`` of
:class:`ItemBatch` and :meth:`FormatSpec.schema`, off by default); the HelpSteer2 and HelpSteer3 formats never do.

Formats are built a batch of items at a time, column by column (one list per column), so that what several formats
share (the rendered HelpSteer2 prompt, the message lists, the rating columns) is computed once per item, and the
writers hand whole columns to Arrow instead of one dict per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast, get_args

import pyarrow as pa

from annotator.domain import NOT_RATABLE_STRENGTH, Split, Turn
from annotator.exports.items import SnapshotItem, split_justification
from annotator.exports.judge_columns import (
    JUDGE_CONFIDENCE,
    JUDGE_MARGIN,
    JUDGE_MODEL,
    judge_pair_column_names,
    judge_rating_column,
    judge_response_column_names,
)
from annotator.imports.turns import render_helpsteer2_prompt

ExportFormat = Literal[
    "helpsteer2",
    "helpsteer2-disagreements",
    "helpsteer2-disagreements-all",
    "helpsteer2-preference",
    "helpsteer3",
    "trl-preference",
    "trl-preference-conversational",
    "regression",
]
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)

ExportRow = dict[str, object]
Columns = dict[str, list[Any]]
"""Column name -> one value per row, in the format's column order."""

_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
_MESSAGES = pa.list_(_MESSAGE)
_HS2P_SPLIT: dict[Split, str] = {"train": "train", "validation": "val"}
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class FormatColumns:
    """A format's rows for one batch, as columns.

    Attributes
    ----------
    columns
        Column name -> values, one per row, in the format's column order.
    origins
        For each row, the position in the batch of the item it comes from (length = number of rows).
    """

    columns: Columns
    origins: list[int]

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.origins)

    def to_rows(self) -> list[ExportRow]:
        """One dict per row (column order kept)."""
        names = list(self.columns)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.columns.values(), strict=True)]


class ItemBatch:
    """Consecutive items of a snapshot with what several formats share, each computed at most once.

    Parameters
    ----------
    items
        The items, in snapshot order.
    attributes
        Attribute names, in column order.
    judge
        Add the LLM judge's model-made columns to the formats that carry them (a snapshot cut with judge drafts).
    """

    __slots__ = ("_shared", "attributes", "items", "judge")

    def __init__(self, items: Sequence[SnapshotItem], attributes: Sequence[str], *, judge: bool = False) -> None:
        self.items = items
        self.attributes = tuple(attributes)
        self.judge = judge
        self._shared: dict[str, object] = {}

    def shared(self, key: str, compute: Callable[[ItemBatch], _T]) -> _T:
        """``compute(self)``, computed on first use under ``key`` and kept for the batch's life."""
        if key not in self._shared:
            self._shared[key] = compute(self)
        return cast(_T, self._shared[key])

    @property
    def prompts(self) -> list[str]:
        """HelpSteer2 prompt string of each item."""
        return self.shared("prompts", lambda b: [_helpsteer2_prompt(item.turns) for item in b.items])

    @property
    def contexts(self) -> list[list[dict[str, str]]]:
        """``[{role, content}, ...]`` message list of each item's prompt."""
        return self.shared("contexts", lambda b: [_messages(item.turns) for item in b.items])


def _helpsteer2_prompt(turns: Sequence[Turn]) -> str:
    if len(turns) == 1 and turns[0].role == "user":  # most prompts: the string is the one user turn
        return turns[0].content
    return render_helpsteer2_prompt(turns)


def _messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    return [{"role": turn.role, "content": turn.content} for turn in turns]


def _pairs(positions: list[int]) -> list[int]:
    """Each position twice (formats with one row per response)."""
    return [i for i in positions for _ in (1, 2)]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One export format.

    Attributes
    ----------
    name
        The format's name (also its folder and dataset-card config name).
    build
        Builds the columns of a batch (0, 1 or 2 rows per item).
    columns
        Builds the Arrow fields for the given attribute names.
    native_split
        True when the format has its own ``split`` column; others get one appended when splits share a file.
    judge_columns
        The LLM judge's model-made fields the format adds from a snapshot cut with judge drafts; None: it never
        carries them (the HelpSteer2 and HelpSteer3 formats stay as released).
    """

    name: ExportFormat
    build: Callable[[ItemBatch], FormatColumns]
    columns: Callable[[Sequence[str]], list[pa.Field]]
    native_split: bool
    judge_columns: Callable[[Sequence[str]], list[pa.Field]] | None = None

    def schema(self, attributes: Sequence[str], *, split_column: bool, judge: bool = False) -> pa.Schema:
        """The explicit Arrow schema; ``judge`` adds the judge's columns (formats that carry them), then
        ``split_column`` appends ``split`` to formats without one."""
        fields = self.columns(attributes)
        if judge and self.judge_columns is not None:
            fields = [*fields, *self.judge_columns(attributes)]
        if split_column and not self.native_split:
            fields = [*fields, pa.field("split", pa.string())]
        return pa.schema(fields)


# --- helpsteer2 ratings and regression: two rows per comparison -----------------------------------------------


def _rating_columns_of(batch: ItemBatch) -> FormatColumns:
    attributes = batch.attributes
    width = len(attributes)
    prompts = batch.prompts
    origins: list[int] = []
    responses: list[str] = []
    rows: list[list[int | None]] = []  # one list of ratings (in attribute order) per row
    for i, item in enumerate(batch.items):
        values_1 = list(map(item.ratings_1.get, attributes))
        values_2 = list(map(item.ratings_2.get, attributes))
        if values_1.count(None) + values_2.count(None) == 2 * width:
            continue
        origins += (i, i)
        responses += (item.response_1, item.response_2)
        rows += (values_1, values_2)
    columns: Columns = {"prompt": [prompts[i] for i in origins], "response": responses}
    columns.update(zip(attributes, _transpose(rows, width), strict=True))
    return FormatColumns(columns, origins)


def _transpose(rows: list[list[_T]], width: int) -> list[list[_T]]:
    """Rows of ``width`` values -> ``width`` columns."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _rating_rows(batch: ItemBatch) -> FormatColumns:
    return batch.shared("ratings", _rating_columns_of)


def _rating_columns(attributes: Sequence[str]) -> list[pa.Field]:
    return [
        pa.field("prompt", pa.string()),
        pa.field("response", pa.string()),
        *(pa.field(name, pa.int32()) for name in attributes),
    ]


def _scope_columns(batch: ItemBatch, positions: Sequence[int]) -> Columns:
    """The prompts' ``domain`` and ``language`` (None = unknown) of the items at ``positions``: the trainer-ready
    formats carry them so that a run can be filtered or weighted by domain."""
    return {
        "domain": [batch.items[i].domain for i in positions],
        "language": [batch.items[i].language for i in positions],
    }


_SCOPE_FIELDS = (pa.field("domain", pa.string()), pa.field("language", pa.string()))


def _regression_rows(batch: ItemBatch) -> FormatColumns:
    ratings = _rating_rows(batch)
    ids = [batch.items[i].comparison_id for i in ratings.origins]
    columns: Columns = {"id": ids, **ratings.columns, **_scope_columns(batch, ratings.origins)}
    if batch.judge:
        # Rows come in pairs, response 1 then response 2 of the same item: each row gets the judge's rating of its
        # own response.
        drafts = [batch.items[i].judge for i in ratings.origins]
        columns[JUDGE_MODEL] = [d.model if d else None for d in drafts]
        for a in batch.attributes:
            columns[judge_rating_column(a, "")] = [
                None if d is None else (d.ratings_1 if row % 2 == 0 else d.ratings_2).get(a)
                for row, d in enumerate(drafts)
            ]
    return FormatColumns(columns, ratings.origins)


def _regression_columns(attributes: Sequence[str]) -> list[pa.Field]:
    return [pa.field("id", pa.string()), *_rating_columns(attributes), *_SCOPE_FIELDS]


def _regression_judge_columns(attributes: Sequence[str]) -> list[pa.Field]:
    model, *ratings = judge_response_column_names(attributes)
    return [pa.field(model, pa.string()), *(pa.field(name, pa.int32()) for name in ratings)]


# --- helpsteer2 disagreements ----------------------------------------------------------------------------------


def _disagreement_rows(batch: ItemBatch) -> FormatColumns:
    """The annotations the aggregation used for each response's ratings (HelpSteer2's released file)."""
    return _disagreement_rows_of(batch, used_only=True)


def _disagreement_all_rows(batch: ItemBatch) -> FormatColumns:
    """Every annotation of each response, outliers the aggregation dropped included (opt-in)."""
    return _disagreement_rows_of(batch, used_only=False)


def _disagreement_rows_of(batch: ItemBatch, *, used_only: bool) -> FormatColumns:
    attributes = batch.attributes
    width = len(attributes)
    prompts = batch.prompts
    origins: list[int] = []
    responses: list[str] = []
    rows: list[list[list[int | None]]] = []  # per row: per attribute, the ratings of the annotators who rated
    for i, item in enumerate(batch.items):
        raters_1 = [
            values
            for a in item.annotations
            if (a.used_1 or not used_only) and (values := list(map(a.ratings_1.get, attributes))).count(None) < width
        ]
        raters_2 = [
            values
            for a in item.annotations
            if (a.used_2 or not used_only) and (values := list(map(a.ratings_2.get, attributes))).count(None) < width
        ]
        if not raters_1 and not raters_2:
            continue
        origins += (i, i)
        responses += (item.response_1, item.response_2)
        rows += (_transpose(raters_1, width), _transpose(raters_2, width))
    columns: Columns = {"prompt": [prompts[i] for i in origins], "response": responses}
    columns.update(zip(attributes, _transpose(rows, width), strict=True))
    return FormatColumns(columns, origins)


def _disagreement_columns(attributes: Sequence[str]) -> list[pa.Field]:
    return [
        pa.field("prompt", pa.string()),
        pa.field("response", pa.string()),
        *(pa.field(name, pa.list_(pa.int32())) for name in attributes),
    ]


# --- helpsteer2-preference -------------------------------------------------------------------------------------


def _with_strength(batch: ItemBatch) -> list[int]:
    """Positions of the items with an aggregated preference strength."""
    return batch.shared(
        "with_strength", lambda b: [i for i, item in enumerate(b.items) if item.preference_strength is not None]
    )


def _hs2p_rows(batch: ItemBatch) -> FormatColumns:
    kept = _with_strength(batch)
    items = [batch.items[i] for i in kept]
    prompts = batch.prompts
    statements = [split_justification(item.justification or "") for item in items]
    columns: Columns = {
        "split": [_HS2P_SPLIT[item.split] for item in items],
        "prompt": [prompts[i] for i in kept],
        "response_1": [item.response_1 for item in items],
        "response_2": [item.response_2 for item in items],
        "preference_strength": [item.preference_strength for item in items],
        "preference_statement": [statement for statement, _ in statements],
        "preference_elaboration": [elaboration for _, elaboration in statements],
        "three_most_similar_preferences": [
            [
                {"statement": similar.statement, "elaboration": similar.elaboration, "strength": similar.strength}
                for similar in item.kept_preferences
            ]
            for item in items
        ],
        "all_preferences_unprocessed": [
            [
                {
                    "strength": NOT_RATABLE_STRENGTH if a.not_ratable else a.preference_strength,
                    "justification": a.justification,
                }
                for a in item.annotations
                if a.not_ratable or a.preference_strength is not None
            ]
            for item in items
        ],
    }
    return FormatColumns(columns, kept)


def _hs2p_columns(attributes: Sequence[str]) -> list[pa.Field]:
    kept = pa.struct([("statement", pa.string()), ("elaboration", pa.string()), ("strength", pa.int32())])
    raw = pa.struct([("strength", pa.int32()), ("justification", pa.string())])
    return [
        pa.field("split", pa.string()),
        pa.field("prompt", pa.string()),
        pa.field("response_1", pa.string()),
        pa.field("response_2", pa.string()),
        pa.field("preference_strength", pa.int32()),
        pa.field("preference_statement", pa.string()),
        pa.field("preference_elaboration", pa.string()),
        pa.field("three_most_similar_preferences", pa.list_(kept)),
        pa.field("all_preferences_unprocessed", pa.list_(raw)),
    ]


# --- helpsteer3 ------------------------------------------------------------------------------------------------


def _hs3_rows(batch: ItemBatch) -> FormatColumns:
    kept = _with_strength(batch)
    items = [batch.items[i] for i in kept]
    contexts = batch.contexts
    columns: Columns = {
        "domain": [item.domain for item in items],
        "language": [item.language for item in items],
        "context": [contexts[i] for i in kept],
        "response1": [item.response_1 for item in items],
        "response2": [item.response_2 for item in items],
        "overall_preference": [item.preference_strength for item in items],
        "individual_preference": [
            [
                {"score": a.preference_strength, "reasoning": a.justification}
                for a in item.annotations
                if a.preference_strength is not None and a.used_preference
            ]
            for item in items
        ],
    }
    return FormatColumns(columns, kept)


def _hs3_columns(attributes: Sequence[str]) -> list[pa.Field]:
    individual = pa.struct([("score", pa.int32()), ("reasoning", pa.string())])
    return [
        pa.field("domain", pa.string()),
        pa.field("language", pa.string()),
        pa.field("context", _MESSAGES),
        pa.field("response1", pa.string()),
        pa.field("response2", pa.string()),
        pa.field("overall_preference", pa.int32()),
        pa.field("individual_preference", pa.list_(individual)),
    ]


# --- TRL preference (explicit prompt) ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ChosenRejected:
    """The non-tied items of a batch: positions, chosen and rejected responses, margins (= |strength|)."""

    kept: list[int]
    chosen: list[str]
    rejected: list[str]
    margins: list[float]
    first_chosen: list[bool]  # response 1 is the chosen one


def _chosen_rejected_of(batch: ItemBatch) -> _ChosenRejected:
    pairs = _ChosenRejected([], [], [], [], [])
    for i, item in enumerate(batch.items):
        strength = item.preference_strength
        if strength is None or strength == 0:
            continue
        pairs.kept.append(i)
        if strength < 0:
            pairs.chosen.append(item.response_1)
            pairs.rejected.append(item.response_2)
        else:
            pairs.chosen.append(item.response_2)
            pairs.rejected.append(item.response_1)
        pairs.margins.append(float(abs(strength)))
        pairs.first_chosen.append(strength < 0)
    return pairs


def _trl_judge_columns_of(batch: ItemBatch, pairs: _ChosenRejected) -> Columns:
    """The judge's draft of each pair in chosen / rejected terms (None where it drafted nothing)."""
    drafts = [batch.items[i].judge for i in pairs.kept]
    columns: Columns = {
        JUDGE_MODEL: [d.model if d else None for d in drafts],
        JUDGE_MARGIN: [
            None
            if d is None or d.preference_strength is None
            else float(-d.preference_strength if first else d.preference_strength)
            for d, first in zip(drafts, pairs.first_chosen, strict=True)
        ],
        JUDGE_CONFIDENCE: [d.confidence if d else None for d in drafts],
    }
    for side in ("chosen", "rejected"):
        for a in batch.attributes:
            columns[judge_rating_column(a, side)] = [
                None if d is None else (d.ratings_1 if first == (side == "chosen") else d.ratings_2).get(a)
                for d, first in zip(drafts, pairs.first_chosen, strict=True)
            ]
    return columns


def _trl_judge_fields(attributes: Sequence[str]) -> list[pa.Field]:
    model, margin, confidence, *ratings = judge_pair_column_names(attributes)
    return [
        pa.field(model, pa.string()),
        pa.field(margin, pa.float64()),
        pa.field(confidence, pa.float64()),
        *(pa.field(name, pa.int32()) for name in ratings),
    ]


def _chosen_rejected(batch: ItemBatch) -> _ChosenRejected:
    return batch.shared("chosen_rejected", _chosen_rejected_of)


def _trl_rows(batch: ItemBatch) -> FormatColumns:
    pairs = _chosen_rejected(batch)
    prompts = batch.prompts
    columns: Columns = {
        "id": [batch.items[i].comparison_id for i in pairs.kept],
        "split": [batch.items[i].split for i in pairs.kept],
        "prompt": [prompts[i] for i in pairs.kept],
        "chosen": pairs.chosen,
        "rejected": pairs.rejected,
        "margin": pairs.margins,
        **_scope_columns(batch, pairs.kept),
    }
    if batch.judge:
        columns.update(_trl_judge_columns_of(batch, pairs))
    return FormatColumns(columns, pairs.kept)


def _trl_conversational_rows(batch: ItemBatch) -> FormatColumns:
    pairs = _chosen_rejected(batch)
    contexts = batch.contexts
    columns: Columns = {
        "id": [batch.items[i].comparison_id for i in pairs.kept],
        "split": [batch.items[i].split for i in pairs.kept],
        "prompt": [contexts[i] for i in pairs.kept],
        "chosen": [[{"role": "assistant", "content": text}] for text in pairs.chosen],
        "rejected": [[{"role": "assistant", "content": text}] for text in pairs.rejected],
        "margin": pairs.margins,
        **_scope_columns(batch, pairs.kept),
    }
    if batch.judge:
        columns.update(_trl_judge_columns_of(batch, pairs))
    return FormatColumns(columns, pairs.kept)


def _trl_columns(text: pa.DataType) -> Callable[[Sequence[str]], list[pa.Field]]:
    def columns(attributes: Sequence[str]) -> list[pa.Field]:
        return [
            pa.field("id", pa.string()),
            pa.field("split", pa.string()),
            pa.field("prompt", text),
            pa.field("chosen", text),
            pa.field("rejected", text),
            pa.field("margin", pa.float64()),
            *_SCOPE_FIELDS,
        ]

    return columns


FORMAT_SPECS: dict[ExportFormat, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec("helpsteer2", _rating_rows, _rating_columns, native_split=False),
        FormatSpec("helpsteer2-disagreements", _disagreement_rows, _disagreement_columns, native_split=False),
        FormatSpec("helpsteer2-disagreements-all", _disagreement_all_rows, _disagreement_columns, native_split=False),
        FormatSpec("helpsteer2-preference", _hs2p_rows, _hs2p_columns, native_split=True),
        FormatSpec("helpsteer3", _hs3_rows, _hs3_columns, native_split=False),
        FormatSpec(
            "trl-preference", _trl_rows, _trl_columns(pa.string()), native_split=True, judge_columns=_trl_judge_fields
        ),
        FormatSpec(
            "trl-preference-conversational",
            _trl_conversational_rows,
            _trl_columns(_MESSAGES),
            native_split=True,
            judge_columns=_trl_judge_fields,
        ),
        FormatSpec(
            "regression",
            _regression_rows,
            _regression_columns,
            native_split=False,
            judge_columns=_regression_judge_columns,
        ),
    )
}


def format_columns(batch: ItemBatch, fmt: ExportFormat) -> FormatColumns:
    """The columns a batch of items becomes in a format; kept in the batch, so several writers share them."""
    return batch.shared(f"format:{fmt}", FORMAT_SPECS[fmt].build)


def format_rows(
    item: SnapshotItem, fmt: ExportFormat, attributes: Sequence[str], *, judge: bool = False
) -> list[ExportRow]:
    """The rows one item becomes in a format (handy for tests and previews)."""
    return format_columns(ItemBatch([item], attributes, judge=judge), fmt).to_rows()


def judge_export_columns(attributes: Sequence[str]) -> dict[ExportFormat, list[str]]:
    """The LLM judge's model-made columns of each export format that carries them (a snapshot cut with judge
    drafts), for the dataset card."""
    return {
        name: [f.name for f in spec.judge_columns(attributes)]
        for name, spec in FORMAT_SPECS.items()
        if spec.judge_columns is not None
    }
