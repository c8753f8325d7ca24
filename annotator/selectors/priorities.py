"""Reads for claim priorities: the comparisons that still need annotators, and what people said about them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import F

from annotator.models import Annotation, Comparison, Project

_CHUNK = 500


@dataclass(frozen=True)
class OpenComparison:
    """A comparison that still has a free slot, with what a reward model or a judge reads of it."""

    id: int
    prompt: list[dict[str, Any]]
    response_1: str
    response_2: str


def comparison_open_ids(*, project: Project) -> list[int]:
    """Ids of the project's comparisons with a free slot (``slots_taken < overlap + extra_annotators``), by id."""
    free = Comparison.objects.filter(project=project, slots_taken__lt=F("extra_annotators") + project.overlap)
    return list(free.order_by("id").values_list("id", flat=True))


def comparison_open_iter(*, project: Project) -> Iterator[OpenComparison]:
    """:func:`comparison_open_ids`' comparisons with prompt turns and response texts, chunk by chunk (bounded
    memory on a large project)."""
    ids = comparison_open_ids(project=project)
    for start in range(0, len(ids), _CHUNK):
        rows = (
            Comparison.objects.filter(id__in=ids[start : start + _CHUNK])
            .order_by("id")
            .values_list("id", "prompt__turns", "response_1__text", "response_2__text")
        )
        for pk, turns, text_1, text_2 in rows:
            yield OpenComparison(id=pk, prompt=list(turns or []), response_1=text_1, response_2=text_2)


def preference_strengths_by_comparison(*, project: Project, comparison_ids: list[int]) -> dict[int, list[int]]:
    """The current preference strengths given by people (not imported) on each of ``comparison_ids``."""
    out: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(comparison_ids), _CHUNK):
        rows = Annotation.objects.filter(
            comparison__project=project,
            comparison_id__in=comparison_ids[start : start + _CHUNK],
            source="",
            is_current=True,
            preference_strength__isnull=False,
        ).values_list("comparison_id", "preference_strength")
        for comparison_id, strength in rows:
            if strength is not None:  # filtered above; the type does not know
                out[comparison_id].append(int(strength))
    return dict(out)
