"""Streaming file writers: JSONL (optionally gzip) and Parquet in row groups. They take rows a batch of columns at
a time (see :class:`~annotator.exports.formats.FormatColumns`). Memory stays flat: a Parquet sink holds at most one
row group plus one batch of rows, as references to the items' strings until it hands them to Arrow.

JSON lines are written by orjson: UTF-8, non-ASCII characters as they are, no white space between tokens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gzip
import hashlib
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from io import BufferedIOBase
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from annotator.exports.formats import Columns

# Rows per Parquet row group, and items read at a time from a canonical file: 5,000 holds a batch in ~30 MB.
DEFAULT_ROW_GROUP_SIZE = 5_000
# gzip level 1: ~7x faster than the default 6 on JSON text, files ~1/3 larger. The gzip header carries no file name
# and no time stamp, so the same rows give the same bytes.
GZIP_LEVEL = 1
ParquetCompression = Literal["zstd", "snappy", "lz4", "gzip", "brotli", "none"]
DEFAULT_PARQUET_COMPRESSION: ParquetCompression = "zstd"
_HASH_CHUNK = 1 << 20


def _malloc_trim() -> Callable[[], object] | None:
    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    trim = getattr(library, "malloc_trim", None)  # glibc only
    return None if trim is None else partial(trim, 0)


_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc ``malloc_trim``; elsewhere nothing).

    A batch of a streaming export frees tens of MB of NumPy, pandas and Python buffers; glibc keeps most of that in
    its heap, so without this the process's resident size creeps up for the first batches of a long export and a
    100,000-comparison export ends 30 MB above a 10,000 one (benchmarks/export_snapshot.py). A call costs ~1 ms.
    """
    if _TRIM is not None:
        _TRIM()


