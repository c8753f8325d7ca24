"""Reading raw rows out of JSONL, JSON, CSV and Parquet files (optionally gzip-compressed), streaming.

Each reader yields ``(position, row)`` pairs: ``position`` is the 1-based physical line for text formats (JSONL,
CSV) and the 1-based data row for JSON arrays and Parquet; ``row`` is a plain ``dict`` of column -> value.
Every container is read incrementally (JSON arrays one element at a time, Parquet one record batch at a time), and
the data is capped while it streams: in total once decompressed, and per line (element, row), so a small gzip file
that expands to gigabytes is refused after reading at most the cap, in about one line's worth of memory.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from annotator.imports.errors import ImportFormatError, ImportLimitError, LocationUnit

Container = Literal["jsonl", "json", "csv", "parquet"]
Source = str | os.PathLike[str] | IO[bytes]

_EXTENSIONS: dict[str, Container] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
}
_GZIP_MAGIC = b"\x1f\x8b"
_READ_BUFFER = 1 << 20
PARQUET_BATCH_ROWS = 8192


@dataclass(frozen=True, slots=True)
class ContainerKind:
    """How a file is stored: the container and whether it is gzip-compressed."""

    container: Container
    gzip: bool

    @property
    def unit(self) -> LocationUnit:
        """What a position means for this container: a text line or a data row."""
        return "line" if self.container in ("jsonl", "csv") else "row"


def source_name(source: Source) -> str | None:
    """The file name of a path or file object, when it has one."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else None


def detect_container(
    name: str | None, *, container: Container | None = None, compressed: bool | None = None
) -> ContainerKind:
    """Decide the container from the file name's extension, unless given explicitly.

    Parameters
    ----------
    name
        File name, e.g. ``train.jsonl.gz``.
    container, compressed
        Explicit overrides; each one left as None is taken from the name.

    Raises
    ------
    ImportFormatError
        When the name does not tell and no override was given, or for gzip-compressed Parquet.
    """
    lowered = (name or "").lower()
    by_name_gzip = lowered.endswith(".gz")
    if by_name_gzip:
        lowered = lowered[: -len(".gz")]
    if container is None:
        container = next((kind for ext, kind in _EXTENSIONS.items() if lowered.endswith(ext)), None)
        if container is None:
            raise ImportFormatError(
                f"cannot tell the file type from the name {name!r}",
                expected="a name ending in .jsonl, .json, .csv or .parquet (optionally + .gz), or an explicit container",
            )
    is_gzip = by_name_gzip if compressed is None else compressed
    if is_gzip and container == "parquet":
        raise ImportFormatError(
            "gzip-compressed Parquet is not supported", expected="a plain .parquet file (it is compressed inside)"
        )
    return ContainerKind(container, is_gzip)


def source_size(source: Source) -> int | None:
    """Size in bytes of a path or a seekable file object (from its current position), else None."""
    if isinstance(source, (str, os.PathLike)):
        return os.stat(source).st_size
    if source.seekable():
        start = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(start)
        return end - start
    return None


def check_size(source: Source, max_bytes: int | None) -> None:
    """Refuse a file over ``max_bytes`` before reading it (non-seekable streams are limited while read)."""
    if max_bytes is None:
        return
    size = source_size(source)
    if size is not None and size > max_bytes:
        raise ImportLimitError(
            f"the file is {size:,} bytes, over the limit of {max_bytes:,} bytes",
            expected=f"a file of at most {max_bytes:,} bytes",
        )


class _LimitedReader(io.RawIOBase):
    """A raw stream that raises :class:`ImportFormatError` once more than ``limit`` bytes were read.

    Used on the *decompressed* stream, so a small gzip file cannot expand past the limit either.
    """

    def __init__(self, inner: IO[bytes], limit: int | None) -> None:
        self._inner = inner
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise ImportFormatError(f"the gzip data is corrupt ({exc})", expected="a valid gzip file") from exc
        count = len(data)
        self._read += count
        if self._limit is not None and self._read > self._limit:
            raise ImportLimitError(
                f"the data is over the limit of {self._limit:,} bytes (after decompression)",
                expected=f"at most {self._limit:,} bytes",
            )
        buffer[:count] = data
        return count


def _byte_stream(raw: IO[bytes], kind: ContainerKind, max_bytes: int | None) -> io.BufferedReader:
    inner: IO[bytes] = raw
    if kind.gzip:
        inner = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]  # GzipFile is a binary IO
    return io.BufferedReader(_LimitedReader(inner, max_bytes), buffer_size=_READ_BUFFER)


