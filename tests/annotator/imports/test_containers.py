"""Containers, detection and file-level errors, driven through ``parse_file``."""

from __future__ import annotations

import gzip
import io
import json
import re
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotator.imports import ComparisonRecord, ImportFormatError, containers, parse_file
from annotator.imports.containers import detect_container

FIXTURES = Path(__file__).parents[2] / "fixtures" / "formats"


def _rows(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines()]


def _expected(name: str, fmt: str) -> list[ComparisonRecord]:
    return list(parse_file(FIXTURES / name, fmt))  # type: ignore[arg-type]


def _without_lines(records: list[ComparisonRecord]) -> list[tuple[object, ...]]:
    return [(r.turns, r.response_1, r.response_2, r.split, r.metadata, r.source_labels, r.annotations) for r in records]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("train.jsonl", ("jsonl", False)),
        ("train.JSONL.GZ", ("jsonl", True)),
        ("x.json", ("json", False)),
        ("x.csv.gz", ("csv", True)),
        ("x.parquet", ("parquet", False)),
    ],
)
def test_the_container_comes_from_the_extension(name: str, kind: tuple[str, bool]) -> None:
    detected = detect_container(name)
    assert (detected.container, detected.gzip) == kind


def test_an_unknown_extension_needs_an_explicit_container() -> None:
    with pytest.raises(ImportFormatError, match=r"cannot tell the file type from the name 'data\.txt'"):
        detect_container("data.txt")
    assert detect_container("data.txt", container="jsonl", compressed=True).gzip


def test_gzip_jsonl_reads_like_plain_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "hs2p.jsonl.gz"
    path.write_bytes(gzip.compress((FIXTURES / "helpsteer2_preference.jsonl").read_bytes()))
    records = list(parse_file(path, "helpsteer2-preference"))
    assert records == _expected("helpsteer2_preference.jsonl", "helpsteer2-preference")


def test_a_gzip_upload_with_a_plain_name_is_recognised_by_its_magic_number() -> None:
    data = gzip.compress((FIXTURES / "helpsteer2.jsonl").read_bytes())
    upload = io.BytesIO(data)
    upload.name = "train.jsonl"
    assert len(list(parse_file(upload, "helpsteer2"))) == 2


def test_a_json_array_numbers_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "hs3.json"
    path.write_text(json.dumps(_rows("helpsteer3.jsonl")), encoding="utf-8")
    records = list(parse_file(path, "helpsteer3"))
    assert _without_lines(records) == _without_lines(_expected("helpsteer3.jsonl", "helpsteer3"))
    assert [r.line for r in records] == [1, 2]


def test_parquet_is_read_in_record_batches_with_nested_columns(tmp_path: Path) -> None:
    path = tmp_path / "hs2p.parquet"
    pq.write_table(pa.Table.from_pylist(_rows("helpsteer2_preference.jsonl")), path)
    records = list(parse_file(path, "helpsteer2-preference"))
    assert _without_lines(records) == _without_lines(_expected("helpsteer2_preference.jsonl", "helpsteer2-preference"))


def test_a_parquet_row_error_names_the_row(tmp_path: Path) -> None:
    rows = _rows("helpsteer2.jsonl")
    rows[3]["helpfulness"] = 9
    path = tmp_path / "hs2.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    with pytest.raises(ImportFormatError, match=r"^row 4, column 'helpfulness': value 9 is out of range"):
        list(parse_file(path, "helpsteer2"))


@pytest.mark.parametrize("content", [b"", b"\n\n", b"[]"])
def test_an_empty_file_is_an_error(content: bytes) -> None:
    with pytest.raises(ImportFormatError, match="the file is empty"):
        list(parse_file(io.BytesIO(content), "helpsteer2", container="json" if content == b"[]" else "jsonl"))


def test_an_empty_csv_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("prompt,response,helpfulness\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="the file is empty"):
        list(parse_file(path, "helpsteer2"))


def test_invalid_json_names_its_line() -> None:
    lines = (FIXTURES / "helpsteer2.jsonl").read_bytes().splitlines(keepends=True)
    lines.insert(2, b'{"prompt": "c#", "response": \n')
    with pytest.raises(ImportFormatError) as caught:
        list(parse_file(io.BytesIO(b"".join(lines)), "helpsteer2", container="jsonl"))
    assert caught.value.line == 3
    assert str(caught.value).startswith("line 3: invalid JSON: Expecting value")


def test_a_line_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ImportFormatError, match=r"line 1: a JSON list instead of an object"):
        list(parse_file(io.BytesIO(b"[1, 2]\n"), "helpsteer2", container="jsonl"))


def test_a_non_utf8_file_names_the_line_and_the_byte() -> None:
    data = (FIXTURES / "helpsteer2.jsonl").read_bytes().replace(b"musical note", "musical n\u00f6te".encode("latin-1"))
    with pytest.raises(ImportFormatError) as caught:
        list(parse_file(io.BytesIO(data), "helpsteer2", container="jsonl"))
    assert caught.value.line == 2
    assert "not valid UTF-8 (byte 0xf6" in str(caught.value)


