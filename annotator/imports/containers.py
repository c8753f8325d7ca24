"""Reading raw rows out of JSONL, JSON, CSV and Parquet files (optionally gzip-compressed), streaming.

Each reader yields ``(position, row)`` pairs: ``position`` is the 1-based physical line for text formats (JSONL,
CSV) and the 1-based data row for JSON arrays and Parquet; ``row`` is a plain ``dict`` of column -> value.
JSONL, CSV and Parquet are read incrementally (Parquet one record batch at a time); a JSON array has to be read
whole, so prefer JSONL for large files.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from annotator.imports.errors import ImportFormatError, LocationUnit

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
        raise ImportFormatError(
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
            raise ImportFormatError(
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


def _invalid_json(exc: ValueError | RecursionError) -> str:
    """The message for a failed ``json.loads``: beside JSONDecodeError, an integer past Python's 4,300-digit
    conversion limit raises a plain ValueError, and nesting past the interpreter's stack a RecursionError."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} at character {exc.colno}"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply"
    return f"invalid JSON: {str(exc).split(';')[0]}"


def iter_jsonl(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(line, object)`` for every non-blank line; each line must be one JSON object."""
    loads = json.loads
    for line_number, raw in enumerate(stream, 1):
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
        except (ValueError, RecursionError) as exc:
            raise ImportFormatError(
                _invalid_json(exc),
                line=line_number,
                expected="one JSON object per line",
            ) from exc
        if type(value) is not dict:
            raise ImportFormatError(
                f"a JSON {type(value).__name__} instead of an object",
                line=line_number,
                expected="one JSON object per line",
            )
        yield line_number, value


def iter_json_array(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(row, object)`` for each element of a top-level JSON array (the file is read whole)."""
    data = stream.read()
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _utf8_error("line", line, exc) from exc
    if not text.strip():
        return
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        at = exc.lineno if isinstance(exc, json.JSONDecodeError) else None
        raise ImportFormatError(_invalid_json(exc), line=at, expected="a JSON array of objects") from exc
    if not isinstance(value, list):
        raise ImportFormatError(f"a JSON {type(value).__name__} at the top level", expected="a JSON array of objects")
    for row_number, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise ImportFormatError(
                f"a JSON {type(item).__name__} instead of an object", row=row_number, expected="a JSON array of objects"
            )
        yield row_number, item


def iter_csv(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(line, row)`` for each CSV record after the header row; every cell is a string."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    line_number = 0
    try:
        header = next(reader, None)
        if header is None:
            return
        line_number = reader.line_num
        for cells in reader:
            start = line_number + 1
            line_number = reader.line_num
            if not cells:
                continue
            if len(cells) != len(header):
                raise ImportFormatError(
                    f"{len(cells)} cells, but the header has {len(header)} columns",
                    line=start,
                    expected=f"{len(header)} comma-separated cells",
                )
            yield start, dict(zip(header, cells, strict=True))
    except UnicodeDecodeError as exc:
        raise _utf8_error("line", line_number + 1, exc) from exc
    except csv.Error as exc:
        raise ImportFormatError(f"malformed CSV ({exc})", line=line_number + 1, expected="RFC 4180 CSV") from exc


def iter_parquet(source: Source) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(row, record)`` from a Parquet file, one record batch at a time."""
    try:
        parquet = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ImportFormatError(f"not a readable Parquet file ({exc})", expected="a Parquet file") from exc
    row_number = 0
    with parquet:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for record in batch.to_pylist():
                row_number += 1
                yield row_number, record


def iter_rows(source: Source, kind: ContainerKind, *, max_bytes: int | None) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield the raw rows of a file of the given kind; opens (and closes) paths itself."""
    if kind.container == "parquet":
        yield from iter_parquet(source)
        return
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as raw:
            yield from _iter_text(raw, kind, max_bytes)
    else:
        yield from _iter_text(source, kind, max_bytes)


def _iter_text(raw: IO[bytes], kind: ContainerKind, max_bytes: int | None) -> Iterator[tuple[int, dict[str, object]]]:
    if not kind.gzip and raw.seekable():
        # A gzip file with a plain name (an upload renamed by a browser): recognise it by its magic number.
        start = raw.tell()
        magic = raw.read(2)
        raw.seek(start)
        if magic == _GZIP_MAGIC:
            kind = ContainerKind(kind.container, gzip=True)
    stream = _byte_stream(raw, kind, max_bytes)
    if kind.container == "jsonl":
        yield from iter_jsonl(stream)
    elif kind.container == "json":
        yield from iter_json_array(stream)
    else:
        yield from iter_csv(stream)