def _utf8_error(unit: LocationUnit, position: int, exc: UnicodeDecodeError) -> ImportFormatError:
    bad = exc.object[exc.start : exc.start + 1].hex()
    return ImportFormatError(
        f"the text is not valid UTF-8 (byte 0x{bad} at offset {exc.start})",
        line=position if unit == "line" else None,
        row=position if unit == "row" else None,
        expected="a UTF-8 encoded file",
    )


def _too_long(what: str, limit: int, *, line: int | None = None, row: int | None = None) -> ImportLimitError:
    return ImportLimitError(
        f"{what} is longer than {limit:,} bytes",
        line=line,
        row=row,
        expected=f"at most {limit:,} bytes per {'line' if row is None else 'element'}",
    )


def _json_value_error(exc: ValueError | RecursionError) -> str:
    """The message for what ``json.loads`` refuses beyond syntax: integers of thousands of digits, deep nesting."""
    if isinstance(exc, RecursionError):
        return "the JSON is nested too deeply"
    return f"a JSON value cannot be read ({exc})"


# Blank lines of a JSONL file (ASCII whitespace only) and empty lines of a CSV file, skipped a run at a time.
_BLANK_LINES = re.compile(rb"[ \t\r\n]*")
_EMPTY_LINES = re.compile(rb"[\r\n]*")
_JSON_SPACE = re.compile(r"[ \t\r\n]*")


class _Lines:
    """The physical lines of a byte stream, each at most ``max_line`` bytes, read a chunk at a time.

    A line longer than the cap is refused as soon as the cap is passed, so memory stays at about one chunk plus one
    line whatever the file holds. Runs of blank lines can be passed over with a regular expression (C speed), so a
    file of millions of empty lines costs what reading it costs.
    """

    def __init__(self, stream: IO[bytes], max_line: int | None) -> None:
        self._stream = stream
        self._max = max_line
        self._buffer = b""
        self._pos = 0
        self.line = 0  # number of the last line returned (1-based)

    def _fill(self) -> bool:
        chunk = self._stream.read(_READ_BUFFER)
        if not chunk:
            return False
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return True

    def next_line(self, skip: re.Pattern[bytes] | None = None) -> bytes | None:
        """The next line with its ``\\n`` (if any), after passing over the run of lines that ``skip`` matches
        from a line start; None at the end of the stream."""
        while True:
            if skip is not None:
                start = self._pos
                end = skip.match(self._buffer, start).end()  # type: ignore[union-attr]  # "*" always matches
                if end > start:
                    # Keep the skipped run's last partial line (its leading spaces) so columns stay right.
                    line_start = self._buffer.rfind(b"\n", start, end) + 1
                    if line_start:
                        self.line += self._buffer.count(b"\n", start, line_start)
                        self._pos = line_start
                    if end == len(self._buffer):
                        if self._max is not None and end - self._pos > self._max:
                            raise _too_long(f"line {self.line + 1}", self._max, line=self.line + 1)
                        if not self._fill():
                            break
                        continue
            newline = self._buffer.find(b"\n", self._pos)
            if newline < 0:
                if self._max is not None and len(self._buffer) - self._pos > self._max:
                    raise _too_long(f"line {self.line + 1}", self._max, line=self.line + 1)
                if self._fill():
                    continue
                break
            if self._max is not None and newline - self._pos > self._max:
                raise _too_long(f"line {self.line + 1}", self._max, line=self.line + 1)
            line = self._buffer[self._pos : newline + 1]
            self._pos = newline + 1
            self.line += 1
            return line
        rest = self._buffer[self._pos :]
        self._buffer, self._pos = b"", 0
        if not rest or (skip is not None and skip.fullmatch(rest)):
            return None
        self.line += 1
        return rest


