from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotator.errors import ApplicationError
from annotator.imports import IMPORT_FORMATS
from annotator.selectors.projects import project_find
from annotator.services.imports import comparisons_import


class Command(BaseCommand):
    help = "Import a file of comparisons into a project (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--project", required=True, help="Project slug.")
        parser.add_argument("--format", required=True, choices=IMPORT_FORMATS, dest="fmt")
        parser.add_argument("--split", choices=["train", "validation"], help="Split for files that do not say.")
        parser.add_argument("--domain", help="Domain of prompts whose rows do not say.")
        parser.add_argument("--language", help="Language of prompts whose rows do not say.")

    def handle(
        self,
        *args: Any,
        file: str,
        project: str,
        fmt: str,
        split: str | None,
        domain: str | None = None,
        language: str | None = None,
        **options: Any,
    ) -> None:
        target = project_find(slug=project)
        if target is None:
            raise CommandError(f"No project with slug {project!r}.")
        with tqdm(desc="comparisons", unit=" cmp", disable=options["verbosity"] == 0) as bar:

            def progress(done: int) -> None:
                bar.update(done - bar.n)

            try:
                result = comparisons_import(
                    project=target,
                    source=file,
                    fmt=fmt,
                    split=split,
                    domain=domain,
                    language=language,
                    on_progress=progress,
                )
            except ApplicationError as error:
                raise CommandError(f"Nothing imported: {error.message}") from error
        self.stdout.write(
            f"imported: {result.comparisons} comparisons, {result.annotations} annotations, "
            f"{result.source_labels} source labels, {result.skipped_as_not_ratable} not-ratable"
        )
