"""The entry point: :func:`parse_file` reads any supported file into :class:`ComparisonRecord` s."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Literal, get_args

from annotator.imports.checks import DEFAULT_FIELD_LIMITS, FieldLimits, checked_records
from annotator.imports.containers import Container, Source, check_size, detect_container, iter_rows, source_name
from annotator.imports.errors import ImportFormatError
from annotator.imports.fields import FieldReader, Row
from annotator.imports.helpsteer2 import parse_helpsteer2
from annotator.imports.helpsteer2_preference import parse_helpsteer2_preference
from annotator.imports.helpsteer3 import parse_helpsteer3
from annotator.imports.prefstack import parse_prefstack
from annotator.imports.records import DEFAULT_SCALE, HELPSTEER2_ATTRIBUTES, ComparisonRecord, Split

ImportFormat = Literal["helpsteer2", "helpsteer2-disagreements", "helpsteer2-preference", "helpsteer3", "prefstack"]
IMPORT_FORMATS: tuple[ImportFormat, ...] = get_args(ImportFormat)

DEFAULT_MAX_BYTES = 1 << 30
"""1 GiB: HelpSteer2's largest file is ~0.1 GiB uncompressed."""

DEFAULT_MAX_LINE_BYTES = 8 << 20
"""8 MiB per line (JSONL, CSV), array element (JSON) or row (Parquet): room for the largest comparison the default
:class:`FieldLimits` allow, even with every character written as a JSON ``\\uXXXX`` escape."""

_FLAT_FORMATS: frozenset[str] = frozenset(("helpsteer2", "prefstack"))


def parse_file(
    source: Source,
    fmt: ImportFormat,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_line_bytes: int | None = DEFAULT_MAX_LINE_BYTES,
    limits: FieldLimits = DEFAULT_FIELD_LIMITS,
    attributes: Sequence[str] = HELPSTEER2_ATTRIBUTES,
    scale: tuple[int, int] = DEFAULT_SCALE,
    split: Split | None = None,
    container: Container | None = None,
    compressed: bool | None = None,
) -> Iterator[ComparisonRecord]:
    """Read a file of comparisons, streaming, validating every field.

    Parameters
    ----------
    source
        A path, or a binary file object (e.g. an uploaded file); file objects are read from their current position
        and are not closed.
    fmt
        The import format (see ``docs/formats.md``).
    max_bytes
        Refuse files larger than this many bytes, counted both on disk and after gzip decompression (while
        streaming, so a decompression bomb stops at the limit); None for no limit.
    max_line_bytes
        Refuse a line (JSONL, CSV), array element (JSON) or row (Parquet) longer than this, as soon as it is;
        None for no limit.
    limits
        Longest text accepted per field (prompt, response, justification, metadata). Every record is also checked
        for text no database can store (NUL characters, lone surrogates: :func:`annotator.text.text_problem`).
    attributes
        The project's attribute names: the rating columns of HelpSteer2 files, the allowed keys of prefstack ratings.
    scale
        Inclusive ``(low, high)`` range of attribute ratings; preference strengths are always -3..3.
    split
        Split given to comparisons whose file does not say ("train" or "validation"); HelpSteer2 ratings,
        disagreements and HelpSteer3 ship one file per split.
    container, compressed
        Override the container and gzip detection, which otherwise go by the file name (``.jsonl``, ``.json``,
        ``.csv``, ``.parquet``, each optionally ``.gz``) and, for gzip, the file's first bytes.

    Returns
    -------
    Iterator of ComparisonRecord
        Lazily parsed, in file order. Checks of the name and size happen at the call; every other
        :class:`ImportFormatError` is raised while iterating, so consume the iterator inside the import's
        transaction.

    Raises
    ------
    ImportFormatError
        For anything that makes the file unreadable in the given format, naming the line or row, column and
        expectation; an empty file (no data rows) is an error too.
    """
    fields, rows = _open(source, fmt, max_bytes, max_line_bytes, scale, container, compressed)
    return checked_records(_dispatch(rows, fields, fmt, tuple(attributes), split), fields.unit, limits)


