from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.errors import ApplicationError
from annotator.exports import EXPORT_FORMATS
from annotator.selectors.snapshots import snapshot_find
from annotator.services.snapshots import FILE_TYPES, snapshot_bundle_file, snapshot_export_file

BUNDLE = "bundle"


def _file_type_of(path: Path) -> str:
    name = path.name.lower()
    for file_type in sorted(FILE_TYPES, key=len, reverse=True):
        if name.endswith(f".{file_type}"):
            return file_type
    return "parquet"


class Command(BaseCommand):
    help = "Write one export format of a ready snapshot to a file (the zip bundle with --format bundle)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("snapshot", type=int, help="Snapshot id.")
        parser.add_argument("--format", required=True, choices=[*EXPORT_FORMATS, BUNDLE], dest="fmt")
        parser.add_argument("--out", required=True, help="Output file; its suffix picks the file type.")
        parser.add_argument("--file-type", choices=FILE_TYPES, help="Override the file type the suffix implies.")
        parser.add_argument("--split", choices=["train", "validation"], help="One split (default: all, with a column).")

    def handle(self, *args: Any, snapshot: int, fmt: str, out: str, **options: Any) -> None:
        found = snapshot_find(snapshot_id=snapshot)
        if found is None:
            raise CommandError(f"No snapshot {snapshot}.")
        target = Path(out)
        try:
            if fmt == BUNDLE:
                source = snapshot_bundle_file(snapshot=found)
            else:
                file_type = options["file_type"] or _file_type_of(target)
                source = snapshot_export_file(snapshot=found, fmt=fmt, file_type=file_type, split=options["split"])
        except ApplicationError as error:
            raise CommandError(error.message) from error
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        self.stdout.write(f"wrote: {target} ({target.stat().st_size:,} bytes)")
