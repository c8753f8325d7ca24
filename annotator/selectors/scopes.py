"""Reads by a prompt's domain and language: the values a project uses, and narrowing annotation frames to one."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from annotator.models import Comparison, Project, Prompt


@dataclass(frozen=True)
class ScopeChoices:
    """The domains and languages the project's prompts name, sorted (empty values left out)."""

    domains: list[str]
    languages: list[str]


def prompt_scope_choices(*, project: Project) -> ScopeChoices:
    """What the filters offer (one query on the ``prompt_scope`` index: the distinct pairs are few)."""
    pairs = list(Prompt.objects.filter(project=project).order_by().values_list("domain", "language").distinct())
    return ScopeChoices(
        domains=sorted({d for d, _ in pairs if d}), languages=sorted({lang for _, lang in pairs if lang})
    )


def comparison_scopes(*, project: Project, by: str) -> pd.Series:
    """Comparison id -> its prompt's ``by`` (``"domain"`` or ``"language"``; "" when not given)."""
    if by not in ("domain", "language"):
        raise ValueError(by)
    rows = Comparison.objects.filter(project=project).values_list("id", f"prompt__{by}")
    ids, values = zip(*rows, strict=True) if rows else ((), ())
    return pd.Series(list(values), index=pd.Index(list(ids), dtype="int64"), dtype=object)


def frame_in_scope(frame: pd.DataFrame, *, project: Project, domain: str = "", language: str = "") -> pd.DataFrame:
    """The rows of an annotation frame (``annotator.selectors.annotations.annotation_frame``) whose comparison's
    prompt has ``domain`` and ``language`` (an empty one: any); the frame itself when neither is given."""
    if not (domain or language) or not len(frame):
        return frame
    comparisons = Comparison.objects.filter(project=project)
    if domain:
        comparisons = comparisons.filter(prompt__domain=domain)
    if language:
        comparisons = comparisons.filter(prompt__language=language)
    ids = list(comparisons.values_list("id", flat=True))
    return frame[frame["comparison_id"].isin(ids)].reset_index(drop=True)