def _open(
    source: Source,
    fmt: ImportFormat,
    max_bytes: int | None,
    max_line_bytes: int | None,
    scale: tuple[int, int],
    container: Container | None,
    compressed: bool | None,
) -> tuple[FieldReader, Iterator[tuple[int, Row]]]:
    """Check what can be checked before reading (format, container, size); the field reader and the raw rows."""
    if fmt not in IMPORT_FORMATS:
        raise ImportFormatError(f"unknown import format {fmt!r}", expected=f"one of {', '.join(IMPORT_FORMATS)}")
    low, high = scale
    if low > high:
        raise ValueError(f"scale {scale} is empty")
    kind = detect_container(source_name(source), container=container, compressed=compressed)
    if kind.container == "csv" and fmt not in _FLAT_FORMATS:
        raise ImportFormatError(
            f"the {fmt} format has nested columns, which CSV cannot hold",
            expected="JSONL, JSON or Parquet (CSV only for helpsteer2 and prefstack)",
        )
    check_size(source, max_bytes)
    fields = FieldReader(unit=kind.unit, fmt=fmt, text_cells=kind.container == "csv", scale=(low, high))
    return fields, _non_empty(iter_rows(source, kind, max_bytes=max_bytes, max_line_bytes=max_line_bytes))


def find_format_errors(
    source: Source,
    fmt: ImportFormat,
    *,
    limit: int = 20,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_line_bytes: int | None = DEFAULT_MAX_LINE_BYTES,
    limits: FieldLimits = DEFAULT_FIELD_LIMITS,
    attributes: Sequence[str] = HELPSTEER2_ATTRIBUTES,
    scale: tuple[int, int] = DEFAULT_SCALE,
    split: Split | None = None,
    container: Container | None = None,
    compressed: bool | None = None,
) -> list[ImportFormatError]:
    """Read a whole file as :func:`parse_file` does and return its first ``limit`` errors instead of the first one.

    After a bad row the check goes on with the next comparison: in the HelpSteer2 files, whose comparisons are
    pairs of rows, the bad row's partner is passed over with it, so one bad row is reported once. A file that cannot
    be read further (broken JSON, a truncated gzip stream) ends the check at that error. An empty list means
    :func:`parse_file` would read the file without error.
    """
    try:
        fields, raw_rows = _open(source, fmt, max_bytes, max_line_bytes, scale, container, compressed)
    except ImportFormatError as error:
        return [error]
    rows = _Remembering(raw_rows)
    paired = fmt in ("helpsteer2", "helpsteer2-disagreements")
    errors: list[ImportFormatError] = []
    while len(errors) < limit:
        try:
            for _ in checked_records(_dispatch(rows, fields, fmt, tuple(attributes), split), fields.unit, limits):
                pass
            break
        except ImportFormatError as error:
            errors.append(error)
            if rows.finished:
                break
            if paired and rows.last is not None:
                try:
                    rows.skip_while_prompt(rows.last.get("prompt"))
                except ImportFormatError as unreadable:
                    errors.append(unreadable)
                    break
    return errors


class _Remembering:
    """An iterator of rows that remembers the last row it gave and whether its source ended (or failed)."""

    def __init__(self, rows: Iterator[tuple[int, Row]]) -> None:
        self._rows = rows
        self._ahead: tuple[int, Row] | None = None
        self.last: Row | None = None
        self.finished = False

    def __iter__(self) -> _Remembering:
        return self

    def __next__(self) -> tuple[int, Row]:
        if self._ahead is not None:
            item, self._ahead = self._ahead, None
        else:
            try:
                item = next(self._rows)
            except StopIteration:
                self.finished = True
                raise
            except ImportFormatError:  # the reader itself cannot go on
                self.finished = True
                raise
        self.last = item[1]
        return item

    def skip_while_prompt(self, prompt: object) -> None:
        """Pass over the rows that follow while they have this prompt (the rest of a bad row's pair)."""
        try:
            for item in self._rows:
                if item[1].get("prompt") != prompt:
                    self._ahead = item
                    return
        finally:
            self.finished = self._ahead is None


def _dispatch(
    rows: Iterator[tuple[int, Row]],
    fields: FieldReader,
    fmt: ImportFormat,
    attributes: tuple[str, ...],
    split: Split | None,
) -> Iterator[ComparisonRecord]:
    if fmt == "helpsteer2":
        return parse_helpsteer2(rows, fields, attributes=attributes, split=split)
    if fmt == "helpsteer2-disagreements":
        return parse_helpsteer2(rows, fields, attributes=attributes, split=split, disagreements=True)
    if fmt == "helpsteer2-preference":
        return parse_helpsteer2_preference(rows, fields)
    if fmt == "helpsteer3":
        return parse_helpsteer3(rows, fields, split=split)
    return _with_default_split(parse_prefstack(rows, fields, attributes=attributes), split)


def _non_empty(rows: Iterator[tuple[int, Row]]) -> Iterator[tuple[int, Row]]:
    empty = True
    for item in rows:
        empty = False
        yield item
    if empty:
        raise ImportFormatError("the file is empty: it has no data rows", expected="at least one comparison")


def _with_default_split(records: Iterator[ComparisonRecord], split: Split | None) -> Iterator[ComparisonRecord]:
    for record in records:
        yield record if record.split is not None or split is None else replace(record, split=split)
