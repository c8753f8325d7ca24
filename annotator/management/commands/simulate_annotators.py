from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotator.selectors.projects import project_find
from annotator.services.simulation import PROFILE_CYCLE, annotations_simulate


class Command(BaseCommand):
    help = (
        "Simulated annotators claim and submit through the same services as people "
        f"(profiles in turn: {', '.join(PROFILE_CYCLE)})."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="Project slug.")
        parser.add_argument("--annotators", type=int, default=6)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-per-annotator", type=int, default=None)

    def handle(self, *args: Any, project: str, annotators: int, seed: int, **options: Any) -> None:
        target = project_find(slug=project)
        if target is None:
            raise CommandError(f"No project with slug {project!r}.")
        if annotators < 1:
            raise CommandError("--annotators must be at least 1.")
        with tqdm(desc="annotations", unit=" ann", disable=options["verbosity"] == 0) as bar:
            result = annotations_simulate(
                project=target,
                annotators=annotators,
                seed=seed,
                max_per_annotator=options["max_per_annotator"],
                on_progress=lambda n: bar.update(n - bar.n),
            )
        self.stdout.write(
            f"simulated: {result.annotators} annotators, {result.submitted} submitted, "
            f"{result.skipped} skipped, {result.refused} refused"
        )
