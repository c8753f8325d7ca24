"""Checks on one raw row's fields, each raising :class:`ImportFormatError` that names the place and the column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from annotator.domain import INT64_MAX, SCOPE_MAX_LENGTH, scope_clean
from annotator.imports.errors import ImportFormatError, LocationUnit, error_at
from annotator.imports.records import PREFERENCE_STRENGTH_RANGE, Role, Split

Row = dict[str, object]

_SPLITS: dict[str, Split] = {"train": "train", "validation": "validation", "val": "validation"}
_ROLES: frozenset[str] = frozenset(("system", "user", "assistant"))

# Metadata is kept as JSON and written out again (orjson, Parquet): integers must fit in 64 bits, nesting is bounded.
METADATA_MAX_DEPTH = 32
_INT64_RANGE = (-INT64_MAX - 1, INT64_MAX)

# Column sets that identify each format, used to say "this looks like a helpsteer3 file" when columns are missing.
_SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("helpsteer3", frozenset(("context", "response1", "response2"))),
    ("helpsteer2-preference", frozenset(("preference_statement", "all_preferences_unprocessed"))),
    ("prefstack", frozenset(("prompt", "response_1", "response_2"))),
    ("helpsteer2", frozenset(("prompt", "response", "helpfulness"))),
)


def guess_format(columns: Sequence[str]) -> str | None:
    """The import format whose identifying columns all appear in ``columns``, if any."""
    present = set(columns)
    for name, signature in _SIGNATURES:
        if signature <= present:
            if name == "helpsteer2":
                return None  # cannot tell ratings from disagreements by names alone
            return name
    return None


@dataclass(frozen=True, slots=True)
class FieldReader:
    """Validates fields of raw rows for one file.

    Attributes
    ----------
    unit
        Whether positions are text lines or data rows.
    fmt
        The format being parsed, to name it in messages.
    text_cells
        True for CSV, whose cells are strings: integers are then accepted in their decimal text form.
    scale
        Inclusive range of attribute ratings.
    """

    unit: LocationUnit
    fmt: str
    text_cells: bool
    scale: tuple[int, int]

    def error(
        self, position: int, message: str, *, column: str | None = None, expected: str | None = None
    ) -> ImportFormatError:
        return error_at(self.unit, position, message, column=column, expected=expected)

    def missing(self, position: int, row: Row, column: str) -> ImportFormatError:
        hint = ""
        guessed = guess_format(list(row))
        if guessed is not None and guessed != self.fmt:
            hint = f"; the columns look like a {guessed} file"
        return self.error(
            position,
            f"missing column {column!r} for format {self.fmt}{hint}",
            column=column,
            expected=f"the {self.fmt} columns",
        )

    def get(self, position: int, row: Row, column: str) -> object:
        try:
            return row[column]
        except KeyError:
            raise self.missing(position, row, column) from None

    def string(self, position: int, row: Row, column: str) -> str:
        value = self.get(position, row, column)
        if type(value) is not str:
            raise self.error(position, f"a {_kind(value)} instead of text", column=column, expected="a string")
        return value

    def optional_string(self, position: int, row: Row, column: str) -> str | None:
        value = row.get(column)
        if value is None or (self.text_cells and value == ""):
            return None
        if type(value) is not str:
            raise self.error(position, f"a {_kind(value)} instead of text", column=column, expected="a string")
        return value

    def scope(self, position: int, row: Row, column: str) -> str:
        """A prompt's domain or language: printable text up to ``SCOPE_MAX_LENGTH`` characters, stripped; "" when
        the column is missing or empty."""
        value = scope_clean(self.optional_string(position, row, column))
        if len(value) > SCOPE_MAX_LENGTH or not value.isprintable():
            raise self.error(
                position,
                f"{value[:SCOPE_MAX_LENGTH]!r}... is not a {column} name",
                column=column,
                expected=f"printable text of at most {SCOPE_MAX_LENGTH} characters",
            )
        return value

    def integer(self, position: int, value: object, column: str, low: int, high: int) -> int:
        """An int in ``low..high``; CSV cells may hold it as decimal text."""
        if type(value) is int:
            number = value
        elif self.text_cells and type(value) is str and len(value) < 32 and value.strip().lstrip("+-").isdigit():
            number = int(value)
        else:
            raise self.error(
                position, f"{value!r} is not an integer", column=column, expected=f"an integer {low}..{high}"
            )
        if not low <= number <= high:
            raise self.error(
                position, f"value {number} is out of range", column=column, expected=f"an integer {low}..{high}"
            )
        return number

    def rating(self, position: int, value: object, column: str) -> int:
        return self.integer(position, value, column, *self.scale)

    def strength(self, position: int, value: object, column: str) -> int:
        return self.integer(position, value, column, *PREFERENCE_STRENGTH_RANGE)

    def source_id(self, position: int, value: object) -> str | None:
        """The source's identifier as text (a number is kept as its decimal text); its length is checked with the
        other field limits (:func:`annotator.imports.checks.check_record`)."""
        if value is None:
            return None
        return value if type(value) is str else str(value)

    def metadata(self, position: int, value: object) -> dict[str, object]:
        """A JSON object whose integers fit in 64 bits, nested at most ``METADATA_MAX_DEPTH`` levels; empty: {}."""
        if not value:
            return {}
        if not isinstance(value, dict):
            raise self.error(position, "metadata is not an object", column="metadata", expected="a JSON object")
        problem = _json_problem(value, METADATA_MAX_DEPTH)
        if problem is not None:
            raise self.error(
                position,
                f"metadata {problem}",
                column="metadata",
                expected=f"a JSON object with 64-bit integers, nested at most {METADATA_MAX_DEPTH} levels",
            )
        return value

    def split(self, position: int, value: object, column: str = "split") -> Split:
        if type(value) is str and value in _SPLITS:
            return _SPLITS[value]
        raise self.error(position, f"unknown split {value!r}", column=column, expected='"train", "validation" or "val"')

    def items(self, position: int, row: Row, column: str) -> list[dict[str, object]]:
        """A list of JSON objects (e.g. ``individual_preference``)."""
        value = self.get(position, row, column)
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(
                position, f"a {_kind(value)} instead of a list of objects", column=column, expected="a list of objects"
            )
        return value

    def role(self, position: int, value: object, column: str) -> Role:
        if type(value) is str and value in _ROLES:
            return value  # type: ignore[return-value]  # narrowed by the membership test
        raise self.error(position, f"unknown role {value!r}", column=column, expected='"user", "assistant" or "system"')


def _json_problem(value: object, max_depth: int) -> str | None:
    """What makes ``value`` unfit to store as JSON, if anything (walked without recursion)."""
    low, high = _INT64_RANGE
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                return f"is nested more than {max_depth} levels deep"
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
        elif type(item) is int and not low <= item <= high:
            return f"holds an integer that does not fit in 64 bits ({str(item)[:24]}...)"
    return None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
