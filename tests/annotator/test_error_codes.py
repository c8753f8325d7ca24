"""Error codes come from one enum, and the docs list every one of them."""

from __future__ import annotations

import re
from pathlib import Path

from annotator.error_codes import ErrorCode
from annotator.errors import ApplicationError, Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.imports.errors import ImportFormatError
from annotator.services.imports import ImportFailed
from annotator.services.snapshots import SnapshotNotReady
from rm_jobs.services.scoring import InputTooLong

ROOT = Path(__file__).resolve().parents[2]


def test_every_error_class_carries_an_enum_code() -> None:
    classes = [ApplicationError, ValidationFailed, PermissionDenied, NotFound, Conflict, ImportFailed,
               SnapshotNotReady, InputTooLong, ImportFormatError]  # fmt: skip
    assert all(isinstance(cls.code, ErrorCode) for cls in classes)
    error = Conflict("Taken.", code=ErrorCode.ALREADY_SUBMITTED)
    assert error.code == "already_submitted"  # the enum is text for clients and tests


def test_no_error_code_is_spelled_as_a_bare_string() -> None:
    bare = re.compile(r"""\bcode\s*=\s*["']|["']code["']\s*:\s*["']""")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("annotator", "rm_jobs")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
    ]
    assert offenders == []


def test_the_architecture_page_lists_every_code() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert [code.value for code in ErrorCode if f"`{code.value}`" not in page] == []
