"""The typed rows every writer takes: one :class:`SnapshotItem` per comparison of a snapshot."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from annotator.domain import Split, Turn


@dataclass(frozen=True, slots=True)
class KeptPreference:
    """One of the annotations the aggregation rule kept (HelpSteer2-Preference's "three most similar")."""

    strength: int
    statement: str
    elaboration: str


@dataclass(frozen=True, slots=True)
class IndividualAnnotation:
    """One annotator's work on a comparison, as released.

    Attributes
    ----------
    annotator
        An anonymised annotator id, stable within the snapshot (e.g. "a17"); never a user name.
    ratings_1, ratings_2
        Attribute -> rating of response 1 / response 2 (None or absent when not given).
    preference_strength
        -3..3, or None when not given or not ratable.
    not_ratable
        True when the annotator marked the pair not ratable (written as -100 in HelpSteer2-Preference).
    justification
        The annotator's justification ("" when none).
    used_1, used_2, used_preference
        Whether the aggregation used this annotation's ratings of response 1, of response 2, and its preference
        for the released labels (the HelpSteer2 rule keeps the three that agree most, dropping outliers). True by
        default: an item whose labels came with an imported dataset uses every annotation it came with.
    """

    annotator: str
    ratings_1: Mapping[str, int | None] = field(default_factory=dict)
    ratings_2: Mapping[str, int | None] = field(default_factory=dict)
    preference_strength: int | None = None
    not_ratable: bool = False
    justification: str = ""
    used_1: bool = True
    used_2: bool = True
    used_preference: bool = True


@dataclass(frozen=True, slots=True)
class JudgeDraftValues:
    """The LLM judge's draft of a comparison, as a snapshot cut with judge drafts carries it: model-made, never a
    human label (see :mod:`annotator.exports.judge_columns`).

    Attributes
    ----------
    model
        The judge endpoint's model id.
    preference_strength
        -3..3 (negative: response 1 better), or None.
    confidence
        0..1, or None when the judge gave none.
    ratings_1, ratings_2
        Attribute -> the judge's rating of response 1 / response 2.
    """

    model: str
    preference_strength: int | None = None
    confidence: float | None = None
    ratings_1: Mapping[str, int | None] = field(default_factory=dict)
    ratings_2: Mapping[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SnapshotItem:
    """One comparison of a snapshot with its aggregated labels and the annotations behind them.

    Attributes
    ----------
    comparison_id
        The comparison's stable id (written as ``id`` in trainer-ready files).
    split
        "train" or "validation".
    turns
        The prompt; the last turn is the user turn both responses answer.
    response_1, response_2
        The two responses, in the order annotators saw them labelled.
    ratings_1, ratings_2
        Attribute -> aggregated rating of response 1 / response 2, None where the aggregation rule gave none.
    preference_strength
        Aggregated strength -3..3 (negative: response 1 better), or None.
    justification
        The chosen justification (its first sentence becomes HelpSteer2-Preference's statement), or None.
    kept_preferences
        The annotations the aggregation kept.
    annotations
        Every individual annotation (not-ratable ones included), in a stable order.
    domain, language
        HelpSteer3-style metadata, when known.
    judge
        The LLM judge's draft, in a snapshot cut with judge drafts (None: none, or not asked for).
    """

    comparison_id: str
    split: Split
    turns: tuple[Turn, ...]
    response_1: str
    response_2: str
    ratings_1: Mapping[str, int | None] = field(default_factory=dict)
    ratings_2: Mapping[str, int | None] = field(default_factory=dict)
    preference_strength: int | None = None
    justification: str | None = None
    kept_preferences: tuple[KeptPreference, ...] = ()
    annotations: tuple[IndividualAnnotation, ...] = ()
    domain: str | None = None
    language: str | None = None
    judge: JudgeDraftValues | None = None


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*")


def split_justification(text: str) -> tuple[str, str]:
    """Split a justification into HelpSteer2-Preference's statement (first sentence) and elaboration (the rest).

    The first sentence ends at the first ``.``, ``!`` or ``?`` followed by white space, or at the first line break.

    Examples
    --------
    >>> split_justification("@Response 2 is better. It is correct and clear.")
    ('@Response 2 is better.', 'It is correct and clear.')
    >>> split_justification("Same.")
    ('Same.', '')
    """
    text = text.strip()
    match = _SENTENCE_END.search(text)
    if match is None:
        return text, ""
    return text[: match.start()].rstrip(), text[match.end() :].strip()
