"""The one error every parser raises: :class:`ImportFormatError`."""

from __future__ import annotations

from typing import Literal

from annotator.error_codes import ErrorCode

LocationUnit = Literal["line", "row"]


class ImportFormatError(ValueError):
    """A file that cannot be imported, with where and why.

    Parameters
    ----------
    message
        What is wrong, in plain words ("missing column 'prompt'").
    line
        1-based physical line of a text file (JSONL, CSV), when known.
    row
        1-based data row of a JSON array or a Parquet file, when known.
    column
        The column (field) at fault, when there is one.
    expected
        What the parser expected there ("an integer 0..4").

    Notes
    -----
    ``str(error)`` gives the full sentence a person reads, e.g.
    ``line 7, column 'helpfulness': value 5 is out of range (expected an integer 0..4)``.
    :meth:`as_dict` gives the same facts for an API error's ``extra``.
    """

    code = ErrorCode.IMPORT_FORMAT_ERROR

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.row = row
        self.column = column
        self.expected = expected
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        where: list[str] = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = self.message if not where else f"{', '.join(where)}: {self.message}"
        if self.expected is not None:
            text += f" (expected {self.expected})"
        return text

    def as_dict(self) -> dict[str, str | int | None]:
        """The error's facts as a JSON-ready mapping (``message`` is the full sentence)."""
        return {
            "message": str(self),
            "line": self.line,
            "row": self.row,
            "column": self.column,
            "expected": self.expected,
        }


class ImportLimitError(ImportFormatError):
    """A file over a size cap (in total once decompressed, or one line, element or row): reading stopped there, and
    reading it again to list more errors would only repeat the work."""


def error_at(
    unit: LocationUnit,
    position: int | None,
    message: str,
    *,
    column: str | None = None,
    expected: str | None = None,
) -> ImportFormatError:
    """Build an :class:`ImportFormatError` located by a line or a row number."""
    if unit == "line":
        return ImportFormatError(message, line=position, column=column, expected=expected)
    return ImportFormatError(message, row=position, column=column, expected=expected)