def test_a_non_utf8_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("prompt,response\nc\u00e9,x\n".encode("latin-1"))
    with pytest.raises(ImportFormatError, match="not valid UTF-8"):
        list(parse_file(path, "prefstack"))


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = FIXTURES / "helpsteer2.jsonl"
    size = path.stat().st_size
    with pytest.raises(ImportFormatError, match=f"over the limit of {size - 1:,} bytes"):
        parse_file(path, "helpsteer2", max_bytes=size - 1)
    assert len(list(parse_file(path, "helpsteer2", max_bytes=size))) == 2


def test_gzip_cannot_expand_past_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    raw = (FIXTURES / "helpsteer2.jsonl").read_bytes() * 50
    path.write_bytes(gzip.compress(raw))
    assert path.stat().st_size < 5_000 < len(raw)
    with pytest.raises(ImportFormatError, match="after decompression"):
        list(parse_file(path, "helpsteer2", max_bytes=5_000))


def test_corrupt_gzip_is_an_import_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(gzip.compress((FIXTURES / "helpsteer2.jsonl").read_bytes())[:-20])
    with pytest.raises(ImportFormatError, match="gzip"):
        list(parse_file(path, "helpsteer2"))


def test_nested_formats_refuse_csv(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="nested columns"):
        parse_file(tmp_path / "x.csv", "helpsteer3")


def test_a_csv_row_with_a_wrong_cell_count_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("prompt,response_1,response_2\na,b,c\nd,e\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match=r"^line 3: 2 cells, but the header has 3 columns"):
        list(parse_file(path, "prefstack"))


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ImportFormatError, match="unknown import format"):
        parse_file(FIXTURES / "helpsteer2.jsonl", "alpaca")  # type: ignore[arg-type]


def test_invalid_json_in_an_array_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    # Elements are read one at a time: the first (valid) one is parsed before the broken one is reached.
    path.write_text('[\n{"prompt": "a", "response_1": "b", "response_2": "c"},\n{"prompt": }\n]', encoding="utf-8")
    with pytest.raises(ImportFormatError, match=r"^line 3: invalid JSON"):
        list(parse_file(path, "prefstack"))


def test_a_file_object_is_read_from_its_position_and_left_open() -> None:
    upload = io.BytesIO((FIXTURES / "prefstack.jsonl").read_bytes())
    upload.name = "pairs.jsonl"
    assert len(list(parse_file(upload, "prefstack"))) == 2
    assert not upload.closed


# --- hostile files: decompression bombs, huge lines, floods of blank lines -------------------------------------
# Each bomb is a few hundred KB of gzip that expands to 64 MiB; the caps set here are far below that, and reading
# must stop at the cap in bounded memory (measured with tracemalloc: Python's own allocations, bytes included).

BOMB_BYTES = 64 << 20


