"""Typed records the parsers yield: one :class:`ComparisonRecord` per comparison.

A comparison is a prompt (a tuple of :class:`Turn`) and two responses. What the source file says about it comes in
two kinds, kept apart because they mean different things:

* :class:`SourceLabels` — the *released, aggregated* labels of a dataset (HelpSteer2's 0..4 ratings, the
  HelpSteer2-Preference ``preference_strength`` and its chosen justification). They are attributed to the source,
  never to a person.
* :class:`AnnotationRecord` — one *individual* annotator's ratings, preference strength and justification (the
  HelpSteer2 disagreements lists, ``all_preferences_unprocessed``, HelpSteer3 ``individual_preference``). The
  annotator is anonymous: ``annotator_index`` is the 1-based position within this comparison only; the same index in
  two comparisons need not be the same person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from annotator.domain import (
    HELPSTEER2_ATTRIBUTES,
    LIKERT_SCALE,
    NOT_RATABLE_STRENGTH,
    PREFERENCE_STRENGTH_RANGE,
    Role,
    Split,
    Turn,
)

# The domain's words, re-exported: the parsers' callers know them as annotator.imports.*.
DEFAULT_SCALE = LIKERT_SCALE
__all__ = [
    "DEFAULT_SCALE",
    "HELPSTEER2_ATTRIBUTES",
    "NOT_RATABLE_STRENGTH",
    "PREFERENCE_STRENGTH_RANGE",
    "AnnotationRecord",
    "ComparisonRecord",
    "Role",
    "SourceLabels",
    "Split",
    "Turn",
]


@dataclass(frozen=True, slots=True)
class SourceLabels:
    """The source dataset's released aggregated labels for one comparison.

    Attributes
    ----------
    ratings_1, ratings_2
        Attribute name -> aggregated rating of response 1 / response 2 (empty when the source has no ratings).
    preference_strength
        Aggregated preference strength, -3..3 (negative: response 1 better), or None when the source has none.
    justification
        The source's chosen justification (HelpSteer2-Preference: statement + " " + elaboration), or None.
    """

    ratings_1: Mapping[str, int] = field(default_factory=dict)
    ratings_2: Mapping[str, int] = field(default_factory=dict)
    preference_strength: int | None = None
    justification: str | None = None


@dataclass(frozen=True, slots=True)
class AnnotationRecord:
    """One anonymous source annotator's work on one comparison.

    Attributes
    ----------
    annotator_index
        1-based position of this annotator within the comparison in the source file (anonymous).
    ratings_1, ratings_2
        Attribute name -> this annotator's rating of response 1 / response 2 (empty when not given).
    preference_strength
        -3..3, or None when the annotator gave no strength or marked the pair not ratable.
    not_ratable
        True when the source marked the pair not ratable (HelpSteer2-Preference strength -100).
    justification
        The annotator's justification ("" when none).
    """

    annotator_index: int
    ratings_1: Mapping[str, int] = field(default_factory=dict)
    ratings_2: Mapping[str, int] = field(default_factory=dict)
    preference_strength: int | None = None
    not_ratable: bool = False
    justification: str = ""


@dataclass(frozen=True, slots=True)
class ComparisonRecord:
    """One comparison read from a file: a prompt, two responses, and what the source says about them.

    Attributes
    ----------
    line
        1-based line (JSONL, CSV) or row (JSON array, Parquet) where the comparison starts in the file.
    turns
        The prompt as messages; the last turn is the user turn both responses answer.
    response_1, response_2
        The two responses, in the source's order.
    split
        "train" or "validation" when known (HelpSteer2-Preference's "val" is normalised to "validation").
    source_id
        The source's identifier for the comparison, when it has one.
    domain, language
        The prompt's domain and language (HelpSteer3's columns); "" when the file does not say.
    metadata
        Other source fields kept verbatim (e.g. ``three_most_similar_preferences``).
    source_labels
        The released aggregated labels, or None when the file has none (e.g. disagreements).
    annotations
        Individual annotators' records, in source order.
    """

    line: int
    turns: tuple[Turn, ...]
    response_1: str
    response_2: str
    split: Split | None = None
    source_id: str | None = None
    domain: str = ""
    language: str = ""
    metadata: Mapping[str, object] = field(default_factory=dict)
    source_labels: SourceLabels | None = None
    annotations: tuple[AnnotationRecord, ...] = ()
