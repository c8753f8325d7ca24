from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.errors import ApplicationError
from annotator.models import SnapshotStatus
from annotator.selectors.projects import project_find
from annotator.selectors.snapshots import aggregation_rule_find
from annotator.services.snapshots.lifecycle import snapshot_build, snapshot_create

FINAL = (SnapshotStatus.READY, SnapshotStatus.FAILED)


class Command(BaseCommand):
    help = "Cut a snapshot of a project with an aggregation rule; built by the Celery worker, or here with --wait."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="Project slug.")
        parser.add_argument("--rule", help="Aggregation rule name (its newest version); default helpsteer2.")
        parser.add_argument("--name", default="", help="A name for the snapshot.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the train/validation split.")
        parser.add_argument("--validation-fraction", type=float, default=0.05)
        parser.add_argument(
            "--judge-drafts",
            action="store_true",
            help="Add the LLM judge's latest drafts as separate, model-made judge_* columns (never human labels).",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="Build now in this process (a worker that picks the task up later finds nothing to do) and "
            "print the final status.",
        )
        parser.add_argument("--timeout", type=float, default=3600, help="With --wait: seconds to wait for a worker.")

    def handle(self, *args: Any, project: str, rule: str | None, wait: bool, **options: Any) -> None:
        target = project_find(slug=project)
        if target is None:
            raise CommandError(f"No project with slug {project!r}.")
        chosen = aggregation_rule_find(name=rule)
        if rule and chosen is None:
            raise CommandError(f"No aggregation rule named {rule!r}.")
        try:
            snapshot = snapshot_create(
                project=target,
                user=None,
                rule=chosen,
                name=options["name"],
                split_seed=options["seed"],
                validation_fraction=options["validation_fraction"],
                include_judge_drafts=options["judge_drafts"],
            )
        except ApplicationError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"snapshot: {snapshot.id}")
        if not wait:
            return
        snapshot = snapshot_build(snapshot_id=snapshot.id)
        deadline = time.monotonic() + options["timeout"]
        # A worker claimed it first: follow its progress.
        while snapshot.status not in FINAL and time.monotonic() < deadline:
            time.sleep(0.5)
            snapshot.refresh_from_db()
        self.stdout.write(f"status: {snapshot.status}")
        if snapshot.status == SnapshotStatus.READY:
            self.stdout.write(f"comparisons: {snapshot.counts.get('included')}  content_hash: {snapshot.content_hash}")
        elif snapshot.status == SnapshotStatus.FAILED:
            raise CommandError(f"snapshot {snapshot.id} failed: {snapshot.error.splitlines()[0]}")