def _gzip_of(*parts: tuple[bytes, int]) -> bytes:
    """gzip of each ``(block, times)`` written in turn, built a block at a time."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as gz:
        for block, times in parts:
            for _ in range(times):
                gz.write(block)
    return out.getvalue()


def _spaces(n: int, char: bytes = b" ") -> tuple[bytes, int]:
    return char * (1 << 20), n >> 20


def _peak_while(fn: Callable[[], object]) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        fn()
        error: BaseException | None = None
    except ImportFormatError as exc:
        error = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return error, peak


def _drain(source: io.BytesIO, fmt: str = "prefstack", **kwargs: object) -> None:
    for _ in parse_file(source, fmt, **kwargs):  # type: ignore[arg-type]
        pass


def _upload(data: bytes, name: str) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


@pytest.mark.parametrize(
    ("name", "parts", "message"),
    [
        # 64 MiB of spaces and no newline: one endless line.
        ("spaces.jsonl.gz", [_spaces(BOMB_BYTES)], r"^line 1: line 1 is longer than 1,048,576 bytes"),
        # One JSON object whose string never ends.
        ("huge.jsonl.gz", [(b'{"prompt": "', 1), _spaces(BOMB_BYTES, b"a")], r"^line 1: line 1 is longer than"),
        ("huge.csv.gz", [(b"prompt,response_1,response_2\n", 1), _spaces(BOMB_BYTES, b"a")], r"^line 2: line 2 is"),
        # A JSON array whose first element never ends.
        ("huge.json.gz", [(b'[{"prompt": "', 1), _spaces(BOMB_BYTES, b"a")], r"^row 1: element 1 is longer than"),
        # A JSON array of spaces: nothing to keep, so only the total cap stops it.
        ("spaces.json.gz", [(b"[", 1), _spaces(BOMB_BYTES)], "after decompression"),
        # Millions of small valid rows: the total cap stops it.
        (
            "rows.json.gz",
            [(b"[", 1), (b'{"prompt": "p", "response_1": "a", "response_2": "b"},' * 1000, BOMB_BYTES // 53_000)],
            "after decompression",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and "." in value else "",
)
def test_a_decompression_bomb_is_refused_at_the_cap_in_bounded_memory(
    name: str, parts: list[tuple[bytes, int]], message: str
) -> None:
    data = _gzip_of(*parts)
    assert len(data) < 1 << 20  # a small upload ...
    error, peak = _peak_while(
        lambda: _drain(_upload(data, name), max_bytes=4 << 20, max_line_bytes=1 << 20)
    )  # ... that would expand to 64 MiB
    assert error is not None
    assert re.search(message, str(error)), str(error)
    assert peak < 12 << 20, f"peak {peak:,} bytes"


def test_a_flood_of_blank_lines_is_passed_over_quickly_in_bounded_memory() -> None:
    data = _gzip_of((b'{"prompt": "p", "response_1": "a", "response_2": "b"}\n', 1), _spaces(BOMB_BYTES, b"\n"))
    data += _gzip_of((b'\r\n  \n{"prompt": "q", "response_1": "a", "response_2": "b"}\n', 1))  # a second member
    started = time.perf_counter()
    records: list[ComparisonRecord] = []
    error, peak = _peak_while(lambda: records.extend(parse_file(_upload(data, "blank.jsonl.gz"), "prefstack")))
    elapsed = time.perf_counter() - started
    assert error is None
    assert [r.line for r in records] == [1, BOMB_BYTES + 4]
    assert peak < 12 << 20, f"peak {peak:,} bytes"
    # 64 Mi blank lines read one by one took ~40 s of a core; skipped a run at a time they take well under one.
    assert elapsed < 10, f"{elapsed:.1f} s"


def test_a_flood_of_empty_csv_lines_is_passed_over_but_not_inside_a_quoted_cell() -> None:
    data = _gzip_of(
        (b'prompt,response_1,response_2\n"two\n\nparagraphs",a,b\n', 1),
        _spaces(BOMB_BYTES, b"\n"),
        (b"p,a,b\n", 1),
    )
    started = time.perf_counter()
    records = list(parse_file(_upload(data, "blank.csv.gz"), "prefstack"))
    assert time.perf_counter() - started < 10
    assert [(r.line, r.turns[0].content) for r in records] == [(2, "two\n\nparagraphs"), (BOMB_BYTES + 5, "p")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"prompt": ' + b"9" * 5000 + b"}\n", r"^line 1: a JSON value cannot be read \(Exceeds the limit"),
        (b"[" * 100_000 + b"]" * 100_000 + b"\n", r"^line 1: the JSON is nested too deeply"),
    ],
)
def test_json_that_python_refuses_beyond_syntax_is_an_import_error(body: bytes, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        _drain(_upload(body, "x.jsonl"))


def test_a_parquet_file_too_large_once_decompressed_is_refused_from_its_footer(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    rows = [{"prompt": f"{i}" + "p" * 100_000, "response_1": "a", "response_2": "b"} for i in range(40)]
    pq.write_table(pa.Table.from_pylist(rows), path, compression="zstd", use_dictionary=False)
    assert path.stat().st_size < 100_000  # 4 MB of text compresses to almost nothing
    with pytest.raises(ImportFormatError, match="once decompressed, over the limit of 1,000,000 bytes"):
        _drain(path, max_bytes=1_000_000)  # type: ignore[arg-type]
    with pytest.raises(ImportFormatError, match="per row"):
        _drain(path, max_line_bytes=50_000)  # type: ignore[arg-type]
    assert len(list(parse_file(path, "prefstack"))) == 40


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_streaming_readers_agree_with_json_whatever_the_chunk_boundaries(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Every element and line is cut by chunk ends at every possible place (strings, escapes, numbers, literals)."""
    monkeypatch.setattr(containers, "_READ_BUFFER", chunk)
    rows: list[dict[str, object]] = [
        {"prompt": 'é "q" \\ \u2028 \U0001f600', "response_1": "a\nb", "response_2": "", "n": -12.5e3, "t": True},
        {"prompt": "x" * 200, "response_1": "\u00e9", "response_2": "b", "m": None, "l": [1, [2, {"k": False}]]},
    ]
    array = "\ufeff[ \n" + " ,\r\n".join(json.dumps(r, ensure_ascii=i % 2 == 0) for i, r in enumerate(rows)) + "\n]"
    lines = "\n\n  \n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n   \n"
    assert [row for _, row in containers.iter_json_array(io.BytesIO(array.encode()))] == rows
    assert [(n, row) for n, row in containers.iter_jsonl(io.BytesIO(lines.encode()))] == [(1, rows[0]), (4, rows[1])]