class BackgroundWriter:
    """Runs file writes on one worker thread, in the order they are submitted, while the caller builds the next
    columns. Compression (zstd, zlib) and I/O release the GIL, so on two cores they overlap the Python work.

    At most ``max_pending`` writes wait at a time (each holds one row group or one batch of lines), so memory stays
    bounded; an error in a write is raised by the next :meth:`submit` or by :meth:`close`.
    """

    def __init__(self, max_pending: int = 1) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-writer")
        self._pending: deque[Future[object]] = deque()
        self._max_pending = max_pending

    def submit(self, job: Callable[[], object]) -> None:
        """Queue ``job``; blocks while ``max_pending`` jobs are waiting."""
        while len(self._pending) >= self._max_pending:
            self._pending.popleft().result()
        self._pending.append(self._executor.submit(job))

    def close(self) -> None:
        """Wait for every queued job (raising the first error) and stop the thread."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._executor.shutdown(wait=True, cancel_futures=True)


def _run(background: BackgroundWriter | None, job: Callable[[], object]) -> None:
    if background is None:
        job()
    else:
        background.submit(job)


class Sink(Protocol):
    """Something rows are written to, a batch of columns at a time."""

    rows: int

    def write(self, columns: Columns, rows: int) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """Writes one JSON object per line, keys in column order; gzip output is byte-for-byte reproducible."""

    def __init__(self, path: Path, *, compress: bool, background: BackgroundWriter | None = None) -> None:
        self.rows = 0
        self._background = background
        self._raw = open(path, "wb")  # noqa: SIM115  # closed in close(); the sink outlives this call
        self._out: BufferedIOBase = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=GZIP_LEVEL)
            if compress
            else self._raw
        )

    def write(self, columns: Columns, rows: int) -> None:
        if not rows:
            return
        names = list(columns)
        dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        lines = [
            dumps(dict(zip(names, values, strict=True)), option=option)
            for values in zip(*columns.values(), strict=False)
        ]
        _run(self._background, partial(self._out.write, b"".join(lines)))
        self.rows += rows

    def close(self) -> None:
        _run(self._background, self._close)

    def _close(self) -> None:
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()


class _RowGroupedParquet:
    """What both Parquet sinks share: the writer settings, exact row groups, and the hand-over to the writer."""

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        *,
        row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        compression: ParquetCompression = DEFAULT_PARQUET_COMPRESSION,
        background: BackgroundWriter | None = None,
    ) -> None:
        if row_group_size < 1:
            raise ValueError("row_group_size must be positive")
        self.rows = 0
        self.row_groups = 0
        self._background = background
        self._schema = schema
        self._row_group_size = row_group_size
        self._buffered = 0
        self._writer = pq.ParquetWriter(
            path, schema, compression=compression, use_dictionary=_dictionary_columns(schema)
        )

    def _buffer_rows(self, rows: int) -> None:
        self.rows += rows
        self._buffered += rows
        if self._buffered >= self._row_group_size:
            self._flush(self._buffered - self._buffered % self._row_group_size)

    def _take(self, rows: int) -> pa.Table:
        """Remove and return the first ``rows`` buffered rows."""
        raise NotImplementedError

    def _flush(self, rows: int) -> None:
        """Hand the first ``rows`` buffered rows (a whole number of row groups, or the rest) to Parquet."""
        table = self._take(rows)
        self._buffered -= rows
        _run(self._background, partial(self._writer.write_table, table, row_group_size=self._row_group_size))
        self.row_groups += -(-rows // self._row_group_size)

    def close(self) -> None:
        if self._buffered:
            self._flush(self._buffered)
        _run(self._background, self._writer.close)


class ParquetSink(_RowGroupedParquet):
    """Writes rows to Parquet with an explicit schema, in row groups of exactly ``row_group_size`` rows (the last
    one may be shorter).

    Long text columns are written without dictionary encoding: their values are nearly all distinct, so building
    a dictionary only costs time before Parquet falls back to plain encoding.
    """

    def __init__(self, path: Path, schema: pa.Schema, **options: Any) -> None:
        super().__init__(path, schema, **options)
        self._buffer: Columns = {name: [] for name in schema.names}

    def write(self, columns: Columns, rows: int) -> None:
        if not rows:
            return
        for name, values in columns.items():
            self._buffer[name].extend(values)
        self._buffer_rows(rows)

    def _take(self, rows: int) -> pa.Table:
        chunk = {}
        for name, values in self._buffer.items():
            chunk[name] = values[:rows]
            del values[:rows]
        return pa.Table.from_batches([pa.RecordBatch.from_pydict(chunk, schema=self._schema)])


class ParquetTableSink(_RowGroupedParquet):
    """:class:`ParquetSink` for rows that arrive as Arrow tables (the columnar export path): the same writer
    settings and the same row groups, so the same rows give the same file."""

    def __init__(self, path: Path, schema: pa.Schema, **options: Any) -> None:
        super().__init__(path, schema, **options)
        self._pending: list[pa.Table] = []

    def write_table(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self._pending.append(table.select(self._schema.names).cast(self._schema))
        self._buffer_rows(table.num_rows)

    def _take(self, rows: int) -> pa.Table:
        buffered = pa.concat_tables(self._pending).combine_chunks()
        self._pending = [buffered.slice(rows)] if rows < buffered.num_rows else []
        return buffered.slice(0, rows).combine_chunks()


_DICTIONARY_WORTHY = {"split", "domain", "language", "role"}


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Column paths to dictionary-encode: numbers and short labels, not free text."""
    paths: list[str] = []

    def visit(prefix: str, name: str, kind: pa.DataType) -> None:
        path = f"{prefix}{name}"
        if pa.types.is_list(kind):
            visit(f"{path}.list.", "element", kind.value_type)  # Parquet's path of a list's items
        elif pa.types.is_struct(kind):
            for child in kind:
                visit(f"{path}.", child.name, child.type)
        elif not pa.types.is_string(kind) or name in _DICTIONARY_WORTHY:
            paths.append(path)

    for field in schema:
        visit("", field.name, field.type)
    return paths


def files_sha256(paths: Iterable[Path], *, threads: int = 2) -> list[str]:
    """:func:`file_sha256` of several files, ``threads`` at a time (hashlib releases the GIL)."""
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="export-sha256") as pool:
        return list(pool.map(file_sha256, paths))


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
