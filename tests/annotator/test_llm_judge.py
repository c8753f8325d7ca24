from __future__ import annotations

import json

import pytest

from annotator.domain import Turn
from annotator.llm.judge import (
    DEFAULT_TEMPLATE,
    AttributeScale,
    JudgeAnswerError,
    answer_schema,
    parse_answer,
    render_prompt,
    template_problems,
)

ATTRIBUTES = [AttributeScale("helpfulness", 0, 4, "Overall helpfulness."), AttributeScale("verbosity", 0, 4)]


def _answer(**changes: object) -> str:
    answer = {
        "response_1": {"helpfulness": 3, "verbosity": 2},
        "response_2": {"helpfulness": 1, "verbosity": 4},
        "preference_strength": -2,
        "confidence": 0.8,
        "reason": "Response 1 answers the question; Response 2 rambles.",
    }
    answer.update(changes)
    return json.dumps({k: v for k, v in answer.items() if v is not None})


def test_the_default_template_renders_the_attributes_schema_and_conversation() -> None:
    assert template_problems(DEFAULT_TEMPLATE) == []
    [turn] = render_prompt(DEFAULT_TEMPLATE, attributes=ATTRIBUTES, turns=[Turn("user", "How do I boil an egg?")],
                           response_1="Boil it.", response_2="Eggs are round.")  # fmt: skip
    assert turn.role == "user"
    assert "- helpfulness (0 to 4): Overall helpfulness." in turn.content
    assert "User: How do I boil an egg?" in turn.content
    assert json.dumps(answer_schema(ATTRIBUTES), indent=1) in turn.content
    assert "[Response 2]\nEggs are round." in turn.content


def test_template_problems_name_unknown_and_missing_placeholders_and_bad_braces() -> None:
    assert template_problems("{conversation} {response_1}") == ["missing placeholder {response_2}"]
    assert template_problems("{conversation} {response_1} {response_2} {oops}") == ["unknown placeholder {oops}"]
    assert "unbalanced braces" in template_problems("{conversation {response_1} {response_2}")[0]


def test_a_valid_answer_is_parsed_also_from_a_fenced_block() -> None:
    answer = parse_answer("Here you go:\n```json\n" + _answer() + "\n```", ATTRIBUTES)
    assert answer.ratings == {"1": {"helpfulness": 3, "verbosity": 2}, "2": {"helpfulness": 1, "verbosity": 4}}
    assert (answer.preference_strength, answer.confidence) == (-2, 0.8)
    assert parse_answer(_answer(confidence=None), ATTRIBUTES).confidence is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I think response 1 is better.", "not JSON"),
        ("[1, 2]", "not an object"),
        (_answer(preference_strength=5), "preference_strength is 5, outside -3 to 3"),
        (_answer(preference_strength=1.5), "whole number"),
        (_answer(response_1={"helpfulness": 3}), "response_1.verbosity is missing"),
        (_answer(response_2={"helpfulness": 1, "verbosity": 4, "tone": 2}), "unknown attributes: tone"),
        (_answer(confidence=1.7), "confidence is 1.7"),
        (_answer(reason=""), "reason must be a non-empty text"),
        (_answer(extra=1), "Unknown keys: extra"),
    ],
)
def test_answers_off_the_schema_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(JudgeAnswerError, match=reason):
        parse_answer(text, ATTRIBUTES)
