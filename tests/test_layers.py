"""House rule 1: the pure packages import no Django (nor anything above them), and rm_jobs may use annotator,
never the reverse. Checked on the source, so an import hidden inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [
    "annotator/domain.py",
    "annotator/shown_terms.py",
    "annotator/error_codes.py",
    "annotator/webhooks_signing.py",
    "annotator/stats",
    "annotator/imports",
    "annotator/exports",
    "annotator/llm",
    "rm_jobs/training",
]
FORBIDDEN_IN_PURE = ("django", "rest_framework", "celery", "config", "annotator.models", "annotator.services",
                     "annotator.selectors", "annotator.views", "annotator.api", "rm_jobs.models", "rm_jobs.services")  # fmt: skip


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _files(folder: str) -> list[Path]:
    path = ROOT / folder
    return [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


@pytest.mark.parametrize("folder", PURE)
def test_pure_packages_import_nothing_from_django_or_the_layers_above(folder: str) -> None:
    files = _files(folder)
    assert files, f"{folder} is empty"
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_IN_PURE)
    ]
    assert offenders == []


def test_annotator_never_imports_rm_jobs() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _files("annotator")
        for name in _imports(path)
        if name == "rm_jobs" or name.startswith("rm_jobs.")
    ]
    assert offenders == []


def test_models_and_services_do_not_import_views_or_the_api() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for layer in ("annotator/models", "annotator/services", "annotator/selectors")
        for path in _files(layer)
        for name in _imports(path)
        if name.startswith(("annotator.views", "annotator.api", "rm_jobs.views", "rm_jobs.api"))
    ]
    assert offenders == []


def test_exports_take_their_vocabulary_from_the_domain_not_the_import_parsers() -> None:
    # The HelpSteer2 prompt codec (annotator.imports.turns) works both ways, so the writers may use it.
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _files("annotator/exports")
        for name in _imports(path)
        if name.startswith("annotator.imports") and name != "annotator.imports.turns"
    ]
    assert offenders == []


def test_selectors_never_import_services() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for layer in ("annotator/selectors", "rm_jobs/selectors")
        for path in _files(layer)
        for name in _imports(path)
        if name.startswith(("annotator.services", "rm_jobs.services"))
    ]
    assert offenders == []


INTERFACES = ["annotator/views", "annotator/api", "annotator/management", "annotator/tasks.py", "annotator/forms.py",
              "rm_jobs/views.py", "rm_jobs/api.py", "rm_jobs/management", "rm_jobs/tasks.py", "rm_jobs/forms.py"]  # fmt: skip
# Interfaces read through selectors; these queries stay, each for a reason.
MODEL_QUERIES_ALLOWED = {
    # A ModelChoiceField needs a queryset to validate against; the view hands the real one in (ready_snapshots).
    ("rm_jobs/forms.py", "Snapshot"),
    # The demo's own users: Django's auth model, which no service of ours owns.
    ("annotator/management/commands/load_demo.py", "User"),
}


def _model_queries(path: Path) -> set[str]:
    """Names ``X`` used as ``X.objects`` in the file (a query on a model, not through a selector)."""
    return {
        node.value.id
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "objects" and isinstance(node.value, ast.Name)
    }


def test_interfaces_read_models_through_selectors() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}.objects"
        for interface in INTERFACES
        for path in _files(interface)
        for name in sorted(_model_queries(path))
        if (str(path.relative_to(ROOT)), name) not in MODEL_QUERIES_ALLOWED
    ]
    assert offenders == []


def test_one_tasks_module_per_app() -> None:
    for app in ("annotator", "rm_jobs"):
        assert sorted(p.name for p in (ROOT / app).glob("tasks*.py")) == ["tasks.py"]
