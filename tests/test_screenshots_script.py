"""scripts/screenshots.py's PNG re-compression keeps every pixel and never grows the file."""

from __future__ import annotations

import importlib.util
import struct
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def screenshots():  # scripts/ is not a package: load the file as a module
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "scripts" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks.append((kind, body))
        position += 12 + length
    return chunks


def _png(width: int, height: int, *, split_idat: bool) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + bytes((x * 7 + y) % 256 for x in range(width * 3)) for y in range(height))
    pixels = zlib.compress(rows, 1)
    parts = [pixels[: len(pixels) // 2], pixels[len(pixels) // 2 :]] if split_idat else [pixels]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + b"".join(chunk(b"IDAT", p) for p in parts) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("split_idat", [False, True])
def test_recompressed_png_has_the_same_pixels_and_is_no_larger(screenshots, split_idat: bool) -> None:
    original = _png(64, 48, split_idat=split_idat)
    smaller = screenshots.recompress_png(original)
    assert smaller[:8] == original[:8]
    kinds = [kind for kind, _ in _chunks(smaller)]
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]

    def pixels(data: bytes) -> bytes:
        return zlib.decompress(b"".join(body for kind, body in _chunks(data) if kind == b"IDAT"))

    assert pixels(smaller) == pixels(original)
    assert len(smaller) <= len(original)
