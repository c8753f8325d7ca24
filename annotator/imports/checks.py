"""Checks every parsed comparison passes before it may be stored: the one text rule and per-field length limits.

They run on :class:`ComparisonRecord` s, after the format's parser, so every format gets the same checks, and each
failure is an :class:`ImportFormatError` naming the line or row and the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from annotator.imports.errors import ImportFormatError, LocationUnit, error_at
from annotator.imports.records import ComparisonRecord
from annotator.text import all_storable, first_text_problem

SOURCE_ID_MAX_CHARS = 200
"""The database column's length (``Comparison.source_id``)."""


@dataclass(frozen=True, slots=True)
class FieldLimits:
    """Longest text accepted per field, in characters; None for no limit.

    Attributes
    ----------
    prompt
        All turns of the prompt together.
    response
        Each response.
    justification
        Each justification (the source's and every annotator's).
    metadata
        The metadata object, as compact JSON (which must also fit what the database stores: integers within
        64 bits).
    """

    prompt: int | None = 200_000
    response: int | None = 100_000
    justification: int | None = 20_000
    metadata: int | None = 100_000


DEFAULT_FIELD_LIMITS = FieldLimits()


def checked_records(
    records: Iterator[ComparisonRecord], unit: LocationUnit, limits: FieldLimits
) -> Iterator[ComparisonRecord]:
    """``records``, each one checked by :func:`check_record` before it is passed on."""
    for record in records:
        check_record(record, unit, limits)
        yield record


def check_record(record: ComparisonRecord, unit: LocationUnit, limits: FieldLimits) -> None:
    """Raise :class:`ImportFormatError` for text that cannot be stored (NUL, lone surrogates) or is over a limit."""

    def refuse(column: str, message: str, expected: str) -> ImportFormatError:
        return error_at(unit, record.line, message, column=column, expected=expected)

    labels = record.source_labels
    justification = labels.justification if labels is not None and labels.justification else ""
    texts = [turn.content for turn in record.turns]
    prompt_chars = sum(map(len, texts))
    texts += (record.response_1, record.response_2, record.source_id or "", justification)
    texts.extend(a.justification for a in record.annotations)
    # One C-speed pass over the plain strings; the walk that names the field runs only when something is found.
    if not all_storable(texts) or (record.metadata and first_text_problem(record.metadata) is not None):
        fields: dict[str, object] = {
            "prompt": [turn.content for turn in record.turns],
            "response_1": record.response_1,
            "response_2": record.response_2,
            "source_id": record.source_id or "",
            "justification": justification,
            "annotations": [a.justification for a in record.annotations],
            "metadata": dict(record.metadata),
        }
        for column, value in fields.items():
            found = first_text_problem(value, column)
            if found is not None:
                where, problem = found
                raise refuse(where, f"the text {problem}", "text without NUL characters or lone surrogates")

    metadata_json = ""
    if record.metadata:
        # What the database layer writes (``annotator.bulk`` uses orjson): integers beyond 64 bits cannot be.
        try:
            metadata_json = orjson.dumps(dict(record.metadata)).decode()
        except orjson.JSONEncodeError as exc:
            raise refuse("metadata", f"the metadata cannot be stored as JSON ({exc})", "a JSON object") from exc

    def over(column: str, length: int, limit: int | None) -> None:
        if limit is not None and length > limit:
            raise refuse(column, f"{length:,} characters, over the limit of {limit:,}", f"at most {limit:,} characters")

    over("prompt", prompt_chars, limits.prompt)
    over("response_1", len(record.response_1), limits.response)
    over("response_2", len(record.response_2), limits.response)
    over("source_id", len(record.source_id or ""), SOURCE_ID_MAX_CHARS)
    over("justification", len(justification), limits.justification)
    for annotation in record.annotations:
        column = f"annotations[{annotation.annotator_index}].justification"
        over(column, len(annotation.justification), limits.justification)
    if record.metadata and limits.metadata is not None:
        over("metadata", len(metadata_json), limits.metadata)
