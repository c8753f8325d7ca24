from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from annotator.demo.validation import VALIDATION_PAIRS, validation_jsonl
from annotator.models import Role
from annotator.selectors.projects import project_find, project_roles
from annotator.services.aggregation_rules import aggregation_rules_ensure_defaults
from annotator.services.imports import comparisons_import
from annotator.services.projects import membership_add, project_create
from annotator.services.simulation import annotations_simulate

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_SLUG = "demo"
DEMO_PASSWORD = "prefstack-demo"  # noqa: S105 - printed for the local demo only
DEMO_USERS = {"annotator": Role.ANNOTATOR, "lead": Role.LEAD, "researcher": Role.RESEARCHER}


class Command(BaseCommand):
    help = (
        f"Create the demo project (66 original comparisons, CC-BY-4.0, and {VALIDATION_PAIRS} generated validation "
        "comparisons with their labels), one user per role, and simulated work."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-simulation", action="store_true", help="Leave every comparison unannotated.")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        created_project = False
        with transaction.atomic():
            project = project_find(slug=DEMO_SLUG)
            if project is None:
                lead = self._user(User, "lead")
                lead.is_staff = True  # staff may create projects
                lead.save(update_fields=["is_staff"])
                project = project_create(
                    slug=DEMO_SLUG,
                    name="Demo: helpful assistants",
                    creator=lead,
                    guidelines=(DEMO_DIR / "guidelines.md").read_text(encoding="utf-8"),
                )
                created_project = True
            for username, role in DEMO_USERS.items():
                if role not in project_roles(project=project, user=self._user(User, username)):
                    membership_add(project=project, username=username, role=role)
            aggregation_rules_ensure_defaults()
            if created_project:
                comparisons_import(project=project, source=str(DEMO_DIR / "comparisons.jsonl"), fmt="prefstack")
                # A validation split large enough for a model's accuracy interval to be narrow (see the module).
                generated = io.BytesIO(validation_jsonl())
                generated.name = "demo-validation.jsonl"  # the importer tells the container from the name
                comparisons_import(project=project, source=generated, fmt="prefstack")
        if created_project and not options["no_simulation"]:
            # Six simulated annotators do part of the work, so the lead's pages have something to show and the
            # demo annotator still finds open comparisons.
            annotations_simulate(project=project, annotators=6, seed=7, max_per_annotator=18)
        verb = "Created" if created_project else "Reusing"
        self.stdout.write(f"{verb} project '{project.slug}' with {project.comparisons.count()} comparisons.")
        self.stdout.write(f"Logins (password: {DEMO_PASSWORD}):")
        for username, role in DEMO_USERS.items():
            self.stdout.write(f"  {role.label:<10} {username}")

    def _user(self, User: Any, username: str) -> Any:
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user
