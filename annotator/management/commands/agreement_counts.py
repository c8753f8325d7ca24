"""Check the kept agreement counts against the annotations, or count projects again (``--rebuild``)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.selectors.agreement_counts import agreement_counts_check, agreement_counts_projects
from annotator.services.agreement_counts import agreement_counts_rebuild


class Command(BaseCommand):
    help = (
        "Check that each project's kept agreement counts equal a fresh count from its annotations (exit status 1 "
        "when one differs); with --rebuild, count them again first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", action="append", default=[], help="Project slug (repeat); default all.")
        parser.add_argument("--rebuild", action="store_true", help="Count the projects again from the annotations.")
        parser.add_argument("--no-check", action="store_true", help="With --rebuild: skip the check afterwards.")

    def handle(self, *args: Any, project: list[str], rebuild: bool, no_check: bool, **options: Any) -> None:
        projects = agreement_counts_projects(slugs=project)
        missing = sorted(set(project) - {p.slug for p in projects})
        if missing:
            raise CommandError(f"No project with slug {', '.join(map(repr, missing))}.")
        failed = []
        for target in projects:
            if rebuild:
                start = time.perf_counter()
                counts = agreement_counts_rebuild(project=target)
                self.stdout.write(
                    f"{target.slug}: counted {counts.n_counted} annotations "
                    f"({counts.n_rejected} rejected left out) in {time.perf_counter() - start:.1f} s"
                )
            if rebuild and no_check:
                continue
            check = agreement_counts_check(project=target)
            if check.ok:
                self.stdout.write(f"{target.slug}: agreement counts agree with the annotations")
            else:
                failed.append(target.slug)
                for problem in check.problems:
                    self.stderr.write(f"{target.slug}: {problem}")
        if failed:
            raise CommandError(
                f"Agreement counts differ for {', '.join(failed)}; run `manage.py agreement_counts --rebuild`."
            )
