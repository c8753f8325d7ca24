"""Two small snapshot items shared by the export tests: a multi-turn train comparison with ratings and three
annotations (one not ratable), and a single-turn validation tie."""

from __future__ import annotations

import pytest

from annotator.exports import IndividualAnnotation, KeptPreference, SnapshotItem
from annotator.imports import Turn

ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def _ratings(*values: int | None) -> dict[str, int | None]:
    return dict(zip(ATTRIBUTES, values, strict=True))


def sample_items() -> list[SnapshotItem]:
    return [
        SnapshotItem(
            comparison_id="c1",
            split="train",
            turns=(Turn("user", "Hi"), Turn("assistant", "Hello!"), Turn("user", "c#")),
            response_1="C# is a language.",
            response_2="A note.",
            ratings_1=_ratings(4, 4, 4, 2, 1),
            ratings_2=_ratings(1, 2, 4, 1, None),
            preference_strength=-2,
            justification="@Response 1 is better. It answers the question.",
            kept_preferences=(
                KeptPreference(-2, "@Response 1 is better.", "It answers the question."),
                KeptPreference(-3, "@Response 1 is much better.", ""),
            ),
            annotations=(
                IndividualAnnotation(
                    "a1", _ratings(4, 4, 4, 2, 1), _ratings(1, 2, 4, 1, 0), -2, False, "@Response 1 is better."
                ),
                IndividualAnnotation("a2", _ratings(3, 4, 4, 2, 2), {}, -3, False, "@Response 1 is much better."),
                IndividualAnnotation("a3", {}, {}, None, True, "Not English."),
            ),
            domain="general",
            language="english",
        ),
        SnapshotItem(
            comparison_id="c2",
            split="validation",
            turns=(Turn("user", "2+2?"),),
            response_1="4",
            response_2="Four",
            ratings_1=_ratings(3, 4, 4, 0, 0),
            ratings_2=_ratings(3, 4, 4, 0, 1),
            preference_strength=0,
            justification="@Response 1 is about the same as @Response 2.",
            kept_preferences=(KeptPreference(0, "@Response 1 is about the same as @Response 2.", ""),),
            annotations=(IndividualAnnotation("a1", {}, {}, 0, False, "Same."),),
        ),
    ]


@pytest.fixture
def items() -> list[SnapshotItem]:
    return sample_items()
