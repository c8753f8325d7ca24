"""Shown terms ↔ response terms: the one mapping between what an annotator saw and what is stored.

Which response appears on the left is drawn per assignment (``Assignment.swapped``: True = response 2 on the left).
An annotator answers in *shown* terms (ratings ``{"left", "right"}``, strength negative = left better, "@Response 1"
= the left response); annotations are stored in *response* terms (ratings ``{"1", "2"}``, strength negative =
response 1 better, "@Response 1" = response 1). Every function here is its own inverse given ``swapped``. Pure: no
Django, so services (submission), selectors (showing a draft or an annotation back) and simulations share it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_MENTION = re.compile(r"@Response\s*([12])\b", re.IGNORECASE)


def shown_from_response_terms(
    *, swapped: bool, ratings: Mapping[str, Mapping[str, int]], preference_strength: int
) -> tuple[dict[str, dict[str, int]], int]:
    """Convert ratings ``{"1": ..., "2": ...}`` and a strength in response terms to shown (left/right) terms.

    >>> shown_from_response_terms(swapped=True, ratings={"1": {"h": 4}, "2": {"h": 1}}, preference_strength=-2)
    ({'left': {'h': 1}, 'right': {'h': 4}}, 2)
    """
    first, second = ("2", "1") if swapped else ("1", "2")
    shown = {"left": dict(ratings[first]), "right": dict(ratings[second])}
    return shown, -preference_strength if swapped else preference_strength


def response_from_shown_terms(
    *, swapped: bool, ratings_shown: Mapping[str, Mapping[str, int]], preference_strength: int
) -> tuple[dict[str, dict[str, int]], int]:
    """Convert ratings ``{"left": ..., "right": ...}`` and a shown strength to response terms (what is stored).

    >>> response_from_shown_terms(swapped=True, ratings_shown={"left": {"h": 1}, "right": {"h": 4}},
    ...                           preference_strength=2)
    ({'1': {'h': 4}, '2': {'h': 1}}, -2)
    """
    left, right = dict(ratings_shown["left"]), dict(ratings_shown["right"])
    stored = {"1": right, "2": left} if swapped else {"1": left, "2": right}
    return stored, -preference_strength if swapped else preference_strength


def justification_swap_terms(text: str, *, swapped: bool) -> str:
    """Swap "@Response 1" and "@Response 2" when the responses were shown swapped (either direction).

    >>> justification_swap_terms("@Response 1 beats @response2.", swapped=True)
    '@Response 2 beats @Response 1.'
    """
    if not swapped:
        return text
    return _MENTION.sub(lambda m: f"@Response {'2' if m.group(1) == '1' else '1'}", text)
