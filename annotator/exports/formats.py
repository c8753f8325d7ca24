"""Export formats: how one :class:`SnapshotItem` becomes rows, and each format's explicit Arrow schema.

Columns follow reference/helpsteer2-spec.md §1 (HelpSteer2, disagreements, HelpSteer2-Preference), §6.2
(HelpSteer3) and TRL's documented preference format (explicit prompt; ``margin`` is TRL's optional per-pair column).
What each format leaves out, by design:

* ``helpsteer2`` / ``regression``: comparisons without any aggregated rating; a missing single rating is null.
  ``regression`` is HelpSteer2's layout with the comparison ``id`` first, so a trainer can pair its two rows.
* ``helpsteer2-disagreements``: comparisons without any individual rating; an annotator who rated only some
  attributes of a response contributes null in the others, so every list of a row has the same length.
* ``helpsteer2-preference`` / ``helpsteer3``: comparisons without an aggregated preference strength.
* ``trl-preference`` / ``trl-preference-conversational``: also ties (strength 0): they name no chosen response;
  ``margin`` = |strength| for TRL's margin loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import pyarrow as pa

from annotator.exports.items import SnapshotItem, split_justification
from annotator.imports.records import NOT_RATABLE_STRENGTH, Split, Turn
from annotator.imports.turns import render_helpsteer2_prompt

ExportFormat = Literal[
    "helpsteer2",
    "helpsteer2-disagreements",
    "helpsteer2-preference",
    "helpsteer3",
    "trl-preference",
    "trl-preference-conversational",
    "regression",
]
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)

ExportRow = dict[str, object]
RowBuilder = Callable[[SnapshotItem, Sequence[str]], Iterator[ExportRow]]

_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
_MESSAGES = pa.list_(_MESSAGE)
_HS2P_SPLIT: dict[Split, str] = {"train": "train", "validation": "val"}


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One export format.

    Attributes
    ----------
    name
        The format's name (also its folder and dataset-card config name).
    rows
        Yields the rows of one item (0, 1 or 2).
    columns
        Builds the Arrow fields for the given attribute names.
    native_split
        True when the format has its own ``split`` column; others get one appended when splits share a file.
    """

    name: ExportFormat
    rows: RowBuilder
    columns: Callable[[Sequence[str]], list[pa.Field]]
    native_split: bool

    def schema(self, attributes: Sequence[str], *, split_column: bool) -> pa.Schema:
        """The explicit Arrow schema; ``split_column`` appends ``split`` to formats without one."""
        fields = self.columns(attributes)
        if split_column and not self.native_split:
            fields = [*fields, pa.field("split", pa.string())]
        return pa.schema(fields)


def _messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    return [{"role": turn.role, "content": turn.content} for turn in turns]


def _has_ratings(item: SnapshotItem, attributes: Sequence[str]) -> bool:
    return any(item.ratings_1.get(name) is not None or item.ratings_2.get(name) is not None for name in attributes)


# --- helpsteer2 ratings and regression: two rows per comparison -----------------------------------------------


def _rating_rows(item: SnapshotItem, attributes: Sequence[str]) -> Iterator[ExportRow]:
    if not _has_ratings(item, attributes):
        return
    prompt = render_helpsteer2_prompt(item.turns)
    for response, ratings in ((item.response_1, item.ratings_1), (item.response_2, item.ratings_2)):
        row: ExportRow = {"prompt": prompt, "response": response}
        for name in attributes:
            row[name] = ratings.get(name)
        yield row


def _rating_columns(attributes: Sequence[str]) -> list[pa.Field]:
    return [
        pa.field("prompt", pa.string()),
        pa.field("response", pa.string()),
        *(pa.field(name, pa.int32()) for name in attributes),
    ]


def _regression_rows(item: SnapshotItem, attributes: Sequence[str]) -> Iterator[ExportRow]:
    for row in _rating_rows(item, attributes):
        yield {"id": item.comparison_id, **row}


def _regression_columns(attributes: Sequence[str]) -> list[pa.Field]:
    return [pa.field("id", pa.string()), *_rating_columns(attributes)]


# --- helpsteer2 disagreements ----------------------------------------------------------------------------------


def _disagreement_rows(item: SnapshotItem, attributes: Sequence[str]) -> Iterator[ExportRow]:
    per_response = []
    for response, side in ((item.response_1, 1), (item.response_2, 2)):
        raters = [a.ratings_1 if side == 1 else a.ratings_2 for a in item.annotations]
        raters = [ratings for ratings in raters if any(ratings.get(name) is not None for name in attributes)]
        per_response.append((response, raters))
    if not any(raters for _, raters in per_response):
        return
    prompt = render_helpsteer2_prompt(item.turns)
    for response, raters in per_response:
        row: ExportRow = {"prompt": prompt, "response": response}
        for name in attributes:
            row[name] = [ratings.get(name) for ratings in raters]
        yield row


