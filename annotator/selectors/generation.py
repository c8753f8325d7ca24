"""Reads of generation runs: the prompts a run may be launched on, runs, and their items."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, QuerySet

from annotator.errors import NotFound
from annotator.models import Comparison, GenerationItem, GenerationItemStatus, GenerationRun, Project, Prompt

FAILURES_SHOWN = 200


def generation_prompts_select(
    *, project: Project, source: str = "", prompt_ids: Sequence[int] | None = None
) -> QuerySet[Prompt]:
    """The prompts of ``project`` a run is launched on: those of the comparisons imported from ``source`` (an
    import's format, e.g. ``helpsteer3``), or those listed in ``prompt_ids``, or both filters together.

    The one place a selection becomes prompts: a filter by domain or language is one more keyword here.
    """
    prompts = Prompt.objects.filter(project=project)
    if source:
        prompts = prompts.filter(comparisons__source=source)
    if prompt_ids is not None:
        prompts = prompts.filter(id__in=list(prompt_ids))
    return prompts.distinct().order_by("id")


def generation_sources(*, project: Project) -> list[tuple[str, int]]:
    """``(source, prompts)`` of every comparison source in the project (imports by format, earlier runs)."""
    rows = (
        Comparison.objects.filter(project=project)
        .exclude(source="")
        .values("source")
        .annotate(prompts=Count("prompt", distinct=True))
        .order_by("source")
    )
    return [(row["source"], row["prompts"]) for row in rows]


def generation_run_list(*, project: Project) -> QuerySet[GenerationRun]:
    """The project's runs, newest first, with their endpoints (two queries in all)."""
    return (
        GenerationRun.objects.filter(project=project)
        .select_related("created_by")
        .prefetch_related("endpoints")
        .order_by("-id")
    )


def generation_run_get_in_project(*, project: Project, run_id: int) -> GenerationRun:
    run = generation_run_list(project=project).filter(id=run_id).first()
    if run is None:
        raise NotFound("No such generation run in this project.")
    return run


def generation_item_failures(*, run: GenerationRun, limit: int = FAILURES_SHOWN) -> list[GenerationItem]:
    """The run's failed items with their reasons, first failed first."""
    return list(
        GenerationItem.objects.filter(run=run, status=GenerationItemStatus.FAILED)
        .select_related("prompt")
        .order_by("finished_at", "id")[:limit]
    )