def iter_jsonl(stream: IO[bytes], max_line_bytes: int | None = None) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(line, object)`` for every non-blank line; each line must be one JSON object of at most
    ``max_line_bytes`` bytes."""
    loads = json.loads
    lines = _Lines(stream, max_line_bytes)
    while (raw := lines.next_line(_BLANK_LINES)) is not None:
        line_number = lines.line
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _utf8_error("line", line_number, exc) from exc
        if line_number == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        try:
            value = loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(
                f"invalid JSON: {exc.msg} at character {exc.colno}",
                line=line_number,
                expected="one JSON object per line",
            ) from exc
        except (ValueError, RecursionError) as exc:
            raise ImportFormatError(
                _json_value_error(exc), line=line_number, expected="one JSON object per line"
            ) from exc
        if type(value) is not dict:
            raise ImportFormatError(
                f"a JSON {type(value).__name__} instead of an object",
                line=line_number,
                expected="one JSON object per line",
            )
        yield line_number, value


class _JsonText:
    """Decoded text of a byte stream, held a window at a time, with the count of lines before the window."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.lines_before = 0
        self.eof = False
        self._first = True

    def more(self) -> bool:
        """Read another chunk onto the window (dropping what was consumed); False at the end of the stream."""
        if self.eof:
            return False
        chunk = self._stream.read(_READ_BUFFER)
        try:
            text = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = self.lines_before + self.text.count("\n") + chunk.count(b"\n", 0, max(exc.start, 0)) + 1
            raise _utf8_error("line", line, exc) from exc
        if self._first:
            text, self._first = text.removeprefix("\ufeff"), not text
        self.lines_before += self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos :] + text
        self.pos = 0
        self.eof = not chunk
        return True

    def skip_space(self) -> str | None:
        """Pass over whitespace; the next character (not consumed), or None at the end of the stream."""
        while True:
            self.pos = _JSON_SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]  # "*" always matches
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return None

    def line_at(self, pos: int) -> int:
        return self.lines_before + self.text.count("\n", 0, pos) + 1

    def column_at(self, pos: int) -> int:
        return pos - (self.text.rfind("\n", 0, pos) + 1) + 1


_ARRAY = "a JSON array of objects"


def iter_json_array(stream: IO[bytes], max_element_bytes: int | None = None) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(row, object)`` for each element of a top-level JSON array, read one element at a time.

    Each element is decoded as soon as it is whole, so memory stays at about one element (at most
    ``max_element_bytes`` characters) however large the array is.
    """
    src = _JsonText(stream)
    decode = json.JSONDecoder().raw_decode

    def unexpected(what: str) -> ImportFormatError:
        return ImportFormatError(
            f"invalid JSON: {what} at character {src.column_at(src.pos)}", line=src.line_at(src.pos), expected=_ARRAY
        )

    first = src.skip_space()
    if first is None:
        return
    if first != "[":
        try:  # say what the top level is when it fits in the window read so far
            kind = type(decode(src.text, src.pos)[0]).__name__
        except (ValueError, RecursionError):
            kind = "non-array value"
        raise ImportFormatError(f"a JSON {kind} at the top level", expected=_ARRAY)
    src.pos += 1
    row_number = 0
    while True:
        char = src.skip_space()
        if char is None:
            raise unexpected("the array is not closed")
        if char == "]" and row_number == 0:
            src.pos += 1
            break
        row_number += 1
        while True:
            try:
                item, end = decode(src.text, src.pos)
                break
            except json.JSONDecodeError as exc:
                # An element cut by the end of the window fails at (or just before) that end, or in a string that
                # never closes; anything else is an error of the file.
                cut = exc.pos >= len(src.text) - 8 or exc.msg.startswith("Unterminated string")
                size = len(src.text) - src.pos
                if cut and max_element_bytes is not None and size > max_element_bytes:
                    raise _too_long(f"element {row_number}", max_element_bytes, row=row_number) from exc
                if cut and src.more():
                    continue
                raise ImportFormatError(
                    f"invalid JSON: {exc.msg} at character {src.column_at(exc.pos)}",
                    line=src.line_at(exc.pos),
                    expected=_ARRAY,
                ) from exc
            except (ValueError, RecursionError) as exc:
                raise ImportFormatError(_json_value_error(exc), row=row_number, expected=_ARRAY) from exc
        if max_element_bytes is not None and end - src.pos > max_element_bytes:
            raise _too_long(f"element {row_number}", max_element_bytes, row=row_number)
        src.pos = end
        if not isinstance(item, dict):
            raise ImportFormatError(
                f"a JSON {type(item).__name__} instead of an object", row=row_number, expected=_ARRAY
            )
        yield row_number, item
        char = src.skip_space()
        if char == ",":
            src.pos += 1
        elif char == "]":
            src.pos += 1
            break
        else:
            raise unexpected("expecting ',' delimiter" if char is not None else "the array is not closed")
    if src.skip_space() is not None:
        raise unexpected("extra data after the array")


class _CsvLines:
    """Text lines for :mod:`csv`, at most ``max_line`` bytes each; runs of empty lines between records are passed
    over at C speed (never inside a quoted cell, where they are data)."""

    def __init__(self, stream: IO[bytes], max_line: int | None) -> None:
        self.lines = _Lines(stream, max_line)
        self.at_record_start = True
        self.record_line = 1  # the line the current record starts on

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        start = self.at_record_start
        raw = self.lines.next_line(_EMPTY_LINES if start else None)
        if raw is None:
            raise StopIteration
        if start:
            self.record_line = self.lines.line
            self.at_record_start = False
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _utf8_error("line", self.lines.line, exc) from exc
        return text.removeprefix("\ufeff") if self.lines.line == 1 else text


def iter_csv(stream: IO[bytes], max_line_bytes: int | None = None) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(line, row)`` for each CSV record after the header row; every cell is a string."""
    lines = _CsvLines(stream, max_line_bytes)
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            return
        lines.at_record_start = True
        for cells in reader:
            lines.at_record_start = True
            start = lines.record_line
            if not cells:
                continue
            if len(cells) != len(header):
                raise ImportFormatError(
                    f"{len(cells)} cells, but the header has {len(header)} columns",
                    line=start,
                    expected=f"{len(header)} comma-separated cells",
                )
            yield start, dict(zip(header, cells, strict=True))
    except csv.Error as exc:
        raise ImportFormatError(f"malformed CSV ({exc})", line=lines.lines.line, expected="RFC 4180 CSV") from exc


