"""House rule 1: the pure packages import no Django (nor anything above them), and rm_jobs may use annotator,
never the reverse. Checked on the source, so an import hidden inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = ["annotator/domain.py", "annotator/stats", "annotator/imports", "annotator/exports", "rm_jobs/training"]
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