def _disagreement_columns(attributes: Sequence[str]) -> list[pa.Field]:
    return [
        pa.field("prompt", pa.string()),
        pa.field("response", pa.string()),
        *(pa.field(name, pa.list_(pa.int32())) for name in attributes),
    ]


# --- helpsteer2-preference -------------------------------------------------------------------------------------


def _hs2p_rows(item: SnapshotItem, attributes: Sequence[str]) -> Iterator[ExportRow]:
    if item.preference_strength is None:
        return
    statement, elaboration = split_justification(item.justification or "")
    yield {
        "split": _HS2P_SPLIT[item.split],
        "prompt": render_helpsteer2_prompt(item.turns),
        "response_1": item.response_1,
        "response_2": item.response_2,
        "preference_strength": item.preference_strength,
        "preference_statement": statement,
        "preference_elaboration": elaboration,
        "three_most_similar_preferences": [
            {"statement": kept.statement, "elaboration": kept.elaboration, "strength": kept.strength}
            for kept in item.kept_preferences
        ],
        "all_preferences_unprocessed": [
            {
                "strength": NOT_RATABLE_STRENGTH if a.not_ratable else a.preference_strength,
                "justification": a.justification,
            }
            for a in item.annotations
            if a.not_ratable or a.preference_strength is not None
        ],
    }


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


def _hs3_rows(item: SnapshotItem, attributes: Sequence[str]) -> Iterator[ExportRow]:
    if item.preference_strength is None:
        return
    yield {
        "domain": item.domain,
        "language": item.language,
        "context": _messages(item.turns),
        "response1": item.response_1,
        "response2": item.response_2,
        "overall_preference": item.preference_strength,
        "individual_preference": [
            {"score": a.preference_strength, "reasoning": a.justification}
            for a in item.annotations
            if a.preference_strength is not None
        ],
    }


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


def _chosen_rejected(item: SnapshotItem) -> tuple[str, str, float] | None:
    strength = item.preference_strength
    if strength is None or strength == 0:
        return None
    if strength < 0:
        return item.response_1, item.response_2, float(-strength)
    return item.response_2, item.response_1, float(strength)


def _trl_rows(item: SnapshotItem, attributes: Sequence[str]) -> Iterator[ExportRow]:
    pair = _chosen_rejected(item)
    if pair is None:
        return
    chosen, rejected, margin = pair
    yield {
        "id": item.comparison_id,
        "split": item.split,
        "prompt": render_helpsteer2_prompt(item.turns),
        "chosen": chosen,
        "rejected": rejected,
        "margin": margin,
    }


def _trl_conversational_rows(item: SnapshotItem, attributes: Sequence[str]) -> Iterator[ExportRow]:
    pair = _chosen_rejected(item)
    if pair is None:
        return
    chosen, rejected, margin = pair
    yield {
        "id": item.comparison_id,
        "split": item.split,
        "prompt": _messages(item.turns),
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "margin": margin,
    }


def _trl_columns(text: pa.DataType) -> Callable[[Sequence[str]], list[pa.Field]]:
    def columns(attributes: Sequence[str]) -> list[pa.Field]:
        return [
            pa.field("id", pa.string()),
            pa.field("split", pa.string()),
            pa.field("prompt", text),
            pa.field("chosen", text),
            pa.field("rejected", text),
            pa.field("margin", pa.float64()),
        ]

    return columns


FORMAT_SPECS: dict[ExportFormat, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec("helpsteer2", _rating_rows, _rating_columns, native_split=False),
        FormatSpec("helpsteer2-disagreements", _disagreement_rows, _disagreement_columns, native_split=False),
        FormatSpec("helpsteer2-preference", _hs2p_rows, _hs2p_columns, native_split=True),
        FormatSpec("helpsteer3", _hs3_rows, _hs3_columns, native_split=False),
        FormatSpec("trl-preference", _trl_rows, _trl_columns(pa.string()), native_split=True),
        FormatSpec(
            "trl-preference-conversational", _trl_conversational_rows, _trl_columns(_MESSAGES), native_split=True
        ),
        FormatSpec("regression", _regression_rows, _regression_columns, native_split=False),
    )
}


def format_rows(item: SnapshotItem, fmt: ExportFormat, attributes: Sequence[str]) -> list[ExportRow]:
    """The rows one item becomes in a format (handy for tests and previews)."""
    return list(FORMAT_SPECS[fmt].rows(item, attributes))