# A Parquet record batch is sized to hold about this many uncompressed bytes (by the row groups' average row).
PARQUET_BATCH_BYTES = 16 << 20


def iter_parquet(
    source: Source, max_bytes: int | None = None, max_row_bytes: int | None = None
) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(row, record)`` from a Parquet file, one record batch at a time.

    The footer says how large the data is once decompressed: a file over ``max_bytes`` is refused before any of it
    is decompressed, and batches hold fewer rows when rows are large. A row over ``max_row_bytes`` (by its
    column chunks' uncompressed sizes, when one row fills its row group) is refused the same way.
    """
    try:
        parquet = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ImportFormatError(f"not a readable Parquet file ({exc})", expected="a Parquet file") from exc
    with parquet:
        meta = parquet.metadata
        groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
        total = sum(group.total_byte_size for group in groups)
        if max_bytes is not None and total > max_bytes:
            raise ImportLimitError(
                f"the data is {total:,} bytes once decompressed, over the limit of {max_bytes:,} bytes",
                expected=f"at most {max_bytes:,} bytes",
            )
        widest = max((group.total_byte_size / max(group.num_rows, 1) for group in groups), default=0.0)
        if max_row_bytes is not None and widest > max_row_bytes:
            raise ImportLimitError(
                f"rows are {int(widest):,} bytes each once decompressed, over the limit of {max_row_bytes:,} bytes",
                expected=f"at most {max_row_bytes:,} bytes per row",
            )
        batch_rows = max(1, min(PARQUET_BATCH_ROWS, int(PARQUET_BATCH_BYTES // max(widest, 1.0))))
        row_number = 0
        for batch in parquet.iter_batches(batch_size=batch_rows):
            for record in batch.to_pylist():
                row_number += 1
                yield row_number, record


def iter_rows(
    source: Source, kind: ContainerKind, *, max_bytes: int | None, max_line_bytes: int | None = None
) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield the raw rows of a file of the given kind; opens (and closes) paths itself.

    ``max_bytes`` caps the data once decompressed; ``max_line_bytes`` caps one line (JSONL, CSV), one array
    element (JSON) or one row (Parquet). Both are enforced while streaming, before more is read.
    """
    if kind.container == "parquet":
        yield from iter_parquet(source, max_bytes, max_line_bytes)
        return
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as raw:
            yield from _iter_text(raw, kind, max_bytes, max_line_bytes)
    else:
        yield from _iter_text(source, kind, max_bytes, max_line_bytes)


def _iter_text(
    raw: IO[bytes], kind: ContainerKind, max_bytes: int | None, max_line_bytes: int | None
) -> Iterator[tuple[int, dict[str, object]]]:
    if not kind.gzip and raw.seekable():
        # A gzip file with a plain name (an upload renamed by a browser): recognise it by its magic number.
        start = raw.tell()
        magic = raw.read(2)
        raw.seek(start)
        if magic == _GZIP_MAGIC:
            kind = ContainerKind(kind.container, gzip=True)
    stream = _byte_stream(raw, kind, max_bytes)
    if kind.container == "jsonl":
        yield from iter_jsonl(stream, max_line_bytes)
    elif kind.container == "json":
        yield from iter_json_array(stream, max_line_bytes)
    else:
        yield from iter_csv(stream, max_line_bytes)
