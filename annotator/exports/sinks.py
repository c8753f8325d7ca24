"""Streaming file writers: JSONL (optionally gzip) and Parquet in row groups. Memory stays flat: at most one row
group of rows is held at a time."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from annotator.exports.formats import ExportRow

DEFAULT_ROW_GROUP_SIZE = 10_000
_HASH_CHUNK = 1 << 20


class Sink(Protocol):
    """Something rows are written to, one at a time."""

    rows: int

    def write(self, row: ExportRow) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """Writes one JSON object per line (UTF-8, ``ensure_ascii=False``); gzip output is byte-for-byte reproducible
    (no file name or time stamp in its header)."""

    def __init__(self, path: Path, *, compress: bool) -> None:
        self.rows = 0
        self._raw = open(path, "wb")  # noqa: SIM115  # closed in close(); the sink outlives this call
        binary = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
            if compress
            else self._raw
        )
        self._text = io.TextIOWrapper(binary, encoding="utf-8", newline="\n")
        self._compressed = binary if compress else None

    def write(self, row: ExportRow) -> None:
        self._text.write(json.dumps(row, ensure_ascii=False))
        self._text.write("\n")
        self.rows += 1

    def close(self) -> None:
        self._text.flush()
        self._text.detach()
        if self._compressed is not None:
            self._compressed.close()
        self._raw.close()


class ParquetSink:
    """Writes rows to Parquet with an explicit schema, one row group per ``row_group_size`` rows."""

    def __init__(self, path: Path, schema: pa.Schema, *, row_group_size: int = DEFAULT_ROW_GROUP_SIZE) -> None:
        if row_group_size < 1:
            raise ValueError("row_group_size must be positive")
        self.rows = 0
        self.row_groups = 0
        self._schema = schema
        self._row_group_size = row_group_size
        self._buffer: list[ExportRow] = []
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, row: ExportRow) -> None:
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= self._row_group_size:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        batch = pa.RecordBatch.from_pylist(self._buffer, schema=self._schema)
        self._writer.write_batch(batch, row_group_size=self._row_group_size)
        self.row_groups += 1
        self._buffer = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
