"""The shown ↔ response mapping is pure and its own inverse."""

from __future__ import annotations

import doctest

import pytest

from annotator import domain, shown_terms
from annotator.shown_terms import justification_swap_terms, response_from_shown_terms, shown_from_response_terms


def test_the_module_examples_hold() -> None:
    for module in (shown_terms, domain):
        assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("swapped", [False, True])
@pytest.mark.parametrize("strength", range(domain.PREFERENCE_STRENGTH_MIN, domain.PREFERENCE_STRENGTH_MAX + 1))
def test_round_trip(swapped: bool, strength: int) -> None:
    stored = {"1": {"helpfulness": 4, "verbosity": 1}, "2": {"helpfulness": 0}}
    shown, shown_strength = shown_from_response_terms(swapped=swapped, ratings=stored, preference_strength=strength)
    assert shown["left"] == stored["2" if swapped else "1"]
    assert shown_strength == (-strength if swapped else strength)
    back, back_strength = response_from_shown_terms(
        swapped=swapped, ratings_shown=shown, preference_strength=shown_strength
    )
    assert (back, back_strength) == (stored, strength)


def test_justification_mentions_swap_only_when_swapped() -> None:
    text = "@Response 1 is clearer than @Response2; @response 1 wins."
    assert justification_swap_terms(text, swapped=False) == text
    swapped = justification_swap_terms(text, swapped=True)
    assert swapped == "@Response 2 is clearer than @Response 1; @Response 2 wins."
    assert (
        justification_swap_terms(swapped, swapped=True) == "@Response 1 is clearer than @Response 2; @Response 1 wins."
    )
